// The chat page driven like a person would: type a message and models, Send,
// and record when each provider card changes state.
import { screenshot } from "./lib.mjs";

// Logs every card's data-state, with the time since Send was pressed.
const RECORDER = () => {
	window.__cardLog = [];
	window.__t0 = null;
	document.addEventListener("submit", () => { window.__t0 = performance.now(); }, true);
	const note = (card) => window.__cardLog.push({
		provider: card.getAttribute("data-provider"),
		state: card.getAttribute("data-state"),
		t: Math.round(performance.now() - (window.__t0 || 0)),
	});
	new MutationObserver((records) => {
		for (const r of records) {
			if (r.type === "attributes" && r.target.classList.contains("card")) note(r.target);
			for (const n of r.addedNodes || []) if (n.classList && n.classList.contains("card")) note(n);
		}
	}).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"] });
};

export const PROVIDERS = ["openai", "anthropic", "gemini", "perplexity"];

/** Opens the chat page, fills it in (models: {provider: model}; the
 *  providers left out are unticked) and presses Send. */
export async function sendChat(page, base, message, models) {
	await page.addInitScript(RECORDER);
	await page.goto(base + "/");
	await page.getByLabel("Message").fill(message);
	for (const p of PROVIDERS) {
		const use = page.locator("#use-" + p);
		if (models[p]) {
			await use.check();
			await page.locator("#model-" + p).fill(models[p]);
		} else {
			await use.uncheck();
		}
	}
	await page.getByRole("button", { name: "Send" }).click();
}

/** Waits until the page shows a final state; returns what the page shows. */
export async function finalView(page, timeoutMs = 60000) {
	await page.waitForSelector("#results[data-final]", { timeout: timeoutMs });
	return page.evaluate(() => ({
		final: document.querySelector("#results").getAttribute("data-final"),
		chatId: document.querySelector("#results").getAttribute("data-chat-id"),
		status: document.querySelector("#state").textContent,
		sendEnabled: !document.querySelector("#send").disabled,
		log: window.__cardLog,
		cards: [...document.querySelectorAll(".card")].map((c) => ({
			provider: c.getAttribute("data-provider"),
			state: c.getAttribute("data-state"),
			badge: c.querySelector("[data-badge]").textContent,
			model: c.querySelector(".model").textContent,
			text: (c.querySelector(".answer") || {}).textContent || null,
			error: (c.querySelector(".error-text") || {}).textContent || null,
			latency: (c.querySelector('[data-meta="latency"]') || {}).textContent || null,
			tokens: (c.querySelector('[data-meta="tokens"]') || {}).textContent || null,
			cost: (c.querySelector('[data-meta="cost"]') || {}).textContent || null,
		})),
	}));
}

/** The moment (ms after Send) each provider's card reached a final state. */
export function doneTimes(log) {
	const out = {};
	for (const e of log) {
		if ((e.state === "done" || e.state === "failed") && out[e.provider] === undefined) out[e.provider] = e.t;
	}
	return out;
}

export async function shots(page, artifacts, name) {
	await screenshot(page, artifacts, name + "-desktop");
	await page.setViewportSize({ width: 390, height: 844 });
	await screenshot(page, artifacts, name + "-phone");
}
