// The jobs page: open it on a type, fill the generated fields, run.
import { screenshot } from "./lib.mjs";

// Logs the progress bar's value and the steps' states as they change.
const RECORDER = () => {
	window.__progress = [];
	window.__steps = [];
	const t0 = performance.now();
	new MutationObserver((records) => {
		for (const r of records) {
			const n = r.target;
			if (r.type === "attributes" && n.id === "dlg-progress") {
				const v = Number(n.getAttribute("aria-valuenow"));
				const job = document.getElementById("job-dialog").getAttribute("data-job-id");
				const last = window.__progress[window.__progress.length - 1];
				if (!last || last.v !== v || last.job !== job) window.__progress.push({ job, v, t: Math.round(performance.now() - t0) });
			}
			if (r.type === "childList" && n.id === "dlg-steps") {
				const s = [...n.querySelectorAll("li")].map((li) => li.getAttribute("data-step") + ":" + li.getAttribute("data-status")).join(",");
				if (window.__steps[window.__steps.length - 1] !== s) window.__steps.push(s);
			}
		}
	}).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["aria-valuenow"] });
};

export async function openJobs(page, base, type) {
	await page.addInitScript(RECORDER);
	await page.goto(base + "/jobs.html" + (type ? "#type=" + type : ""));
	await page.waitForSelector("body[data-ready]", { timeout: 15000 });
}

export async function fill(page, values) {
	for (const [name, value] of Object.entries(values)) {
		const input = page.locator("#in-" + name);
		if (typeof value === "boolean") await input.setChecked(value);
		else await input.fill(String(value));
	}
}

export async function dialogView(page) {
	return page.evaluate(() => {
		const q = (s) => document.querySelector(s);
		return {
			open: q("#job-dialog").open,
			jobId: q("#job-dialog").getAttribute("data-job-id"),
			status: q("#dlg-status").textContent,
			percent: q("#dlg-percent").textContent,
			valuenow: q("#dlg-progress").getAttribute("aria-valuenow"),
			message: q("#dlg-message").textContent,
			error: q("#dlg-error").textContent,
			steps: [...document.querySelectorAll("#dlg-steps li")].map((li) => ({
				name: li.getAttribute("data-step"), status: li.getAttribute("data-status"), text: li.textContent })),
			outputShown: !q("#dlg-output").hidden,
			outputTerms: [...document.querySelectorAll("#dlg-output dt")].map((x) => x.textContent),
			outputSections: [...document.querySelectorAll("#dlg-output section")].map((s) => ({
				provider: s.getAttribute("data-provider"), text: (s.querySelector(".answer") || {}).textContent || "",
				meta: (s.querySelector(".meta") || {}).textContent || "" })),
			outputText: (q("#dlg-output") || {}).textContent || "",
			buttons: { cancel: !q("#dlg-cancel").hidden, hide: !q("#dlg-hide").hidden, close: !q("#dlg-close").hidden },
			progressLog: window.__progress,
			stepsLog: window.__steps,
			rows: [...document.querySelectorAll(".job-row")].map((r) => ({ id: r.getAttribute("data-job-id"), status: r.getAttribute("data-status"), text: r.textContent })),
			toasts: [...document.querySelectorAll(".toast")].map((t) => t.textContent),
		};
	});
}

export async function waitStatus(page, status, timeoutMs = 60000) {
	await page.waitForSelector(`#dlg-status[data-status="${status}"]`, { timeout: timeoutMs });
}

export async function shots(page, artifacts, name) {
	await page.waitForTimeout(600); // the bar's width transition
	await screenshot(page, artifacts, name + "-desktop", false);
	await page.setViewportSize({ width: 390, height: 844 });
	await screenshot(page, artifacts, name + "-phone", false);
	await page.setViewportSize({ width: 1280, height: 900 });
}
