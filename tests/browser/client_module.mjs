// aigw.mjs in a browser: imported by a page from aigw's own nginx (served
// as JavaScript, the same default client as the classic script), and by a
// front end on another origin (https://front.test, listed in the stack's
// AIGW_CORS_ORIGINS; its pages are answered by request interception, as a
// front end that ships the published package) whose two clients talk to
// two base URLs of aigw, each with its own token, streaming chats through
// CORS. A page on an unlisted origin (https://evil.test) cannot read aigw.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { args, run, newPage } from "./lib.mjs";

const { base } = args();
const HTML_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "nginx", "html");
// Two base URLs of the one aigw: different origins to the browser.
const BASE_A = base;
const BASE_B = base.replace("127.0.0.1", "localhost");

const PAGE = `<!doctype html><meta charset="utf-8"><title>front end</title>
<script type="module">
import aigw, { create, AigwError } from "./aigw.mjs";
window.clients = {
	a: create({ baseUrl: ${JSON.stringify(BASE_A)}, token: "token-a", retries: 0 }),
	b: create({ baseUrl: ${JSON.stringify(BASE_B)}, token: "token-b", retries: 0 }),
	aigw, AigwError,
};
window.ready = true;
</script>`;

/** A page of origin (answered here: / is PAGE, /aigw.* the client's
 *  files) allowed to reach aigw on loopback, as a user would allow a front
 *  end (Chromium's local network access, which also wants a secure page:
 *  https), so that only CORS decides. */
async function frontEnd(browser, origin) {
	const context = await browser.newContext({ permissions: ["local-network-access"] });
	const page = await context.newPage();
	page.pageErrors = [];
	page.on("pageerror", (e) => page.pageErrors.push(String(e)));
	await page.route(origin + "/**", (route) => {
		const p = new URL(route.request().url()).pathname;
		if (p === "/") return route.fulfill({ status: 200, contentType: "text/html", body: PAGE });
		if (p === "/aigw.mjs" || p === "/aigw.js")
			return route.fulfill({ status: 200, contentType: "text/javascript", body: fs.readFileSync(path.join(HTML_DIR, p)) });
		return route.fulfill({ status: 404, body: "" });
	});
	await page.goto(origin + "/");
	await page.waitForFunction(() => window.ready === true, null, { timeout: 10000 });
	return page;
}

run("client_module", async (c, browser) => {
	await c.step("aigw's own page imports /aigw.mjs (JavaScript): the classic script's client, by name too", async () => {
		const page = await newPage(browser);
		const res = [];
		page.on("response", (r) => { if (r.url().endsWith("/aigw.mjs")) res.push(r.headers()["content-type"]); });
		await page.goto(base + "/index.html");
		const r = await page.evaluate(async () => {
			const m = await import("/aigw.mjs");
			return {
				same: m.default === window.aigw, create: typeof m.create, named: m.submitChat === window.aigw.submitChat,
				version: m.version, jobtypes: (await m.getJobTypes()).length,
			};
		});
		await page.context().close();
		return { ok: r.same && r.create === "function" && r.named && r.jobtypes > 0 && /javascript/.test(res[0] || ""), detail: { r, res } };
	});

	const page = await frontEnd(browser, "https://front.test");
	const seen = [];
	page.on("request", (r) => {
		if (/\/api\//.test(r.url())) seen.push({ method: r.method(), url: r.url(), auth: r.headers().authorization || null });
	});

	await c.step("a front end on a listed origin: two clients, two base URLs, two tokens, chats streamed through CORS", async () => {
		const r = await page.evaluate(async () => {
			const { a, b } = window.clients;
			const go = async (cl, word) => {
				const deltas = [];
				const s = await cl.streamChat("Say " + word, { mock: "m" }, {
					onDelta: (p, text) => deltas.push(text.length), timeoutMs: 30000,
				});
				return { status: s.status, text: s.results.mock && s.results.mock.text, deltas: deltas.length };
			};
			const [ra, rb] = await Promise.all([go(a, "alpha"), go(b, "bravo")]);
			return { ra, rb, baseA: a.configure().baseUrl, baseB: b.configure().baseUrl, defaultBase: window.clients.aigw.configure().baseUrl };
		});
		const toA = seen.filter((s) => s.url.startsWith(BASE_A + "/"));
		const toB = seen.filter((s) => s.url.startsWith(BASE_B + "/"));
		c.data.requests = seen;
		return {
			ok: page.pageErrors.length === 0 && r.ra.status === "completed" && /alpha/.test(r.ra.text || "") && r.rb.status === "completed" &&
				/bravo/.test(r.rb.text || "") && toA.length > 0 && toB.length > 0 &&
				toA.every((s) => s.auth === "Bearer token-a") && toB.every((s) => s.auth === "Bearer token-b") &&
				r.defaultBase === "" && toA.some((s) => /\/events/.test(s.url)),
			detail: { r, toA: toA.length, toB: toB.length, errors: page.pageErrors },
		};
	});

	await c.step("an API error crosses origins readable: status, code and X-Request-Id", async () => {
		const r = await page.evaluate(async () => {
			try {
				await window.clients.b.submitChat("hi", { nosuch: "m" });
				return { thrown: null };
			} catch (e) {
				return { thrown: { code: e.code, status: e.status, requestId: e.requestId, isAigw: e instanceof window.clients.AigwError } };
			}
		});
		const t = r.thrown || {};
		return { ok: t.code === "unknown_provider" && t.status === 400 && !!t.requestId && t.isAigw, detail: r };
	});
	await page.context().close();

	await c.step("a page on an unlisted origin cannot read aigw (network_error, as the browser hides the answer)", async () => {
		const evil = await frontEnd(browser, "https://evil.test");
		const r = await evil.evaluate(async () => {
			try {
				await window.clients.a.getJobTypes();
				return { thrown: null };
			} catch (e) {
				return { thrown: { code: e.code } };
			}
		});
		await evil.context().close();
		return { ok: r.thrown && r.thrown.code === "network_error", detail: r };
	});
});
