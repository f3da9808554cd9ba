// aigw.js and markdown.js in node, without a browser or a server: the
// streamed texts rebuilt from recorded event sequences (deltas, resets,
// repeats, final results; chats and job steps), subscribe() over a faked
// event stream cut at every event and resumed with Last-Event-ID, the
// long-poll fallback reading `streaming` text, streamChat's abort that
// cancels on the server, and Markdown that cannot carry a script or a
// javascript: link. Prints the scenarios' JSON line (see lib.mjs).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const aigw = require("../../nginx/html/aigw.js");
const markdown = require("../../nginx/html/markdown.js");

const checks = [];
const data = {};
const check = (name, ok, detail) => checks.push({ name, ok: !!ok, detail: detail === undefined ? null : detail });
async function step(name, fn) {
	try {
		const r = await fn();
		check(name, r.ok, r.detail);
	} catch (e) {
		check(name, false, String(e && e.stack ? e.stack.split("\n").slice(0, 5).join(" | ") : e));
	}
}

aigw.configure({ backoffMs: 1, maxBackoffMs: 2 });

// ------------------------------------------------------------ recordings

const CHAT = "0b7c1f6e-3a52-4c39-9f0e-0d1f2e3a4b5c";
const status = (version, st, results, pending) => ({
	success: true, chatId: CHAT, status: st, version, results, pending,
});
const STREAMING = { ok: null, streaming: true };

// One chat: openai and anthropic stream; anthropic's stream breaks after
// some text and its answer restarts (a reset); gemini fails.
const RECORDING = [
	["progress", 1, status(1, "pending", {}, ["openai", "anthropic", "gemini"])],
	["progress", 2, status(2, "processing", {}, ["openai", "anthropic", "gemini"])],
	["delta", 3, { provider: "openai", text: "Rust ", seq: 3 }],
	["delta", 4, { provider: "anthropic", text: "Go is", seq: 4 }],
	["delta", 5, { provider: "openai", text: "compiles ", seq: 5 }],
	["progress", 6, status(6, "processing", { openai: STREAMING, anthropic: STREAMING }, ["openai", "anthropic", "gemini"])],
	["delta", 7, { provider: "anthropic", text: " simple", seq: 7 }],
	["reset", 8, { provider: "anthropic", seq: 8 }],
	["delta", 9, { provider: "openai", text: "slowly.", seq: 9 }],
	["delta", 10, { provider: "anthropic", text: "Go is fast", seq: 10 }],
	["progress", 11, status(11, "processing", {
		openai: { ok: true, text: "Rust compiles slowly.", model: "gpt-4o" }, anthropic: STREAMING,
		gemini: { ok: false, error: "gemini returned 400", attempts: 1 },
	}, ["anthropic"])],
	["delta", 12, { provider: "anthropic", text: " to build.", seq: 12 }],
	["progress", 13, status(13, "completed", {
		openai: { ok: true, text: "Rust compiles slowly.", model: "gpt-4o" },
		anthropic: { ok: true, text: "Go is fast to build.", model: "claude" },
		gemini: { ok: false, error: "gemini returned 400", attempts: 1 },
	}, [])],
];
const FINAL_TEXTS = { openai: "Rust compiles slowly.", anthropic: "Go is fast to build.", gemini: "" };

function frame([event, id, body]) {
	return `event: ${event}\nid: ${id}\ndata: ${JSON.stringify(body)}\n\n`;
}
function endFrame() {
	return `event: end\ndata: {"status": "completed", "version": 13}\n\n`;
}

