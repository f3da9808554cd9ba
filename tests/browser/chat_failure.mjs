// The chat page with one provider failing (gemini answers 400): its card
// shows the error while the others show their answers. Then a provider
// too slow for the page's limit (cut from 2 minutes to 3 s for the test):
// its card says it got no answer in time, the others keep theirs.
import { args, run, newPage, screenshot } from "./lib.mjs";
import { sendChat, finalView, shots } from "./chat_common.mjs";

const { base, artifacts } = args();
const MODELS = {
	openai: "gpt-4o~delay=300",
	anthropic: "claude-3-5-haiku-latest~delay=600",
	gemini: "gemini-2.5-flash~status=400",
};

run("chat_failure", async (c, browser) => {
	const page = await newPage(browser);
	await sendChat(page, base, "Name three tools for load testing", MODELS);
	const v = await finalView(page);
	c.data.view = v;
	const card = Object.fromEntries(v.cards.map((x) => [x.provider, x]));
	c.check("chat completed (some providers answered)", v.final === "completed", v.final);
	c.check("gemini card failed", card.gemini && card.gemini.state === "failed" && card.gemini.badge === "Failed", card.gemini);
	c.check("gemini card says why (400)", /400/.test((card.gemini && card.gemini.error) || ""), card.gemini);
	c.check("gemini card has no answer text", card.gemini && card.gemini.text === null, card.gemini);
	for (const p of ["openai", "anthropic"]) {
		c.check(`${p} card done with its answer`, card[p] && card[p].state === "done" &&
			(card[p].text || "").startsWith(`[${p}/`), card[p]);
	}
	c.check("summary says 2 of 3 answered", /2 of 3 providers answered/.test(v.status), v.status);
	c.check("no script errors on the page", page.pageErrors.length === 0, page.pageErrors);
	await shots(page, artifacts, "chat-failure");

	const slow = await newPage(browser);
	await slow.addInitScript(() => { window.aigwChatLimitMs = 3000; });
	await sendChat(slow, base, "Are you there?", { openai: "gpt-4o~delay=30000", anthropic: "claude-3-5-haiku-latest~delay=300" });
	const t = await finalView(slow, 20000);
	c.data.timeout = t;
	const tc = Object.fromEntries(t.cards.map((x) => [x.provider, x]));
	c.check("timeout: the page gives up after its limit", t.final === "timeout" && /No final answer after 3 s/.test(t.status), [t.final, t.status]);
	c.check("timeout: the slow card says it got no answer in time", tc.openai.state === "timeout" &&
		/No answer within 3 s/.test(tc.openai.error || ""), tc.openai);
	c.check("timeout: the fast card keeps its answer", tc.anthropic.state === "done" && (tc.anthropic.text || "").startsWith("[anthropic/"), tc.anthropic);
	c.check("timeout: Send usable again", t.sendEnabled);
	c.check("timeout: no script errors on the page", slow.pageErrors.length === 0, slow.pageErrors);
	await screenshot(slow, artifacts, "chat-timeout-desktop");
});
