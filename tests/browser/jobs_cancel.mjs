// The jobs page: Cancel stops a running job (multi_agent, made slow by a
// mock-provider directive in its input), and a job run in the background
// (brief_generation) raises a notice when it is done, whose View button
// opens its result with one section per provider.
import { args, run, newPage, screenshot } from "./lib.mjs";
import { openJobs, fill, dialogView, waitStatus } from "./jobs_common.mjs";

const { base, artifacts } = args();

run("jobs_cancel", async (c, browser) => {
	const page = await newPage(browser);
	await openJobs(page, base, "multi_agent");

	// 1. Cancel: openai answers only after 20 s, so the fan-out step runs on.
	await fill(page, { question: "Which queue should we use?", context: "We run PostgreSQL ~~openai~delay=20000" });
	await page.getByRole("button", { name: "Run job" }).click();
	await page.waitForSelector("#job-dialog[open]", { timeout: 10000 });
	await page.waitForSelector('#dlg-steps li[data-step="agents"][data-status="running"]', { timeout: 20000 });
	const running = await dialogView(page);
	const cancelledId = running.jobId;
	await page.getByRole("button", { name: "Cancel job" }).click();
	await waitStatus(page, "cancelled", 15000);
	const v = await dialogView(page);
	c.data.cancelled = v;
	c.check("cancelled job: badge and message say so", v.status === "cancelled" && /cancelled/i.test(v.message), [v.status, v.message]);
	c.check("cancelled job: no step left running", v.steps.every((s) => s.status !== "running"), v.steps);
	c.check("cancelled job: Close offered, Cancel gone", v.buttons.close && !v.buttons.cancel, v.buttons);
	c.check("cancelled job: bar below 100%", Number(v.valuenow) < 100, v.valuenow);
	await screenshot(page, artifacts, "jobs-cancelled", false);
	const api = await (await page.request.get(base + "/api/jobs/" + cancelledId)).json();
	c.check("the API says cancelled too", api.status === "cancelled", api.status);
	await page.getByRole("button", { name: "Close" }).click();

	// 2. Background: the window is closed while the job runs; a notice
	// says when it is ready, and View opens the result.
	await page.locator("#job-type").selectOption("brief_generation");
	await fill(page, { topic: "Moving the queue to PostgreSQL", audience: "the platform team",
		context: "Two workers today ~~anthropic~delay=2500" });
	await page.getByRole("button", { name: "Run job" }).click();
	await page.waitForSelector("#job-dialog[open]", { timeout: 10000 });
	const bgId = await page.locator("#job-dialog").getAttribute("data-job-id");
	await page.getByRole("button", { name: "Run in background" }).click();
	const closed = await page.evaluate(() => !document.querySelector("#job-dialog").open);
	c.check("Run in background closes the window", closed);
	const started = await page.locator(".toast", { hasText: "keeps running" }).count();
	c.check("a notice says the job keeps running", started === 1, started);
	const ready = page.locator(".toast", { hasText: "is ready" });
	await ready.waitFor({ timeout: 30000 });
	const toastText = await ready.textContent();
	c.check("a notice says the job is ready", /Brief generation is ready/.test(toastText), toastText);
	await screenshot(page, artifacts, "jobs-toast", false);
	await page.setViewportSize({ width: 390, height: 844 });
	await screenshot(page, artifacts, "jobs-toast-phone", false);
	await page.setViewportSize({ width: 1280, height: 900 });
	await ready.getByRole("button", { name: "View" }).click();
	await page.waitForSelector("#job-dialog[open] #dlg-output:not([hidden])", { timeout: 10000 });
	const done = await dialogView(page);
	c.data.background = done;
	c.check("View opens the finished job", done.jobId === bgId && done.status === "completed", [done.jobId, bgId, done.status]);
	c.check("text output: one section per provider with its answer and figures",
		done.outputSections.length === 1 && done.outputSections[0].provider === "openai" &&
		done.outputSections[0].text.startsWith("[openai/gpt-4o]") && /tokens/.test(done.outputSections[0].meta),
		done.outputSections);
	const rows = Object.fromEntries(done.rows.map((r) => [r.id, r.status]));
	c.check("both jobs listed with their final state", rows[cancelledId] === "cancelled" && rows[bgId] === "completed", rows);
	c.check("no script errors on the page", page.pageErrors.length === 0, page.pageErrors);
	await screenshot(page, artifacts, "jobs-text-output", false);
});
