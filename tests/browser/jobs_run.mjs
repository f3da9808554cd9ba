// The jobs page runs competitor_analysis: fields generated from the type's
// input (required marked and checked), the progress window's bar moving
// through the steps' values (0 → 40 → 100), the steps' states, and the
// JSON output shown as a definition list. The browser tests' stack slows
// this type's models (tests/browser/conftest.py) so that each step can
// be seen.
import { args, run, newPage, screenshot } from "./lib.mjs";
import { openJobs, fill, dialogView, waitStatus, shots } from "./jobs_common.mjs";

const { base, artifacts } = args();

run("jobs_run", async (c, browser) => {
	const page = await newPage(browser);
	await openJobs(page, base, "competitor_analysis");

	const form = await page.evaluate(() => ({
		type: document.querySelector("#job-type").value,
		types: [...document.querySelectorAll("#job-type option")].map((o) => o.value),
		fields: [...document.querySelectorAll("#fields .field")].map((f) => {
			const input = f.querySelector("input, textarea");
			return { name: f.getAttribute("data-field"), tag: input.tagName, required: input.required,
				ariaRequired: input.getAttribute("aria-required"), label: (f.querySelector("label") || {}).textContent,
				maxlength: input.getAttribute("maxlength") };
		}),
	}));
	c.data.form = form;
	c.check("type list loaded from /api/jobtypes", form.types.includes("competitor_analysis") && form.types.length >= 5, form.types);
	c.check("competitor_analysis selected from the URL", form.type === "competitor_analysis", form.type);
	const byName = Object.fromEntries(form.fields.map((f) => [f.name, f]));
	c.check("company_name: a required text input, marked", byName.company_name && byName.company_name.tag === "INPUT" &&
		byName.company_name.required && byName.company_name.ariaRequired === "true" &&
		/\*/.test(byName.company_name.label) && byName.company_name.maxlength === "200", byName.company_name);
	c.check("company_url: an optional field", byName.company_url && !byName.company_url.required, byName.company_url);
	await screenshot(page, artifacts, "jobs-form", false);

	// A required field left empty is caught before anything is sent.
	await page.getByRole("button", { name: "Run job" }).click();
	const err = await page.locator("#err-company_name").textContent();
	c.check("empty required field: message at the field, no job", /required/i.test(err) &&
		!(await page.evaluate(() => document.querySelector("#job-dialog").open)), err);

	await fill(page, { company_name: "Acme Corp", company_url: "https://acme.example" });
	await page.getByRole("button", { name: "Run job" }).click();
	await page.waitForSelector("#job-dialog[open]", { timeout: 10000 });
	await page.waitForSelector('#dlg-progress[aria-valuenow="40"]', { timeout: 30000 });
	const mid = await dialogView(page);
	c.data.midway = mid;
	c.check("at 40%: research done, profile running", mid.steps.map((s) => s.name + ":" + s.status).join() ===
		"research:completed,profile:running", mid.steps);
	c.check("at 40%: the step's status message shown", /profile/i.test(mid.message), mid.message);
	c.check("while running: Cancel and Run in background offered", mid.buttons.cancel && mid.buttons.hide && !mid.buttons.close, mid.buttons);
	await screenshot(page, artifacts, "jobs-progress", false);

	await waitStatus(page, "completed", 60000);
	await page.waitForSelector("#dlg-output:not([hidden])", { timeout: 10000 });
	const v = await dialogView(page);
	c.data.final = v;
	const seen = v.progressLog.filter((p) => p.job === v.jobId).map((p) => p.v);
	c.data.progressSeen = seen;
	c.check("progress values seen: 0, 40, 100 in order", seen.join() === "0,40,100", v.progressLog);
	c.check("bar at 100%", v.valuenow === "100" && v.percent === "100%", [v.valuenow, v.percent]);
	c.check("every step completed", v.steps.length === 2 && v.steps.every((s) => s.status === "completed"), v.steps);
	c.check("the JSON output as a definition list", v.outputShown && v.outputTerms.includes("Summary") && v.outputTerms.includes("Items"), v.outputTerms);
	c.check("the output is the profile of Acme Corp", /\[openai\/gpt-4o\].*Acme Corp/.test(v.outputText), v.outputText.slice(0, 300));
	c.check("finished: Close offered instead of Cancel", v.buttons.close && !v.buttons.cancel, v.buttons);
	c.check("the job's row says completed", v.rows.length === 1 && v.rows[0].status === "completed" && v.rows[0].id === v.jobId, v.rows);
	c.check("no notice while the window was open", v.toasts.length === 0, v.toasts);
	c.check("no script errors on the page", page.pageErrors.length === 0, page.pageErrors);
	await shots(page, artifacts, "jobs-done");

	// Another type's form: an array input, a boolean and a short string,
	// sent as the API wants them (platforms limits the fan-out).
	await page.getByRole("button", { name: "Close" }).click();
	await page.locator("#job-type").selectOption("prompt_analysis");
	const kinds = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll("#fields .field")].map((f) => {
		const i = f.querySelector("input, textarea");
		return [f.getAttribute("data-field"), i.tagName.toLowerCase() + (i.type && i.tagName === "INPUT" ? ":" + i.type : "")];
	})));
	c.data.promptAnalysisFields = kinds;
	c.check("prompt_analysis form: text, list, checkbox and short text fields",
		kinds.prompt === "textarea" && kinds.platforms === "textarea" && kinds.websearch === "input:checkbox" &&
		kinds.location === "input:text", kinds);
	await fill(page, { prompt: "Best CRM for a small team", platforms: "openai, gemini", websearch: true, location: "de" });
	await page.getByRole("button", { name: "Run job" }).click();
	await page.waitForSelector("#job-dialog[open]", { timeout: 10000 });
	await waitStatus(page, "completed", 60000);
	await page.waitForSelector("#dlg-output:not([hidden])", { timeout: 10000 });
	const pa = await dialogView(page);
	c.data.promptAnalysis = pa.outputSections;
	c.check("prompt_analysis: one section per chosen platform, with sources",
		pa.outputSections.map((x) => x.provider).sort().join() === "gemini,openai" &&
		pa.outputSections.every((x) => x.text.includes("Best CRM for a small team")) &&
		(await page.locator("#dlg-output .sources").count()) === 2, pa.outputSections);
	await page.waitForTimeout(600); // the bar's width transition
	await screenshot(page, artifacts, "jobs-prompt-analysis", false);
	c.check("no script errors on the page (second job)", page.pageErrors.length === 0, page.pageErrors);
});
