/* pages.js: small helpers shared by the chat and jobs pages (not part of
 * the aigw.js client library). Exposes the global `aigwPages`. */
(function (root) {
	"use strict";

	var PROVIDER_NAMES = {
		openai: "OpenAI", anthropic: "Anthropic", gemini: "Gemini", perplexity: "Perplexity",
		"openai-batch": "OpenAI batch", "anthropic-batch": "Anthropic batch", snapshot: "Snapshot", mock: "Mock",
	};

	/** el("div", {class: "x", text: "hi"}, child, ...) */
	function el(tag, attrs) {
		var node = document.createElement(tag);
		for (var k in attrs || {}) {
			var v = attrs[k];
			if (v === undefined || v === null || v === false) continue;
			if (k === "text") node.textContent = v;
			else if (k === "class") node.className = v;
			else if (k.slice(0, 2) === "on" && typeof v === "function") node.addEventListener(k.slice(2), v);
			else node.setAttribute(k, v === true ? "" : String(v));
		}
		for (var i = 2; i < arguments.length; i++) {
			var c = arguments[i];
			if (c === null || c === undefined || c === false) continue;
			node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
		}
		return node;
	}

	function providerName(p) {
		return PROVIDER_NAMES[p] || p;
	}

	function fmtMs(ms) {
		if (typeof ms !== "number") return null;
		return ms < 1000 ? ms + " ms" : (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
	}

	function fmtCost(usd) {
		if (typeof usd !== "number") return "cost unknown";
		if (usd === 0) return "$0";
		return "$" + (usd < 0.01 ? usd.toPrecision(2) : usd.toFixed(4));
	}

	/** The latency · tokens · cost line of one provider result. */
	function resultMeta(r) {
		var parts = [];
		if (typeof r.latencyMs === "number") parts.push(["latency", fmtMs(r.latencyMs)]);
		if (r.usage) {
			parts.push(["tokens", (r.usage.inputTokens != null ? r.usage.inputTokens : "?") + " in / " +
				(r.usage.outputTokens != null ? r.usage.outputTokens : "?") + " out tokens"]);
		}
		if (r.ok) parts.push(["cost", fmtCost(r.costUsd)]);
		if (r.attempts > 1) parts.push(["attempts", r.attempts + " attempts"]);
		if (r.mock) parts.push(["mock", "offline mock"]);
		var meta = el("p", { class: "meta" });
		parts.forEach(function (p, i) {
			if (i) meta.appendChild(document.createTextNode(" · "));
			meta.appendChild(el("span", { "data-meta": p[0], text: p[1] }));
		});
		return meta;
	}

	function citations(list) {
		if (!Array.isArray(list) || !list.length) return null;
		var ol = el("ol", { class: "citations" });
		list.forEach(function (c) {
			var url = typeof c === "string" ? c : c && c.url;
			if (!url) return;
			var safe = /^https?:\/\//i.test(url);
			ol.appendChild(el("li", null, safe
				? el("a", { href: url, rel: "noopener noreferrer", target: "_blank", text: (c && c.title) || url })
				: el("span", { text: url })));
		});
		return el("details", { class: "sources" }, el("summary", { text: "Sources (" + list.length + ")" }), ol);
	}

	/** A toast in #toasts; actions: [{label, onClick}]. Stays until closed
	 *  when sticky, else for `ms` (default 8 s). */
	function toast(title, text, opts) {
		opts = opts || {};
		var box = document.getElementById("toasts");
		if (!box) return null;
		// The container is the live region; an error toast is an alert.
		var t = el("div", { class: "toast " + (opts.kind || "info"), role: opts.kind === "error" ? "alert" : null });
		t.appendChild(el("p", { class: "toast-title", text: title }));
		if (text) t.appendChild(el("p", { class: "toast-text", text: text }));
		var actions = el("div", { class: "toast-actions" });
		(opts.actions || []).forEach(function (a) {
			actions.appendChild(el("button", { type: "button", text: a.label, onclick: function () { close(); a.onClick(); } }));
		});
		actions.appendChild(el("button", { type: "button", class: "ghost", "aria-label": "Dismiss notification", text: "×", onclick: close }));
		t.appendChild(actions);
		box.appendChild(t);
		var timer = opts.sticky ? null : setTimeout(close, opts.ms || 8000);
		function close() {
			if (timer) clearTimeout(timer);
			if (t.parentNode) t.parentNode.removeChild(t);
		}
		return { element: t, close: close };
	}

	/** A readable sentence for an error of aigw.js. */
	function describeError(err) {
		if (!err) return "Something went wrong.";
		var msg = err.message || String(err);
		if (err.code === "network_error") return "aigw could not be reached. Check your connection and try again.";
		if (err.status === 429) return msg + (err.retryAfter ? " (try again in " + err.retryAfter + " s)" : "");
		return msg;
	}

	root.aigwPages = {
		el: el, providerName: providerName, fmtMs: fmtMs, fmtCost: fmtCost,
		resultMeta: resultMeta, citations: citations, toast: toast, describeError: describeError,
	};
})(window);