// A text/event-stream Response of these frames, split into chunks at the
// given offsets; hangs open at the end unless `close`.
function sseResponse(text, cuts, close, signal) {
	const parts = [];
	let at = 0;
	for (const c of [...cuts, text.length]) {
		if (c > at) parts.push(text.slice(at, c));
		at = Math.max(at, c);
	}
	const enc = new TextEncoder();
	const body = new ReadableStream({
		pull(ctl) {
			if (parts.length) return ctl.enqueue(enc.encode(parts.shift()));
			if (close) return ctl.close();
			return new Promise((resolve) => {
				if (signal) signal.addEventListener("abort", () => { ctl.error(new Error("aborted")); resolve(); });
			});
		},
	});
	return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

const json = (status, body) => new Response(JSON.stringify(body), {
	status, headers: { "Content-Type": "application/json" },
});

function randomCuts(len, n, seed) {
	let x = seed;
	const out = [];
	for (let i = 0; i < n; i++) {
		x = (x * 1103515245 + 12345) % 2147483648;
		out.push(x % len);
	}
	return out.sort((a, b) => a - b);
}

// ------------------------------------------------------------ checks

await step("StreamText: deltas append, a reset clears, repeats are dropped, final results replace", async () => {
	const t = new aigw.StreamText();
	const seen = [];
	for (const [event, , body] of RECORDING) {
		const changes = event === "progress" ? t.applyStatus(body) : t.applyPiece(event, body);
		for (const c of changes) seen.push([c.provider, c.text]);
		if (event === "delta" && body.seq === 5) {
			const again = t.applyPiece("delta", { provider: "openai", text: "compiles ", seq: 5 });
			if (again.length) return { ok: false, detail: "a repeated piece was applied" };
		}
	}
	const texts = Object.fromEntries(["openai", "anthropic", "gemini"].map((p) => [p, t.get(p)]));
	const anthropic = seen.filter((s) => s[0] === "anthropic").map((s) => s[1]);
	return {
		ok: JSON.stringify(texts) === JSON.stringify(FINAL_TEXTS) &&
			JSON.stringify(anthropic) === JSON.stringify(["Go is", "Go is simple", "", "Go is fast", "Go is fast to build."]),
		detail: { texts, anthropic },
	};
});

await step("StreamText: a progress without text (event streams) keeps the text; long-poll text replaces it", async () => {
	const t = new aigw.StreamText();
	t.applyPiece("delta", { provider: "openai", text: "abc", seq: 1 });
	const a = t.applyStatus(status(2, "processing", { openai: STREAMING }, ["openai"]));
	const b = t.applyStatus(status(3, "processing", { openai: { ok: null, streaming: true, text: "abcdef" } }, ["openai"]));
	return { ok: a.length === 0 && b.length === 1 && t.get("openai") === "abcdef", detail: { a, b, text: t.get("openai") } };
});

await step("StreamText: job pieces are kept per step and provider", async () => {
	const t = new aigw.StreamText();
	t.applyPiece("delta", { provider: "perplexity", step: 0, text: "one", seq: 4 });
	t.applyPiece("delta", { provider: "openai", step: 1, text: "two", seq: 9 });
	t.applyPiece("delta", { provider: "perplexity", step: 1, text: "three", seq: 10 });
	t.applyPiece("reset", { provider: "openai", step: 1, seq: 11 });
	t.applyPiece("delta", { provider: "openai", step: 1, text: "TWO", seq: 12 });
	const got = [t.get("perplexity", 0), t.get("openai", 1), t.get("perplexity", 1), t.get("openai", 0)];
	return { ok: got.join("|") === "one|TWO|three|", detail: got };
});

// subscribe() over events, the connection cut after each event in turn:
// the reconnect must send the last id seen and the texts must come out
// whole, each piece applied once.
await step("subscribe: a stream cut after any event resumes with Last-Event-ID, nothing lost or repeated", async () => {
	const failures = [];
	for (let cut = 1; cut < RECORDING.length; cut++) {
		const asked = [];
		const orig = globalThis.fetch;
		globalThis.fetch = async (url, init) => {
			const last = init.headers["Last-Event-ID"];
			asked.push(last === undefined ? null : last);
			if (last === undefined) {
				const head = RECORDING.slice(0, cut).map(frame).join("");
				return sseResponse(head, randomCuts(head.length, 6, cut), true, init.signal);
			}
			const rest = RECORDING.filter((e) => e[1] > Number(last)).map(frame).join("") + endFrame();
			return sseResponse(rest, randomCuts(rest.length, 6, cut + 100), true, init.signal);
		};
		try {
			const deltas = {};
			const updates = [];
			const sub = aigw.subscribe(CHAT, {
				onUpdate: (s) => updates.push(s.version),
				onDelta: (p, text) => { (deltas[p] = deltas[p] || []).push(text); },
				timeoutMs: 5000,
			});
			const final = await sub.done;
			const texts = Object.fromEntries(Object.keys(FINAL_TEXTS).map((p) => [p, sub.text(p)]));
			const openai = deltas.openai || [];
			const ok = final.status === "completed" && JSON.stringify(texts) === JSON.stringify(FINAL_TEXTS) &&
				asked.length === 2 && asked[1] === String(RECORDING[cut - 1][1]) &&
				JSON.stringify(openai) === JSON.stringify(["Rust ", "Rust compiles ", "Rust compiles slowly."]) &&
				JSON.stringify(updates) === JSON.stringify([1, 2, 6, 11, 13]);
			if (!ok) failures.push({ cut, asked, texts, deltas, updates });
		} finally {
			globalThis.fetch = orig;
		}
	}
	return { ok: failures.length === 0, detail: failures.slice(0, 3) };
});

await step("subscribe: without an event stream, long-poll shows the streaming text growing", async () => {
	const states = [
		status(1, "processing", { openai: { ok: null, streaming: true, text: "He" } }, ["openai"]),
		status(2, "processing", { openai: { ok: null, streaming: true, text: "Hello, w" } }, ["openai"]),
		status(3, "completed", { openai: { ok: true, text: "Hello, world" } }, []),
	];
	const orig = globalThis.fetch;
	let polls = 0;
	globalThis.fetch = async (url) => {
		if (url.includes("/events")) return json(404, { success: false, code: "not_found", error: "no" });
		return json(200, states[Math.min(polls++, states.length - 1)]);
	};
	try {
		const seen = [];
		const sub = aigw.subscribe("chat", CHAT, null, { onDelta: (p, t) => seen.push(t), timeoutMs: 5000 });
		const final = await sub.done;
		return { ok: final.status === "completed" && sub.transport === "longpoll" &&
			seen.join("|") === "He|Hello, w|Hello, world", detail: { seen, transport: sub.transport } };
	} finally {
		globalThis.fetch = orig;
	}
});

await step("streamChat: aborting the signal cancels on the server and resolves with the cancelled state", async () => {
	const orig = globalThis.fetch;
	const calls = [];
	const cancelled = status(9, "cancelled", {
		openai: { ok: true, cancelled: true, text: "Rust compiles " },
		anthropic: { ok: false, cancelled: true, error: "cancelled before it answered", errorClass: "cancelled" },
	}, []);
	globalThis.fetch = async (url, init) => {
		calls.push([init.method || "GET", url]);
		if (url === "/api/ai/chat" && init.method === "POST") return json(202, { success: true, chatId: CHAT, status: "pending" });
		if (url.startsWith("/api/ai/chat/events")) {
			const head = RECORDING.slice(0, 5).map(frame).join("");
			return sseResponse(head, [], false, init.signal);
		}
		if (url === "/api/ai/chat/cancel?id=" + CHAT && init.method === "POST") return json(200, cancelled);
		return json(404, { success: false, code: "not_found", error: "unexpected " + url });
	};
	try {
		const ctl = new AbortController();
		const updates = [];
		let submitted = null;
		const result = await aigw.streamChat("compare", { openai: "gpt-4o", anthropic: "claude" }, {
			signal: ctl.signal,
			onSubmit: (c) => { submitted = c.id; },
			onUpdate: (s) => updates.push(s.status),
			onDelta: (p, text) => { if (p === "openai" && text === "Rust compiles ") ctl.abort(); },
			timeoutMs: 5000,
		});
		const cancelCall = calls.find((c) => c[1].startsWith("/api/ai/chat/cancel"));
		return {
			ok: result.status === "cancelled" && submitted === CHAT && !!cancelCall && cancelCall[0] === "POST" &&
				updates[updates.length - 1] === "cancelled" && result.results.openai.text === "Rust compiles ",
			detail: { status: result.status, calls, updates },
		};
	} finally {
		globalThis.fetch = orig;
	}
});

await step("cancelChat: POST /api/ai/chat/cancel?id=", async () => {
	const orig = globalThis.fetch;
	let seen = null;
	globalThis.fetch = async (url, init) => {
		seen = [init.method, url];
		return json(200, status(4, "cancelled", {}, []));
	};
	try {
		const r = await aigw.cancelChat(CHAT);
		return { ok: r.status === "cancelled" && seen[0] === "POST" && seen[1] === "/api/ai/chat/cancel?id=" + CHAT, detail: seen };
	} finally {
		globalThis.fetch = orig;
	}
});

// ------------------------------------------------------------ Markdown

const ATTACKS = [
	"<script>alert(1)</script>",
	"hello <img src=x onerror=alert(1)> world",
	"<a href=\"javascript:alert(1)\">x</a>",
	"[click](javascript:alert(1))",
	"[click](JaVaScRiPt:alert(1))",
	"[click](  javascript:alert(1))",
	"[click](java\tscript:alert(1))",
	"[click](&#106;avascript:alert(1))",
	"[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
	"[click](vbscript:msgbox(1))",
	"<javascript:alert(1)>",
	"[ref]\n\n[ref]: javascript:alert(1)",
	"![x](https://tracker.example/pixel.png)",
	"<iframe src=https://evil.example></iframe>",
	"<svg onload=alert(1)>",
	"```html\n<script>alert(1)</script>\n```",
	"<style>body{display:none}</style>",
];

await step("markdown: raw HTML, script and non-http links render inert", async () => {
	const bad = [];
	for (const a of ATTACKS) {
		const html = markdown.render(a);
		if (/<(script|img|iframe|svg|style)\b/i.test(html) || /<[^>]*\son\w+\s*=/i.test(html) ||
			/href="(?!https?:\/\/)/i.test(html)) bad.push([a, html]);
	}
	return { ok: bad.length === 0, detail: bad };
});

await step("markdown: ordinary Markdown still renders (emphasis, lists, code, http links)", async () => {
	const html = markdown.render("**Rust** and _Go_\n\n- one\n- two\n\n`x < y`\n\n[docs](https://go.dev/doc)");
	return {
		ok: /<strong>Rust<\/strong>/.test(html) && /<em>Go<\/em>/.test(html) && /<li>one<\/li>/.test(html) &&
			/<code>x &lt; y<\/code>/.test(html) && /<a href="https:\/\/go.dev\/doc">docs<\/a>/.test(html),
		detail: html,
	};
});

// ------------------------------------------------------------ instances, module

await step("create: two clients, each with its own base URL and token; the default unchanged", async () => {
	const calls = [];
	const orig = globalThis.fetch;
	globalThis.fetch = async (url, init) => {
		calls.push([url, init.headers.Authorization || null]);
		return new Response(JSON.stringify({ success: true, jobtypes: [{ name: url.split("/")[2] || "own" }] }),
			{ status: 200, headers: { "Content-Type": "application/json" } });
	};
	try {
		const a = aigw.create({ baseUrl: "https://a.example/", token: "key-a" });
		const b = aigw.create({ baseUrl: "https://b.example", token: "key-b", retries: 0 });
		await a.getJobTypes();
		await b.getJobTypes();
		await aigw.getJobTypes();
		const want = [
			["https://a.example/api/jobtypes", "Bearer key-a"],
			["https://b.example/api/jobtypes", "Bearer key-b"],
			["/api/jobtypes", null],
		];
		let threw = null;
		try {
			aigw.create({ baseURL: "typo" });
		} catch (e) {
			threw = e instanceof TypeError;
		}
		return {
			ok: JSON.stringify(calls) === JSON.stringify(want) && a.configure().retries === 3 &&
				b.configure().retries === 0 && aigw.configure().token === null && a.AigwError === aigw.AigwError &&
				threw === true,
			detail: { calls, threw },
		};
	} finally {
		globalThis.fetch = orig;
	}
});

await step("aigw.mjs: the same default client, its functions by name, and one version everywhere", async () => {
	const mod = await import("../../nginx/html/aigw.mjs");
	const { readFile } = await import("node:fs/promises");
	const pkg = JSON.parse(await readFile(new URL("../../nginx/html/package.json", import.meta.url), "utf8"));
	const names = Object.keys(aigw).filter((k) => !(k in mod));
	return {
		ok: mod.default === aigw && mod.create === aigw.create && mod.submitChat === aigw.submitChat &&
			names.length === 0 && pkg.version === aigw.version && mod.version === aigw.version,
		detail: { missing: names, pkg: pkg.version, lib: aigw.version },
	};
});

const ok = checks.length > 0 && checks.every((c) => c.ok);
process.stdout.write(JSON.stringify({ scenario: "client_units", ok, checks, data }) + "\n");
process.exitCode = ok ? 0 : 1;
