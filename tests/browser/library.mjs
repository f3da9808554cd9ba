// aigw.js itself, run in the page against the real stack: processAsyncJob,
// the API's errors as AigwError, 429/503/network retries (the answers
// faked with request interception), timeouts, abort-to-cancel, and
// subscribe()'s transports: the fallback from events to long-poll to
// polling on this server, and events read from a faked SSE stream.
import { args, run, newPage } from "./lib.mjs";

const { base, artifacts } = args(); // eslint-disable-line no-unused-vars
const FAKE_JOB = "11111111-2222-4333-8444-555555555555";

// Runs fn in the page; an exception there comes back as {thrown: {...}}.
const CATCH = `
window.__try = async (fn) => {
	try {
		return { value: await fn() };
	} catch (e) {
		return { thrown: { name: e.name, message: e.message, code: e.code, status: e.status, field: e.field,
			retryAfter: e.retryAfter, jobId: e.jobId, isAigwError: e instanceof aigw.AigwError,
			stateStatus: e.state ? e.state.status : null } };
	}
};`;

run("library", async (c, browser) => {
	const page = await newPage(browser);
	const requests = [];
	page.on("request", (r) => requests.push({ method: r.method(), url: r.url().replace(base, ""), headers: r.headers() }));
	await page.goto(base + "/index.html");
	await page.addScriptTag({ content: CATCH });
	const ev = (fn, arg) => page.evaluate(fn, arg);

	await c.step("classic script: a global aigw with the documented functions", async () => {
		const names = await ev(() => ["submitChat", "pollChat", "streamChat", "followChat", "cancelChat", "submitJob",
			"processAsyncJob", "cancelJob", "getJobTypes", "subscribe", "configure"].filter((f) => typeof aigw[f] !== "function"));
		return { ok: names.length === 0, detail: names };
	});

	await c.step("getJobTypes lists the declared types with inputs and steps", async () => {
		const t = await ev(() => aigw.getJobTypes());
		const ca = t.find((x) => x.name === "competitor_analysis");
		return { ok: !!ca && ca.input.company_name.required === true && ca.steps.length === 2 &&
			ca.steps[0].calls[0].provider === "perplexity", detail: t.map((x) => x.name) };
	});

	await c.step("processAsyncJob resolves with the result, reporting progress", async () => {
		const r = await ev(() => __try(async () => {
			const seen = [];
			let submitted = null;
			const result = await aigw.processAsyncJob(
				{ type: "competitor_analysis", input: { company_name: "Initech" } },
				{ pollInterval: 500, onProgress: (s) => seen.push([s.status, s.progress]), onSubmit: (j) => { submitted = j.id; } });
			return { result, seen, submitted };
		}));
		c.data.processAsyncJob = r;
		const v = r.value;
		const progress = v ? v.seen.map((s) => s[1]) : [];
		return {
			ok: !!v && typeof v.result.summary === "string" && v.result.summary.includes("Initech") && !!v.submitted &&
				progress.join() === [...progress].sort((a, b) => a - b).join() && progress.includes(40) &&
				v.seen[v.seen.length - 1].join() === "completed,100",
			detail: r,
		};
	});

	await c.step("a 400 is an AigwError with the API's code, sentence and field", async () => {
		const r = await ev(() => __try(() => aigw.submitJob("competitor_analysis", {})));
		const t = r.thrown || {};
		return { ok: t.isAigwError && t.status === 400 && t.code === "invalid_field" &&
			t.field === "input.company_name" && t.message.length > 5 && !/HTTP/.test(t.message), detail: r };
	});

	await c.step("processAsyncJob with an unknown type rejects with unknown_job_type", async () => {
		const r = await ev(() => __try(() => aigw.processAsyncJob({ type: "no_such_type", input: {} })));
		return { ok: r.thrown && r.thrown.code === "unknown_job_type" && r.thrown.status === 400, detail: r };
	});

	await c.step("submitChat with an unknown provider rejects with unknown_provider", async () => {
		const r = await ev(() => __try(() => aigw.submitChat("hi", { nosuch: "m" })));
		return { ok: r.thrown && r.thrown.code === "unknown_provider" && r.thrown.status === 400, detail: r };
	});

	await c.step("submitChat with an array of turns sends a conversation, answered as its last turn", async () => {
		const r = await ev(() => __try(async () => {
			const chat = await aigw.submitChat([{ role: "user", content: "Name a colour" },
				{ role: "assistant", content: "Blue." }, { role: "user", content: "Another one" }], { mock: "m" });
			return aigw.pollChat(chat.id, { intervalMs: 200 });
		}));
		const text = r.value && r.value.results && r.value.results.mock && r.value.results.mock.text;
		return { ok: !r.thrown && r.value.status === "completed" && /Another one/.test(text || ""), detail: r };
	});

	await c.step("submitChat with a conversation ending with the assistant rejects naming the turn", async () => {
		const r = await ev(() => __try(() => aigw.submitChat([{ role: "user", content: "a" },
			{ role: "assistant", content: "b" }], { mock: "m" })));
		return { ok: r.thrown && r.thrown.status === 400 && r.thrown.field === "messages[1].role", detail: r };
	});

	await c.step("pollChat of an unknown chat rejects with not_found", async () => {
		const r = await ev(() => __try(() => aigw.pollChat("00000000-0000-4000-8000-000000000000")));
		return { ok: r.thrown && r.thrown.code === "not_found" && r.thrown.status === 404, detail: r };
	});

	await c.step("a failed job rejects with job_failed and the job's error", async () => {
		const r = await ev(() => __try(() => aigw.processAsyncJob(
			{ type: "evidence_search", input: { claim: "Tabs beat spaces ~~perplexity~status=400" } }, { pollInterval: 300 })));
		const t = r.thrown || {};
		return { ok: t.code === "job_failed" && !!t.jobId && t.stateStatus === "failed" && /search|400/.test(t.message), detail: r };
	});

	await c.step("subscribe on this server: Server-Sent Events to the final state, no polling", async () => {
		requests.length = 0;
		const r = await ev(() => __try(async () => {
			const chat = await aigw.submitChat("Pick a colour", { openai: "gpt-4o~delay=1200", anthropic: "claude-3-5-haiku-latest" });
			const transports = [];
			const versions = [];
			const sub = aigw.subscribe("chat", chat.id, (s) => versions.push(s.version),
				{ intervalMs: 300, onTransport: (t) => transports.push(t) });
			const final = await sub.done;
			return { id: chat.id, transports, versions, status: final.status, results: Object.keys(final.results).sort() };
		}));
		const v = r.value || {};
		const urls = requests.map((x) => x.url);
		const events = urls.filter((u) => u.startsWith("/api/ai/chat/events?id=")).length;
		const polled = urls.filter((u) => u.startsWith("/api/ai/chat/status")).length;
		c.data.sse = { value: v, urls };
		return {
			ok: v.status === "completed" && v.results.join() === "anthropic,openai" &&
				v.transports.join() === "sse" && events === 1 && polled === 0 && v.versions.length >= 2 &&
				v.versions.join() === [...v.versions].sort((a, b) => a - b).join(),
			detail: { value: v, urls },
		};
	});

	await c.step("subscribe where the events URL answers 404: long-poll; where long-poll is ignored too: polling", async () => {
		await page.route("**/api/ai/chat/events?*", (route) => route.fulfill({ status: 404,
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ success: false, error: "not found", code: "not_found" }) }));
		const follow = () => ev(() => __try(async () => {
			const chat = await aigw.submitChat("Pick a shape", { openai: "gpt-4o~delay=1200", anthropic: "claude-3-5-haiku-latest" });
			const transports = [];
			const versions = [];
			const final = await aigw.subscribe("chat", chat.id, (s) => versions.push(s.version),
				{ intervalMs: 300, onTransport: (t) => transports.push(t) }).done;
			return { transports, versions, status: final.status };
		}));
		requests.length = 0;
		const longpoll = await follow();
		const waited = requests.some((x) => /\/api\/ai\/chat\/status\?id=[^&]+&wait=25&since=\d+/.test(x.url));
		// A server that ignores wait answers at once: the library polls.
		await page.route("**/api/ai/chat/status?*", (route) => route.continue({
			url: route.request().url().replace(/&wait=\d+&since=\d+/, "") }));
		const polling = await follow();
		await page.unroute("**/api/ai/chat/status?*");
		await page.unroute("**/api/ai/chat/events?*");
		const lp = longpoll.value || {}, pl = polling.value || {};
		const sorted = (xs) => xs.join() === [...xs].sort((a, b) => a - b).join();
		return {
			ok: lp.status === "completed" && lp.transports.join() === "longpoll" && waited && sorted(lp.versions) &&
				pl.status === "completed" && pl.transports.join() === "longpoll,poll" && sorted(pl.versions),
			detail: { longpoll, polling, waited },
		};
	});

	await c.step("subscribe over Server-Sent Events (a faked stream): events in order, reconnects with Last-Event-ID", async () => {
		let calls = 0;
		const lastIds = [];
		const state = (version, status, progress) => JSON.stringify({ id: FAKE_JOB, type: "t", status, progress, version,
			status_message: "step " + version, steps: [] });
		await page.route("**/api/jobs/" + FAKE_JOB + "/events", (route) => {
			calls++;
			lastIds.push(route.request().headers()["last-event-id"] || null);
			// The first connection drops after two events; the second ends with the final state.
			const body = calls === 1
				? ": hello\n\nevent: progress\nid: 1\ndata: " + state(1, "pending", 0) + "\n\n" +
				  "event: progress\nid: 2\ndata: " + state(2, "running", 40) + "\n\n"
				: "event: progress\nid: 3\r\ndata: " + state(3, "completed", 100) + "\r\n\r\n";
			return route.fulfill({ status: 200, headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-store" }, body });
		});
		requests.length = 0;
		const r = await ev((id) => __try(async () => {
			const got = [];
			const transports = [];
			const sub = aigw.subscribe("job", id, (s) => got.push([s.version, s.status, s.progress]),
				{ onTransport: (t) => transports.push(t) });
			const final = await sub.done;
			return { got, transports, final: final.status };
		}), FAKE_JOB);
		await page.unroute("**/api/jobs/" + FAKE_JOB + "/events");
		const polled = requests.filter((x) => x.url.includes("/status")).length;
		return {
			ok: r.value && r.value.final === "completed" && r.value.transports.join() === "sse" &&
				JSON.stringify(r.value.got) === JSON.stringify([[1, "pending", 0], [2, "running", 40], [3, "completed", 100]]) &&
				calls === 2 && lastIds[0] === null && lastIds[1] === "2" && polled === 0,
			detail: { r, calls, lastIds, polled },
		};
	});

	await c.step("subscribe where streamed fetch is missing (no ReadableStream): no events request, long-poll to the end", async () => {
		requests.length = 0;
		const r = await ev(() => __try(async () => {
			const saved = window.ReadableStream;
			window.ReadableStream = undefined;
			try {
				const chat = await aigw.submitChat("Hello", { openai: "gpt-4o~delay=1000" });
				const transports = [];
				const final = await aigw.subscribe("chat", chat.id, null, { intervalMs: 200, onTransport: (t) => transports.push(t) }).done;
				return { transports, status: final.status };
			} finally {
				window.ReadableStream = saved;
			}
		}));
		const asked = requests.some((x) => x.url.includes("/events"));
		return { ok: r.value && r.value.status === "completed" && !asked && r.value.transports.join() === "longpoll", detail: { r, asked } };
	});

	await c.step("429: waits Retry-After, then succeeds", async () => {
		let n = 0;
		await page.route("**/api/ai/chat", (route) => {
			if (route.request().method() === "POST" && n++ === 0) {
				return route.fulfill({ status: 429, headers: { "Retry-After": "1", "Content-Type": "application/json" },
					body: JSON.stringify({ success: false, error: "too many requests from this address; slow down", code: "rate_limited" }) });
			}
			return route.continue();
		});
		const r = await ev(() => __try(async () => {
			const retries = [];
			const t0 = performance.now();
			const chat = await aigw.submitChat("Hello again", { openai: "gpt-4o" }, { onRetry: (x) => retries.push(x) });
			return { id: chat.id, ms: performance.now() - t0, retries };
		}));
		await page.unroute("**/api/ai/chat");
		const v = r.value || {};
		return { ok: !!v.id && v.ms >= 950 && v.retries.length === 1 && v.retries[0].status === 429 && n === 2, detail: { r, n } };
	});

	await c.step("429 again and again: bounded, then the API's error", async () => {
		let n = 0;
		await page.route("**/api/jobtypes", (route) => {
			n++;
			return route.fulfill({ status: 429, headers: { "Retry-After": "0", "Content-Type": "application/json" },
				body: JSON.stringify({ success: false, error: "you have too many jobs running", code: "too_many_active_jobs" }) });
		});
		const r = await ev(() => __try(() => aigw.getJobTypes()));
		await page.unroute("**/api/jobtypes");
		return { ok: r.thrown && r.thrown.code === "too_many_active_jobs" && r.thrown.status === 429 && n === 4, detail: { r, n } };
	});

	await c.step("503: backs off and retries, then succeeds", async () => {
		let n = 0;
		await page.route("**/api/jobtypes", (route) => {
			if (n++ < 2) {
				return route.fulfill({ status: 503, headers: { "Content-Type": "application/json" },
					body: JSON.stringify({ success: false, error: "the database cannot be reached", code: "unavailable" }) });
			}
			return route.continue();
		});
		const r = await ev(() => __try(async () => {
			aigw.configure({ backoffMs: 100 });
			try {
				return (await aigw.getJobTypes()).length;
			} finally {
				aigw.configure({ backoffMs: 500 });
			}
		}));
		await page.unroute("**/api/jobtypes");
		return { ok: r.value >= 5 && n === 3, detail: { r, n } };
	});

	await c.step("network loss: retried with backoff, then a clear network_error", async () => {
		let n = 0;
		await page.route("**/api/jobtypes", (route) => {
			n++;
			return route.abort("internetdisconnected");
		});
		const r = await ev(() => __try(async () => {
			aigw.configure({ backoffMs: 100 });
			try {
				return await aigw.getJobTypes();
			} finally {
				aigw.configure({ backoffMs: 500 });
			}
		}));
		await page.unroute("**/api/jobtypes");
		const t = r.thrown || {};
		return { ok: t.code === "network_error" && /could not be reached/.test(t.message) && /4 attempts/.test(t.message) && n === 4,
			detail: { r, n } };
	});

	await c.step("a chat submit is not retried after a network failure (it might have been stored)", async () => {
		let n = 0;
		await page.route("**/api/ai/chat", (route) => {
			n++;
			return route.abort("connectionreset");
		});
		const r = await ev(() => __try(() => aigw.submitChat("x", { openai: "gpt-4o" })));
		await page.unroute("**/api/ai/chat");
		return { ok: r.thrown && r.thrown.code === "network_error" && n === 1, detail: { r, n } };
	});

	await c.step("a job submit retried after a network failure sends the same Idempotency-Key", async () => {
		let n = 0;
		const keys = [];
		await page.route("**/api/jobs", async (route) => {
			keys.push(route.request().headers()["idempotency-key"]);
			// The first attempt reaches aigw but its answer is lost.
			if (n++ === 0) {
				await route.fetch();
				return route.abort("connectionreset");
			}
			return route.continue();
		});
		const r = await ev(() => __try(async () => {
			const j = await aigw.submitJob("evidence_search", { claim: "Water is wet" });
			return { id: j.id, key: j.idempotencyKey };
		}));
		await page.unroute("**/api/jobs");
		return { ok: r.value && keys.length === 2 && keys[0] === keys[1] && keys[0] === r.value.key && !!r.value.id, detail: { r, keys } };
	});

	await c.step("pollChat gives up with a timeout error, keeping the last state", async () => {
		const r = await ev(() => __try(async () => {
			const chat = await aigw.submitChat("Slow one", { openai: "gpt-4o~delay=6000" });
			return aigw.pollChat(chat.id, { intervalMs: 200, timeoutMs: 1500 });
		}));
		const t = r.thrown || {};
		return { ok: t.code === "timeout" && /1 s|2 s/.test(t.message) && !!t.stateStatus, detail: r };
	});

	await c.step("maxPollAttempts bounds processAsyncJob's polling", async () => {
		const r = await ev(() => __try(() => aigw.processAsyncJob(
			{ type: "evidence_search", input: { claim: "Slow claim ~~perplexity~delay=5000" } },
			{ transport: "poll", pollInterval: 100, maxPollAttempts: 3 })));
		const t = r.thrown || {};
		if (t.jobId) await ev((id) => aigw.cancelJob(id), t.jobId);
		return { ok: t.code === "timeout" && /3 polls/.test(t.message) && !!t.jobId, detail: r };
	});

	await c.step("aborting processAsyncJob cancels the job on the server", async () => {
		requests.length = 0;
		const r = await ev(() => __try(async () => {
			const ctl = new AbortController();
			let id = null;
			const p = aigw.processAsyncJob(
				{ type: "evidence_search", input: { claim: "Abort me ~~perplexity~delay=8000" } },
				{ signal: ctl.signal, pollInterval: 200, onSubmit: (j) => { id = j.id; setTimeout(() => ctl.abort(), 700); } });
			try {
				await p;
				return { resolved: true };
			} catch (e) {
				const job = await aigw.getJobStatus(id);
				return { name: e.name, code: e.code, jobId: e.jobId, id, serverStatus: job.status };
			}
		}));
		const v = r.value || {};
		const cancelPost = requests.some((x) => x.method === "POST" && x.url === "/api/jobs/" + v.id + "/cancel");
		return { ok: v.name === "AbortError" && v.code === "aborted" && v.jobId === v.id && v.serverStatus === "cancelled" && cancelPost,
			detail: { r, cancelPost } };
	});

	c.check("no uncaught exceptions in the page", page.pageErrors.filter((e) => !e.startsWith("console:")).length === 0,
		page.pageErrors);
});
