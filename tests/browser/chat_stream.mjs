// The chat page with streamed answers (mock providers writing `words=N`
// more words at `tps=N` tokens per second): the text grows in three cards
// at once (screenshots at two moments), a reload in the middle of the
// stream follows the same chat (#<id>) to its full text, Stop cancels the
// chat on the server and keeps the text so far; cards side by side on a
// wide screen and stacked on a phone; dark mode; Ctrl+Enter sends; past
// chats listed, an expired one dropped; Markdown put into the page without
// a script, a handler or a javascript: link.
import { args, run, newPage, screenshot, PHONE } from "./lib.mjs";
import { sendChat } from "./chat_common.mjs";

const { base, artifacts } = args();
const MESSAGE = "Compare Rust and Go for command line tools";
const GROW = {
	openai: "gpt-4o~words=60~tps=12",
	anthropic: "claude-3-5-haiku-latest~words=60~tps=9",
	gemini: "gemini-2.5-flash~words=60~tps=10",
};

const norm = (s) => String(s || "").replace(/\s+/g, " ").trim();

// What each card shows now: {provider: {state, text}}.
const view = (page) => page.evaluate(() => Object.fromEntries([...document.querySelectorAll(".card")].map((c) => [
	c.getAttribute("data-provider"),
	{ state: c.getAttribute("data-state"), text: (c.querySelector(".answer") || {}).textContent || "" },
])));

// The chat as the server has it now.
const serverChat = (page, id) => page.evaluate((chatId) => aigw.getChat(chatId), id);

const waitFinal = (page, ms = 60000) => page.waitForSelector("#results[data-final]", { timeout: ms })
	.then(() => page.evaluate(() => ({
		final: document.querySelector("#results").getAttribute("data-final"),
		chatId: document.querySelector("#results").getAttribute("data-chat-id"),
		status: document.querySelector("#state").textContent,
	})));

