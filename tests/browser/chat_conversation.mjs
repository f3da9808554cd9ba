// The chat page holds a conversation: after a first answer, the next
// message is sent as `messages` with the first message and the answer of
// the provider that answered first (OpenAI here: the others are slowed),
// shown above the form; "New conversation" starts again with a message
// alone.
import { args, run, newPage, screenshot } from "./lib.mjs";
import { sendChat, finalView } from "./chat_common.mjs";

const { base, artifacts } = args();
const MODELS = { openai: "gpt-4o~delay=100", anthropic: "claude-3-5-haiku-latest~delay=1500" };
const FIRST = "Name a language for command line tools";
const SECOND = "Why that one";
const THIRD = "A fresh start";

run("chat_conversation", async (c, browser) => {
	const page = await newPage(browser);
	const sent = [];
	page.on("request", (r) => {
		if (r.method() === "POST" && new URL(r.url()).pathname === "/api/ai/chat") sent.push(r.postDataJSON());
	});
	await sendChat(page, base, FIRST, MODELS);
	const v1 = await finalView(page);
	c.check("first chat completed", v1.final === "completed", v1.final);
	const first = await page.evaluate(async (id) => (await aigw.getChat(id)).results, v1.chatId);
	const answer = first.openai && first.openai.text;
	c.check("the first answer is OpenAI's, the fastest", typeof answer === "string" &&
		answer.startsWith(`[openai/gpt-4o] ${FIRST}`), first);
	c.check("the first request sent a message alone", sent.length === 1 && sent[0].message === FIRST &&
		sent[0].messages === undefined, sent[0]);
	const conv = await page.evaluate(() => ({
		shown: !document.querySelector("#conversation").hidden,
		turns: [...document.querySelectorAll("#conversation-list li")].map((li) => ({
			role: li.getAttribute("data-role"), provider: li.getAttribute("data-provider"),
			said: li.querySelector(".said").textContent,
		})),
		kept: [...document.querySelectorAll(".card[data-kept]")].map((e) => e.getAttribute("data-provider")),
		box: document.querySelector("#message").value,
	}));
	c.data.conversation = conv;
	c.check("the conversation is shown with the message and the kept answer", conv.shown &&
		conv.turns.length === 2 && conv.turns[0].role === "user" && conv.turns[0].said === FIRST &&
		conv.turns[1].role === "assistant" && conv.turns[1].provider === "openai" && conv.turns[1].said === answer,
	conv.turns);
	c.check("the kept answer's card is marked", conv.kept.join() === "openai", conv.kept);
	c.check("the message box is empty for the next turn", conv.box === "", conv.box);
	await screenshot(page, artifacts, "chat-conversation-first");

	// The second turn.
	await page.getByLabel("Message").fill(SECOND);
	await page.getByRole("button", { name: "Send" }).click();
	await page.waitForFunction((id) => {
		const r = document.querySelector("#results");
		return r.getAttribute("data-final") && r.getAttribute("data-chat-id") !== id;
	}, v1.chatId, { timeout: 60000 });
	const v2 = await finalView(page);
	c.check("second chat completed", v2.final === "completed", v2.final);
	const second = sent[1] || {};
	c.data.second = second;
	c.check("the second request carried the first turn and its answer", second.message === undefined &&
		JSON.stringify(second.messages) === JSON.stringify([
			{ role: "user", content: FIRST }, { role: "assistant", content: answer },
			{ role: "user", content: SECOND }]), second);
	for (const card of v2.cards) {
		c.check(`${card.provider}: answered the last message`,
			(card.text || "").includes(`${SECOND}`), card);
	}
	const turns = await page.evaluate(() => document.querySelectorAll("#conversation-list li").length);
	c.check("the conversation grew to four turns", turns === 4, turns);
	await screenshot(page, artifacts, "chat-conversation-second");

	// A new conversation: the next message goes alone.
	await page.getByRole("button", { name: "New conversation" }).click();
	c.check("New conversation hides the turns",
		await page.evaluate(() => document.querySelector("#conversation").hidden));
	const chatId2 = v2.chatId;
	await page.getByLabel("Message").fill(THIRD);
	await page.getByRole("button", { name: "Send" }).click();
	await page.waitForFunction((id) => {
		const r = document.querySelector("#results");
		return r.getAttribute("data-final") && r.getAttribute("data-chat-id") !== id;
	}, chatId2, { timeout: 60000 });
	c.check("after New conversation the message goes alone", sent.length === 3 && sent[2].message === THIRD &&
		sent[2].messages === undefined, sent[2]);
	c.data.chatIds = [v1.chatId, v2.chatId];
	c.check("no script errors on the page", page.pageErrors.length === 0, page.pageErrors);
});
