// The chat page with three providers answering after 0.3, 1.5 and 2.7 s
// (mock provider delays): each card goes pending → loading → done on its
// own, one by one in that order, and ends filled with text, latency,
// tokens and cost.
import { args, run, newPage, screenshot } from "./lib.mjs";
import { sendChat, finalView, doneTimes, shots } from "./chat_common.mjs";

const { base, artifacts } = args();
const MODELS = {
	openai: "gpt-4o~delay=300",
	anthropic: "claude-3-5-haiku-latest~delay=1500",
	gemini: "gemini-2.5-flash~delay=2700",
};
const MESSAGE = "Compare Rust and Go for command line tools";

run("chat_order", async (c, browser) => {
	const page = await newPage(browser);
	await sendChat(page, base, MESSAGE, MODELS);

	// Part-way: the fast answer is shown while the slow one is still loading.
	await page.waitForSelector('.card[data-provider="openai"][data-state="done"]', { timeout: 30000 });
	const mid = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll(".card")]
		.map((e) => [e.getAttribute("data-provider"), e.getAttribute("data-state")])));
	c.data.partway = mid;
	c.check("part-way: openai done while gemini is not", mid.openai === "done" && mid.gemini !== "done", mid);
	await screenshot(page, artifacts, "chat-order-partway");

	const v = await finalView(page);
	c.data.view = v;
	const times = doneTimes(v.log);
	c.data.doneAtMs = times;
	const order = Object.keys(times).sort((a, b) => times[a] - times[b]);
	c.check("final state shown", v.final === "completed", v.final);
	c.check("three cards, in the order chosen", v.cards.map((x) => x.provider).join() === "openai,anthropic,gemini",
		v.cards.map((x) => x.provider));
	c.check("cards became done one by one: openai, anthropic, gemini", order.join() === "openai,anthropic,gemini", times);
	c.check("each arrival at its own time (≥ 400 ms apart)",
		times.anthropic - times.openai >= 400 && times.gemini - times.anthropic >= 400, times);
	for (const p of Object.keys(MODELS)) {
		const states = v.log.filter((e) => e.provider === p).map((e) => e.state);
		c.check(`${p}: started pending and ended done`, states[0] === "pending" && states[states.length - 1] === "done", states);
		// openai may well answer before the page's first look at the chat.
		if (p !== "openai") c.check(`${p}: was shown loading before done`, states.includes("loading"), states);
	}
	for (const card of v.cards) {
		const base = MODELS[card.provider].split("~")[0];
		c.check(`${card.provider}: card filled with the answer`, card.state === "done" &&
			(card.text || "").includes(`[${card.provider}/${base}] ${MESSAGE}`), card);
		c.check(`${card.provider}: latency, tokens and cost shown`,
			/\d+(\.\d+)? m?s/.test(card.latency || "") && /\d+ in \/ \d+ out tokens/.test(card.tokens || "") &&
			/^\$|cost unknown/.test(card.cost || ""), card);
	}
	c.check("summary line says 3 of 3 answered", /3 of 3 providers answered/.test(v.status), v.status);
	c.check("Send usable again", v.sendEnabled);
	c.check("no script errors on the page", page.pageErrors.length === 0, page.pageErrors);
	await shots(page, artifacts, "chat-order");
});