run("chat_stream", async (c, browser) => {
	// ------------------------------------------------ text growing in three cards
	const page = await newPage(browser);
	await sendChat(page, base, MESSAGE, GROW);
	await page.waitForFunction(() => {
		const cards = [...document.querySelectorAll(".card")];
		return cards.length === 3 && cards.every((x) => x.getAttribute("data-state") === "streaming" &&
			(x.querySelector(".answer") || {}).textContent.length > 20);
	}, null, { timeout: 60000 });
	const first = await view(page);
	await screenshot(page, artifacts, "chat-stream-1");
	await page.waitForTimeout(1200);
	const second = await view(page);
	await screenshot(page, artifacts, "chat-stream-2");
	c.data.growing = { first, second };
	for (const p of Object.keys(GROW)) {
		c.check(`${p}: text longer at the second moment, still streaming at the first`,
			first[p].state === "streaming" && second[p].text.length > first[p].text.length,
			[first[p], second[p]]);
	}
	const layout = await page.evaluate(() => [...document.querySelectorAll(".card")].map((x) => {
		const r = x.getBoundingClientRect();
		return { x: Math.round(r.left), y: Math.round(r.top) };
	}));
	c.check("wide screen: the three cards side by side", new Set(layout.map((l) => l.y)).size === 1 &&
		new Set(layout.map((l) => l.x)).size === 3, layout);
	const v1 = await waitFinal(page);
	c.check("streamed chat completed", v1.final === "completed", v1);
	const s1 = await serverChat(page, v1.chatId);
	const done1 = await view(page);
	for (const p of Object.keys(GROW)) {
		const full = norm(s1.results[p].text);
		c.check(`${p}: the streamed text was a beginning of the answer`, full.startsWith(norm(first[p].text)),
			[first[p].text, full]);
		c.check(`${p}: the card ends with the whole answer`, done1[p].state === "done" && norm(done1[p].text) === full &&
			full.split(" ").length > 60, [done1[p], full]);
	}
	c.check("the chat id is in the URL", (await page.evaluate(() => location.hash)) === "#" + v1.chatId);
	await page.setViewportSize(PHONE);
	const phone = await page.evaluate(() => [...document.querySelectorAll(".card")].map((x) => {
		const r = x.getBoundingClientRect();
		return { x: Math.round(r.left), y: Math.round(r.top) };
	}));
	c.check("phone: the cards stacked", new Set(phone.map((l) => l.x)).size === 1 &&
		phone[0].y < phone[1].y && phone[1].y < phone[2].y, phone);
	await screenshot(page, artifacts, "chat-stream-phone");
	c.check("no script errors (streaming)", page.pageErrors.length === 0, page.pageErrors);

	// ------------------------------------------------ reload in the middle
	const gone = "6f2d0c1a-9b8e-4c7d-a5f4-3e2d1c0b9a88";
	const rl = await newPage(browser);
	await rl.addInitScript((id) => {
		if (!sessionStorage.getItem("seeded")) {
			sessionStorage.setItem("seeded", "1");
			localStorage.setItem("aigw.chats", JSON.stringify([{ id, message: "an expired chat", time: Date.now() - 7200e3 }]));
		}
	}, gone);
	await sendChat(rl, base, "Reload me", { openai: "gpt-4o~words=70~tps=10", anthropic: "claude-3-5-haiku-latest~words=70~tps=8" });
	await rl.waitForFunction(() => {
		const a = document.querySelector('.card[data-provider="anthropic"] .answer');
		return a && a.textContent.length > 40;
	}, null, { timeout: 60000 });
	const chatId = await rl.evaluate(() => document.querySelector("#results").getAttribute("data-chat-id"));
	const before = await view(rl);
	await rl.reload();
	await rl.waitForSelector('.card[data-provider="anthropic"] .answer', { timeout: 10000 });
	const after = await view(rl);
	c.data.reload = { before, after };
	c.check("reload: the same chat is shown (from the URL)",
		(await rl.evaluate(() => document.querySelector("#results").getAttribute("data-chat-id"))) === chatId, chatId);
	c.check("reload: the text is back at once, before the answer ends",
		after.anthropic.text.length > 0 && after.anthropic.state !== "done", [before.anthropic, after.anthropic]);
	const v2 = await waitFinal(rl);
	const s2 = await serverChat(rl, chatId);
	const done2 = await view(rl);
	c.check("reload: the chat finishes", v2.final === "completed", v2);
	// (A retried attempt, after a reset, writes the same text again: the
	// mock's answers are deterministic, so both are beginnings of it.)
	c.check("reload: the text after the reload was a beginning of the answer",
		norm(s2.results.anthropic.text).startsWith(norm(after.anthropic.text)), [after.anthropic, s2.results.anthropic.text]);
	for (const p of ["openai", "anthropic"]) {
		c.check(`reload: ${p} ends with its whole answer`, done2[p].state === "done" &&
			norm(done2[p].text) === norm(s2.results[p].text) && norm(s2.results[p].text).startsWith(norm(before[p].text)),
		[done2[p], s2.results[p].text]);
	}
	c.check("reload: the message is back in its box", (await rl.inputValue("#message")) === "Reload me");
	const hist = await rl.evaluate(() => [...document.querySelectorAll("#history-list li")].map((li) => li.getAttribute("data-chat-id")));
	c.check("past chats: this chat listed, the expired one dropped", hist.includes(chatId) && !hist.includes(gone), hist);
	// The expired chat's 404 is how the page learns that it expired.
	const rlErrors = rl.pageErrors.filter((e) => !e.includes(gone));
	c.check("no script errors (reload)", rlErrors.length === 0, rlErrors);

	// ------------------------------------------------ Stop
	const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "dark" });
	const st = await context.newPage();
	st.pageErrors = [];
	st.on("pageerror", (e) => st.pageErrors.push(String(e)));
	await st.goto(base + "/");
	await st.fill("#message", "Stop me");
	await st.uncheck("#use-gemini");
	await st.fill("#model-openai", "gpt-4o~words=400~tps=10");
	await st.fill("#model-anthropic", "claude-3-5-haiku-latest~delay=60000");
	await st.focus("#message");
	await st.keyboard.press("Control+Enter");
	await st.waitForFunction(() => {
		const a = document.querySelector('.card[data-provider="openai"] .answer');
		return a && a.textContent.length > 30;
	}, null, { timeout: 60000 });
	c.check("Ctrl+Enter sent the chat", true);
	await st.click("#stop");
	const v3 = await waitFinal(st, 15000);
	const s3 = await serverChat(st, v3.chatId);
	const stopped = await view(st);
	await st.waitForTimeout(1000);
	const later = await view(st);
	c.data.stop = { v3, server: s3, stopped };
	c.check("Stop: the chat is cancelled on the server", v3.final === "cancelled" && s3.status === "cancelled", [v3, s3.status]);
	c.check("Stop: openai keeps its text so far", stopped.openai.state === "cancelled" && s3.results.openai.cancelled === true &&
		norm(stopped.openai.text).length > 30 && norm(stopped.openai.text) === norm(s3.results.openai.text) &&
		norm(s3.results.openai.text).split(" ").length < 400, [stopped.openai, s3.results.openai]);
	c.check("Stop: anthropic stopped before it answered", stopped.anthropic.state === "cancelled" &&
		s3.results.anthropic.ok === false && s3.results.anthropic.cancelled === true, [stopped.anthropic, s3.results.anthropic]);
	c.check("Stop: the text does not grow after", later.openai.text === stopped.openai.text);
	c.check("Stop: Send usable again", await st.isEnabled("#send"));
	const bg = await st.evaluate(() => getComputedStyle(document.body).backgroundColor);
	const rgb = (bg.match(/\d+/g) || []).map(Number);
	c.check("dark mode: a dark background", rgb.length >= 3 && rgb[0] + rgb[1] + rgb[2] < 150, bg);
	await screenshot(st, artifacts, "chat-stream-stopped-dark");

	// ------------------------------------------------ Markdown in the DOM
	const md = await st.evaluate(() => {
		window.__xss = 0;
		const attacks = [
			"<script>window.__xss++</script>", "<img src=x onerror=window.__xss++>", "[a](javascript:window.__xss++)",
			"<a href=\"javascript:window.__xss++\">a</a>", "<svg onload=window.__xss++>", "<iframe srcdoc=x></iframe>",
			"[b](https://example.com/ok)", "**bold** and `code`",
		];
		const box = document.createElement("div");
		document.body.appendChild(box);
		aigwMarkdown.fill(box, attacks.join("\n\n"));
		const all = [...box.querySelectorAll("*")];
		const out = {
			tags: [...new Set(all.map((e) => e.tagName))],
			handlers: all.filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name))).length,
			hrefs: [...box.querySelectorAll("a[href]")].map((a) => a.getAttribute("href")),
			rel: [...box.querySelectorAll("a[href]")].map((a) => a.rel),
		};
		box.remove();
		return out;
	});
	await st.waitForTimeout(200);
	const xss = await st.evaluate(() => window.__xss);
	c.check("Markdown in the page: no script, image, frame or handler; only the https link",
		xss === 0 && md.handlers === 0 && !md.tags.some((t) => ["SCRIPT", "IMG", "SVG", "IFRAME"].includes(t)) &&
		md.hrefs.join() === "https://example.com/ok" && /noopener/.test(md.rel[0]) && md.tags.includes("STRONG"), { md, xss });
	c.check("no script errors (stop)", st.pageErrors.length === 0, st.pageErrors);
	await context.close();
});
