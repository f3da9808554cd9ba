/* jobs.js: the jobs page. Offers the declared job types (GET /api/jobtypes)
 * with a form generated from each type's input, runs a job with a progress
 * window (bar, status message, steps, the running step's answers as they
 * stream, Cancel), renders the output, and shows a notice when a job ends
 * while its window is closed. */
(function () {
	"use strict";
	var P = window.aigwPages;
	var el = P.el;
	var FINAL = ["completed", "failed", "cancelled"];
	var STORE = "aigw.jobs";
	var ICON = { pending: "○", running: "◐", completed: "✓", failed: "✗", cancelled: "⊘" };

	var types = {};   // name -> declaration
	var jobs = {};    // id -> {id, type, label, state, output, sub, cancelling}
	var order = [];   // ids, newest first
	var shown = null; // id in the dialog
	var ticker = null;
	var streamFrame = 0;

	function $(id) {
		return document.getElementById(id);
	}

	function humanize(name) {
		var s = String(name).replace(/[_-]+/g, " ").trim()
			.replace(/\b(url|id|api|json|ai)\b/gi, function (w) { return w.toUpperCase(); });
		return s.charAt(0).toUpperCase() + s.slice(1);
	}

	function isFinal(state) {
		return !!state && FINAL.indexOf(state.status) >= 0;
	}

	// ------------------------------------------------------------ the form

	function fieldKind(name, decl) {
		var t = decl.type;
		if (t === "string") {
			if (/(^|_)(url|name|email|location|country|title)$/.test(name)) return "line";
			return decl.max_length != null && decl.max_length <= 300 ? "line" : "text";
		}
		return t;
	}

	function buildField(name, decl) {
		var id = "in-" + name;
		var kind = fieldKind(name, decl);
		var wrap = el("div", { class: "field", "data-field": name, "data-type": decl.type });
		var describedBy = [];
		var hintText = decl.description || "";
		if (decl.type === "array") {
			hintText += (hintText ? ". " : "") + "One per line, or separated by commas" +
				(decl.max_length ? "; at most " + decl.max_length : "") + ".";
		} else if (decl.type === "object") {
			hintText += (hintText ? ". " : "") + "A JSON object.";
		} else if (decl.max_length && decl.type === "string") {
			hintText += (hintText ? " " : "") + "(at most " + decl.max_length + " characters)";
		}
		if (hintText) describedBy.push("hint-" + name);
		describedBy.push("err-" + name);
		var common = { id: id, name: name, "aria-describedby": describedBy.join(" ") };
		if (decl.required) {
			common.required = true;
			common["aria-required"] = "true";
		}
		var input;
		if (kind === "boolean") {
			input = el("input", Object.assign({ type: "checkbox" }, common));
			wrap.appendChild(el("div", { class: "check" }, input, el("label", { for: id, text: humanize(name) })));
		} else {
			var label = el("label", { for: id }, humanize(name));
			if (decl.required) {
				label.appendChild(el("span", { class: "req", "aria-hidden": "true", text: "*" }));
				label.appendChild(el("span", { class: "sr-only", text: " (required)" }));
			}
			wrap.appendChild(label);
			if (kind === "integer" || kind === "number") {
				input = el("input", Object.assign({ type: "number", step: kind === "integer" ? "1" : "any",
					inputmode: kind === "integer" ? "numeric" : "decimal" }, common));
			} else if (kind === "line") {
				input = el("input", Object.assign({ type: "text", autocomplete: "off",
					maxlength: decl.max_length || null,
					inputmode: /url$/.test(name) ? "url" : null }, common));
			} else {
				input = el("textarea", Object.assign({
					rows: kind === "object" ? 5 : kind === "array" ? 3 : 4,
					maxlength: kind === "text" ? decl.max_length || null : null,
					spellcheck: kind === "object" ? "false" : null,
					placeholder: kind === "object" ? "{\"key\": \"value\"}" : null,
				}, common));
			}
			wrap.appendChild(input);
		}
		if (hintText) wrap.appendChild(el("p", { class: "hint", id: "hint-" + name, text: hintText }));
		wrap.appendChild(el("p", { class: "field-error", id: "err-" + name }));
		return wrap;
	}

	function showType(name) {
		var t = types[name];
		var fields = $("fields");
		fields.replaceChildren();
		$("form-error").textContent = "";
		if (!t) return;
		$("type-desc").textContent = t.description || "";
		Object.keys(t.input || {}).forEach(function (f) {
			fields.appendChild(buildField(f, t.input[f]));
		});
		$("inputs").hidden = !Object.keys(t.input || {}).length;
		var plan = $("plan");
		plan.replaceChildren();
		(t.steps || []).forEach(function (s) {
			var calls = (s.calls || []).map(function (c) { return P.providerName(c.provider) + " " + c.model; }).join(", ");
			plan.appendChild(el("li", null, el("strong", { text: humanize(s.name) }),
				" — " + (s.status_message || "") + (calls ? " (" + calls + ")" : "") + " → " + s.progress + "%"));
		});
		$("plan-box").hidden = !(t.steps || []).length;
		if (history.replaceState) history.replaceState(null, "", "#type=" + encodeURIComponent(name));
	}

	function setFieldError(name, text) {
		var input = $("in-" + name);
		var err = $("err-" + name);
		if (err) err.textContent = text || "";
		if (input) {
			if (text) input.setAttribute("aria-invalid", "true");
			else input.removeAttribute("aria-invalid");
		}
		return input;
	}

	/** The input object from the form, or null after marking the faults. */
	function collect(t) {
		var input = {};
		var first = null;
		Object.keys(t.input || {}).forEach(function (name) {
			var decl = t.input[name];
			var node = $("in-" + name);
			var fault = "";
			setFieldError(name, "");
			if (decl.type === "boolean") {
				input[name] = node.checked;
				return;
			}
			var raw = node.value;
			var empty = raw.trim() === "";
			if (empty) {
				if (decl.required) fault = humanize(name) + " is required.";
			} else if (decl.type === "integer" || decl.type === "number") {
				var n = Number(raw);
				if (!isFinite(n) || (decl.type === "integer" && !Number.isInteger(n))) fault = "Give a" + (decl.type === "integer" ? " whole" : "") + " number.";
				else input[name] = n;
			} else if (decl.type === "array") {
				var items = (raw.indexOf("\n") >= 0 ? raw.split(/\r?\n/) : raw.split(","))
					.map(function (s) { return s.trim(); }).filter(Boolean);
				if (!items.length && decl.required) fault = humanize(name) + " needs at least one item.";
				else if (decl.max_length && items.length > decl.max_length) fault = "At most " + decl.max_length + " items.";
				else if (items.length) input[name] = items;
			} else if (decl.type === "object") {
				try {
					var v = JSON.parse(raw);
					if (!v || typeof v !== "object" || Array.isArray(v)) fault = "Give a JSON object, like {\"key\": \"value\"}.";
					else input[name] = v;
				} catch (e) {
					fault = "Not valid JSON: " + e.message;
				}
			} else {
				input[name] = raw;
			}
			if (fault) {
				setFieldError(name, fault);
				if (!first) first = node;
			}
		});
		if (first) {
			first.focus();
			return null;
		}
		return input;
	}

	async function submit(ev) {
		ev.preventDefault();
		var name = $("job-type").value;
		var t = types[name];
		if (!t) return;
		$("form-error").textContent = "";
		var input = collect(t);
		if (!input) {
			$("form-error").textContent = "Please fix the marked fields.";
			return;
		}
		var run = $("run");
		run.disabled = true;
		run.textContent = "Submitting…";
		try {
			var job = await aigw.submitJob(name, input, {
				onRetry: function (r) {
					run.textContent = r.reason === "busy" ? "Busy, retrying in " + Math.ceil(r.waitMs / 1000) + " s…" : "Retrying…";
				},
			});
			var first = Object.keys(input).filter(function (k) { return typeof input[k] === "string"; })[0];
			var label = first ? String(input[first]).slice(0, 60) : "";
			addJob({ id: job.id, type: name, label: label, state: job, interval: job.retryAfter * 1000 });
			save();
			openDialog(job.id);
		} catch (err) {
			var f = err.field || "";
			var target = f.indexOf("input.") === 0 ? setFieldError(f.slice(6), err.message) : null;
			$("form-error").textContent = "Not started: " + P.describeError(err);
			if (target) target.focus();
		} finally {
			run.disabled = false;
			run.textContent = "Run job";
		}
	}

	// ------------------------------------------------------------ jobs

	function addJob(job) {
		jobs[job.id] = job;
		order.unshift(job.id);
		var row = el("li", { class: "job-row", "data-job-id": job.id },
			el("div", null, el("strong", { text: humanize(job.type) }), " ", el("small", { class: "row-info" })),
			el("button", { type: "button", text: "View", "aria-label": "View " + humanize(job.type) + " job",
				onclick: function () { openDialog(job.id); } }),
			el("div", { class: "mini", "aria-hidden": "true" }, el("span")));
		$("jobs-list").insertBefore(row, $("jobs-list").firstChild);
		$("no-jobs").hidden = true;
		updateRow(job);
		follow(job);
	}

	function follow(job) {
		if (isFinal(job.state)) {
			finished(job, false);
			return;
		}
		var t = types[job.type] || {};
		job.sub = aigw.subscribe("job", job.id, function (state) {
			job.state = state;
			updateRow(job);
			if (shown === job.id) renderDialog();
		}, {
			onDelta: function (provider, text, state, step) {
				streamed(job, provider, text, step);
			},
			intervalMs: job.interval || (t.poll_interval_s || 2) * 1000,
			timeoutMs: ((t.timeout_s || 600) + 120) * 1000,
		});
		job.sub.done.then(function (final) {
			job.state = final;
			finished(job, true);
		}, function (err) {
			job.followError = err;
			updateRow(job);
			if (shown === job.id) renderDialog();
			if (err.code !== "aborted") {
				P.toast("Lost track of a " + humanize(job.type) + " job", P.describeError(err), {
					kind: "error", actions: [{ label: "View", onClick: function () { openDialog(job.id); } }],
				});
			}
		});
	}

	// Keeps the latest step's streamed texts; drawn once per frame.
	function streamed(job, provider, text, step) {
		step = typeof step === "number" ? step : 0;
		if (!job.stream || step > job.stream.step) job.stream = { step: step, texts: {} };
		if (step < job.stream.step) return;
		job.stream.texts[provider] = text;
		if (shown === job.id && !streamFrame) streamFrame = requestAnimationFrame(drawStream);
	}

	function drawStream() {
		streamFrame = 0;
		var box = $("dlg-stream");
		var job = jobs[shown];
		var st = job && job.stream;
		var names = st ? Object.keys(st.texts).filter(function (p) { return st.texts[p]; }) : [];
		if (!job || isFinal(job.state) || !names.length) {
			box.hidden = true;
			box.replaceChildren();
			return;
		}
		var decl = ((types[job.type] || {}).steps || [])[st.step];
		var stepName = decl ? humanize(decl.name) : "Step " + (st.step + 1);
		box.setAttribute("data-step", String(st.step));
		names.forEach(function (p) {
			var sec = box.querySelector('section[data-provider="' + p + '"]');
			if (!sec || sec.getAttribute("data-step") !== String(st.step)) {
				if (sec) sec.remove();
				sec = el("section", { "data-provider": p, "data-step": String(st.step) },
					el("h3", { text: stepName + " · " + P.providerName(p) + " is writing…" }),
					el("div", { class: "answer" }));
				box.appendChild(sec);
			}
			var answer = sec.querySelector(".answer");
			if (answer.textContent !== st.texts[p]) {
				answer.textContent = st.texts[p];
				sec.scrollTop = sec.scrollHeight;
			}
		});
		Array.prototype.slice.call(box.querySelectorAll("section")).forEach(function (sec) {
			if (sec.getAttribute("data-step") !== String(st.step) || !st.texts[sec.getAttribute("data-provider")]) sec.remove();
		});
		box.hidden = false;
	}

	async function finished(job, live) {
		if (job.state.status === "completed" && job.output === undefined) {
			try {
				job.output = (await aigw.getJob(job.id)).output;
			} catch (err) {
				job.outputError = err;
			}
		}
		if (job.bgToast) job.bgToast.close(); // "keeps running" is out of date
		updateRow(job);
		if (shown === job.id) renderDialog();
		save();
		var away = shown !== job.id || document.hidden;
		if (live && away && !job.cancelling) {
			var st = job.state.status;
			var what = humanize(job.type) + (job.label ? " · " + job.label : "");
			P.toast(st === "completed" ? "✓ " + humanize(job.type) + " is ready"
				: st === "failed" ? "✗ " + humanize(job.type) + " failed" : humanize(job.type) + " was cancelled",
			st === "failed" ? (job.state.error || what) : what, {
				kind: st === "completed" ? "success" : st === "failed" ? "error" : "warn",
				sticky: true,
				actions: [{ label: "View", onClick: function () { openDialog(job.id); } }],
			});
		}
	}

	function updateRow(job) {
		var row = document.querySelector('.job-row[data-job-id="' + job.id + '"]');
		if (!row) return;
		var s = job.state || {};
		row.setAttribute("data-status", s.status || "pending");
		var info = [];
		if (job.label) info.push(job.label);
		info.push((s.progress || 0) + "%");
		info.push(job.followError ? "unknown (" + job.followError.message + ")" : s.status || "pending");
		row.querySelector(".row-info").textContent = info.join(" · ");
		row.querySelector(".mini > span").style.width = (s.progress || 0) + "%";
	}

	function save() {
		try {
			sessionStorage.setItem(STORE, JSON.stringify(order.slice(0, 20).map(function (id) {
				return { id: id, type: jobs[id].type, label: jobs[id].label };
			})));
		} catch (e) { /* private mode: the list is not kept */ }
	}

	async function restore() {
		var saved;
		try {
			saved = JSON.parse(sessionStorage.getItem(STORE) || "[]");
		} catch (e) {
			saved = [];
		}
		for (var i = saved.length - 1; i >= 0; i--) {
			var j = saved[i];
			try {
				var state = await aigw.getJobStatus(j.id, { retries: 0 });
				addJob({ id: j.id, type: j.type, label: j.label, state: state });
			} catch (e) { /* expired or gone */ }
		}
	}

	// ------------------------------------------------------------ the dialog

	function openDialog(id) {
		shown = id;
		var dlg = $("job-dialog");
		$("dlg-output").replaceChildren();
		$("dlg-output").removeAttribute("data-job-id");
		renderDialog();
		if (!dlg.open) dlg.showModal();
		if (!ticker) ticker = setInterval(tick, 1000);
		var focus = $("dlg-cancel").hidden ? $("dlg-close") : $("dlg-hide");
		focus.focus();
	}

	function tick() {
		var job = jobs[shown];
		if (!job) return;
		var s = job.state || {};
		var from = Date.parse(s.created_at || "");
		var to = s.completed_at ? Date.parse(s.completed_at) : Date.now();
		$("dlg-time").textContent = isNaN(from) ? "" : Math.max(0, Math.round((to - from) / 1000)) + " s";
	}

	function statusText(job) {
		var s = job.state || {};
		if (job.followError) return "Lost track of the job: " + P.describeError(job.followError);
		if (s.status === "completed") return "Done.";
		if (s.status === "failed") return "The job failed.";
		if (s.status === "cancelled") return "Cancelled.";
		if (s.status === "pending") return "Queued; waiting for a worker…";
		return s.status_message || "Working…";
	}

	function renderDialog() {
		var job = jobs[shown];
		if (!job) return;
		var t = types[job.type] || { steps: [] };
		var s = job.state || {};
		var status = s.status || "pending";
		var pct = Math.max(0, Math.min(100, s.progress || 0));
		$("job-dialog").setAttribute("data-job-id", job.id);
		$("dlg-title").textContent = humanize(job.type) + (job.label ? " · " + job.label : "");
		$("dlg-id").textContent = "Job " + job.id;
		var badge = $("dlg-status");
		badge.textContent = status;
		badge.setAttribute("data-status", status);
		var bar = $("dlg-progress");
		bar.setAttribute("data-status", status);
		bar.setAttribute("aria-valuenow", String(pct));
		bar.setAttribute("aria-valuetext", pct + "%, " + statusText(job));
		$("dlg-bar").style.width = pct + "%";
		$("dlg-percent").textContent = pct + "%";
		var msg = statusText(job);
		if ($("dlg-message").textContent !== msg) $("dlg-message").textContent = msg;
		tick();

		var steps = $("dlg-steps");
		steps.replaceChildren();
		var states = {};
		(s.steps || []).forEach(function (x) { states[x.name] = x.status; });
		var decl = t.steps && t.steps.length ? t.steps : (s.steps || []);
		decl.forEach(function (d) {
			var st = states[d.name] || "pending";
			var calls = (d.calls || []).map(function (c) { return P.providerName(c.provider); }).join(", ");
			steps.appendChild(el("li", { "data-step": d.name, "data-status": st },
				el("span", { class: "icon", "aria-hidden": "true", text: ICON[st] || "○" }),
				el("span", null, humanize(d.name) + (calls ? " · " + calls : ""),
					el("span", { class: "step-msg", text: d.status_message || "" })),
				el("span", { class: "badge", "data-status": st, text: st })));
		});
		$("dlg-error").textContent = s.status === "failed" ? (s.error || "The job failed.") : "";
		drawStream();

		var final = isFinal(s);
		$("dlg-cancel").hidden = final;
		$("dlg-cancel").disabled = !!job.cancelling;
		$("dlg-hide").hidden = final;
		$("dlg-close").hidden = !final;

		var out = $("dlg-output");
		if (status === "completed" && (job.output !== undefined || job.outputError)) {
			if (out.getAttribute("data-job-id") !== job.id) {
				out.replaceChildren(el("h3", { text: "Result" }),
					job.outputError ? el("p", { class: "error-text", text: P.describeError(job.outputError) }) : renderOutput(job.output));
				out.setAttribute("data-job-id", job.id);
			}
			out.hidden = false;
		} else {
			out.hidden = true;
		}
	}

	async function cancelShown() {
		var job = jobs[shown];
		if (!job || isFinal(job.state)) return;
		job.cancelling = true;
		renderDialog();
		$("dlg-message").textContent = "Cancelling…";
		try {
			var state = await aigw.cancelJob(job.id);
			if (state && state.status) {
				job.state = state;
				updateRow(job);
				renderDialog();
			}
		} catch (err) {
			job.cancelling = false;
			renderDialog();
			$("dlg-message").textContent = "Could not cancel: " + P.describeError(err);
		}
	}

	function hideDialog() {
		var job = jobs[shown];
		$("job-dialog").close();
		if (job && !isFinal(job.state)) {
			if (job.bgToast) job.bgToast.close();
			job.bgToast = P.toast(humanize(job.type) + " keeps running", "We'll let you know when it's done.", {
				ms: 5000, actions: [{ label: "View", onClick: function () { openDialog(job.id); } }],
			});
		}
	}

	// ------------------------------------------------------------ output

	function renderValue(v) {
		if (Array.isArray(v)) {
			if (!v.length) return el("span", { class: "hint", text: "(none)" });
			var list = el(v.every(function (x) { return x === null || typeof x !== "object"; }) ? "ul" : "ol");
			v.forEach(function (x) { list.appendChild(el("li", null, renderValue(x))); });
			return list;
		}
		if (v && typeof v === "object") {
			var dl = el("dl");
			Object.keys(v).forEach(function (k) {
				dl.appendChild(el("dt", { text: humanize(k) }));
				dl.appendChild(el("dd", null, renderValue(v[k])));
			});
			return dl;
		}
		if (v === null || v === undefined) return el("span", { class: "hint", text: "(empty)" });
		return document.createTextNode(String(v));
	}

	function renderOutput(out) {
		var box = el("div", { class: "output-body" });
		if (out && typeof out === "object" && typeof out.text === "string") {
			var results = out.results && typeof out.results === "object" ? out.results : {};
			var names = Object.keys(results);
			if (!names.length) box.appendChild(el("div", { class: "answer", text: out.text }));
			names.forEach(function (p) {
				var r = results[p];
				var sec = el("section", { "data-provider": p, "aria-label": P.providerName(p) },
					el("h4", null, P.providerName(p), el("span", { class: "model", text: r.model || "" })));
				sec.appendChild(r.ok === false
					? el("p", { class: "error-text", text: r.error || "failed" })
					: el("div", { class: "answer", text: r.text || "" }));
				var c = P.citations(r.citations);
				if (c) sec.appendChild(c);
				sec.appendChild(P.resultMeta(r));
				box.appendChild(sec);
			});
			return box;
		}
		if (out && typeof out === "object") {
			box.appendChild(renderValue(out));
			box.appendChild(el("details", null, el("summary", { text: "Raw JSON" }),
				el("pre", { text: JSON.stringify(out, null, 2) })));
			return box;
		}
		box.appendChild(el("pre", { text: out === null || out === undefined ? "(no output)" : String(out) }));
		return box;
	}

	// ------------------------------------------------------------ start

	async function loadTypes() {
		var sel = $("job-type");
		try {
			var list = await aigw.getJobTypes();
			sel.replaceChildren();
			list.forEach(function (t) {
				types[t.name] = t;
				sel.appendChild(el("option", { value: t.name, text: humanize(t.name) }));
			});
			if (!list.length) {
				sel.appendChild(el("option", { text: "No job types are configured" }));
				return;
			}
			var m = /type=([^&]+)/.exec(location.hash);
			var want = m && decodeURIComponent(m[1]);
			if (want && types[want]) sel.value = want;
			sel.disabled = false;
			$("run").disabled = false;
			showType(sel.value);
			document.body.setAttribute("data-ready", "true");
		} catch (err) {
			sel.replaceChildren(el("option", { text: "Job types could not be loaded" }));
			$("form-error").textContent = "Could not load the job types: " + P.describeError(err);
		}
	}

	document.addEventListener("DOMContentLoaded", async function () {
		$("job-type").addEventListener("change", function () { showType(this.value); });
		$("job-form").addEventListener("submit", submit);
		$("dlg-cancel").addEventListener("click", cancelShown);
		$("dlg-hide").addEventListener("click", hideDialog);
		$("dlg-close").addEventListener("click", function () { $("job-dialog").close(); });
		$("job-dialog").addEventListener("close", function () {
			shown = null;
			if (ticker) {
				clearInterval(ticker);
				ticker = null;
			}
		});
		await loadTypes();
		await restore();
	});
})();
