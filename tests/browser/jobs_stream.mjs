// The jobs page with a streamed step: brief_generation's draft (anthropic,
// slowed with a message directive: 80 more words at 10 tokens per second)
// shows its text growing in the progress window, then the window shows the
// result and no streamed text.
import { args, run, newPage, screenshot } from "./lib.mjs";
import { openJobs, fill, waitStatus } from "./jobs_common.mjs";

const { base, artifacts } = args();

const streamed = (page) => page.evaluate(() => {
	const box = document.getElementById("dlg-stream");
	return {
		hidden: box.hidden,
		sections: [...box.querySelectorAll("section")].map((s) => ({
			provider: s.getAttribute("data-provider"), step: s.getAttribute("data-step"),
			title: s.querySelector("h3").textContent, text: s.querySelector(".answer").textContent,
		})),
	};
});

run("jobs_stream", async (c, browser) => {
	const page = await newPage(browser);
	await openJobs(page, base, "brief_generation");
	// The directive ends the prompt only in the context (the last input in it).
	await fill(page, { topic: "Streaming in the progress window", context: "notes ~~anthropic~words=80~tps=10" });
	await page.getByRole("button", { name: "Run job" }).click();
	await page.waitForFunction(() => {
		const a = document.querySelector('#dlg-stream section[data-provider="anthropic"] .answer');
		return a && !document.getElementById("dlg-stream").hidden && a.textContent.length > 30;
	}, null, { timeout: 60000 });
	const first = await streamed(page);
	await screenshot(page, artifacts, "jobs-stream", false);
	await page.waitForTimeout(1200);
	const second = await streamed(page);
	c.data.stream = { first, second };
	const a = first.sections.find((s) => s.provider === "anthropic");
	const b = second.sections.find((s) => s.provider === "anthropic");
	c.check("the draft step's answer is shown while it streams", !!a && a.step === "0" && /Draft/.test(a.title) &&
		/Anthropic/.test(a.title) && a.text.startsWith("[anthropic/"), first);
	c.check("its text grows", !!b && b.text.length > a.text.length && b.text.startsWith(a.text), second);
	await waitStatus(page, "completed", 60000);
	await page.waitForTimeout(300);
	const end = await streamed(page);
	c.check("the finished job shows its result, no streamed text", end.hidden && end.sections.length === 0, end);
	c.check("no script errors on the page", page.pageErrors.length === 0, page.pageErrors);
});
