// Shared by the browser scenarios: start Debian's chromium through
// playwright-core, collect checks, save screenshots, print one JSON line.
//
// A scenario is run as `node <scenario>.mjs <base-url> <artifacts-dir>`;
// it prints {"ok": bool, "checks": [...], "data": {...}} as its last line
// on stdout and exits 0 when every check passed, 1 when one failed, 2 when
// it could not run.
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.AIGW_CHROMIUM || "/usr/bin/chromium";
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 900 };

export function args() {
	const [base, artifacts] = process.argv.slice(2);
	if (!base || !artifacts) {
		console.error("usage: node <scenario>.mjs <base-url> <artifacts-dir>");
		process.exit(2);
	}
	fs.mkdirSync(artifacts, { recursive: true });
	return { base: base.replace(/\/$/, ""), artifacts };
}

export async function launch() {
	// As root, chromium's sandbox cannot start; tests run as root in CI.
	const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
	return chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: [...(isRoot ? ["--no-sandbox"] : []), "--disable-dev-shm-usage", "--no-first-run"],
	});
}

/** A page that forwards the page's console errors and uncaught exceptions. */
export async function newPage(browser, viewport = DESKTOP) {
	const context = await browser.newContext({ viewport });
	const page = await context.newPage();
	page.pageErrors = [];
	page.on("pageerror", (e) => page.pageErrors.push(String(e)));
	page.on("console", (m) => {
		if (m.type() !== "error") return;
		// The client library probes the events URL first; a 404 there is
		// its signal to fall back to polling, not a fault of the page.
		const url = (m.location() && m.location().url) || "";
		if (/^Failed to load resource/.test(m.text()) && /\/events(\?|$)/.test(url)) return;
		page.pageErrors.push("console: " + m.text() + (url ? " (" + url + ")" : ""));
	});
	return page;
}

export class Checks {
	constructor(name) {
		this.name = name;
		this.list = [];
		this.data = {};
		this.started = Date.now();
	}

	check(name, ok, detail) {
		this.list.push({ name, ok: !!ok, detail: detail === undefined ? null : detail });
		return !!ok;
	}

	/** Runs fn; its exception fails the check `name` instead of the scenario. */
	async step(name, fn) {
		try {
			const r = await fn();
			if (r !== undefined && r !== null && typeof r === "object" && "ok" in r) return this.check(name, r.ok, r.detail);
			return this.check(name, true);
		} catch (e) {
			return this.check(name, false, String(e && e.stack ? e.stack.split("\n").slice(0, 4).join(" | ") : e));
		}
	}

	finish() {
		const ok = this.list.length > 0 && this.list.every((c) => c.ok);
		const out = { scenario: this.name, ok, seconds: (Date.now() - this.started) / 1000, checks: this.list, data: this.data };
		process.stdout.write(JSON.stringify(out) + "\n");
		process.exitCode = ok ? 0 : 1;
	}
}

export async function screenshot(page, artifacts, name, fullPage = true) {
	const file = path.join(artifacts, name + ".png");
	await page.screenshot({ path: file, fullPage });
	return file;
}

/** Runs main(checks) and always prints the result line (exit 2 when it threw). */
export async function run(name, main) {
	const checks = new Checks(name);
	let browser = null;
	try {
		browser = await launch();
		await main(checks, browser);
	} catch (e) {
		checks.check("scenario ran to the end", false, String(e && e.stack ? e.stack : e));
	} finally {
		if (browser) await browser.close().catch(() => {});
	}
	checks.finish();
}
