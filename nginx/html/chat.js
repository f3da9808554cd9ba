/* chat.js: the chat page. Submits one message to the chosen providers and
 * fills in one card per provider as its answer arrives (pending →
 * loading → done or failed), for at most two minutes. */
(function () {
	"use strict";
	var P = window.aigwPages;
	var el = P.el;
	var PROVIDERS = ["openai", "anthropic", "gemini", "perplexity"];
	// How long to wait for the final state (a page may set aigwChatLimitMs first).
	var LIMIT_MS = window.aigwChatLimitMs || 120000;
	var LIMIT_TEXT = LIMIT_MS % 60000 === 0 ? LIMIT_MS / 60000 + " minute" + (LIMIT_MS === 60000 ? "" : "s")
		: Math.round(LIMIT_MS / 1000) + " s";
	var STATE_LABEL = {
		pending: "Queued", loading: "Answering…", done: "Done", failed: "Failed", timeout: "No answer",
	};

	var running = null; // {controller, cards, started, chosen}

	function $(id) {
		return document.getElementById(id);
	}

	function say(text) {
		$("state").textContent = text;
	}

	function makeCard(provider, model) {
		var card = el("article", {
			class: "card", "data-provider": provider, "data-state": "pending",
			"aria-labelledby": "card-title-" + provider,
		});
		var head = el("header", { class: "card-head" },
			el("h2", { id: "card-title-" + provider },
				P.providerName(provider), el("span", { class: "model", text: model })),
			el("span", { class: "badge", "data-badge": "", text: STATE_LABEL.pending }));
		card.appendChild(head);
		card.appendChild(el("div", { class: "card-body" },
			el("p", { class: "placeholder", text: "Waiting for a worker to pick this up…" })));
		return card;
	}

	function setCardState(card, state) {
		if (card.getAttribute("data-state") === state) return false;
		card.setAttribute("data-state", state);
		card.querySelector("[data-badge]").textContent = STATE_LABEL[state];
		card.setAttribute("aria-busy", state === "pending" || state === "loading" ? "true" : "false");
		return true;
	}

	function fillCard(card, result) {
		var body = card.querySelector(".card-body");
		body.replaceChildren();
		if (result.ok) {
			body.appendChild(el("div", { class: "answer", text: result.text || "(empty answer)" }));
			var c = P.citations(result.citations);
			if (c) body.appendChild(c);
		} else {
			body.appendChild(el("p", { class: "error-text", text: result.error || "the provider failed" }));
		}
		if (result.model) card.querySelector(".model").textContent = result.model;
		body.appendChild(P.resultMeta(result));
		setCardState(card, result.ok ? "done" : "failed");
	}

	function render(status) {
		if (!running) return;
		var results = status.results || {};
		var pending = status.pending || [];
		var answered = 0;
		running.chosen.forEach(function (provider) {
			var card = running.cards[provider];
			var r = results[provider];
			if (r) {
				answered++;
				if (card.getAttribute("data-state") !== (r.ok ? "done" : "failed")) {
					fillCard(card, r);
					say(P.providerName(provider) + (r.ok ? " answered" : " failed") + " (" + answered + " of " +
						running.chosen.length + " so far)");
				}
			} else if (status.status !== "pending" && pending.indexOf(provider) >= 0) {
				if (setCardState(card, "loading")) {
					card.querySelector(".card-body").replaceChildren(
						el("p", { class: "placeholder" }, el("span", { class: "spinner", "aria-hidden": "true" }), " Waiting for the answer…"));
				}
			}
		});
		if (status.status === "pending") say("Queued; waiting for a worker…");
		else if (status.status === "processing" && answered === 0) say("Asking " + running.chosen.length + " providers…");
	}

	function summary(status) {
		var results = status.results || {};
		var ok = 0, cost = 0, costKnown = false;
		Object.keys(results).forEach(function (p) {
			if (results[p].ok) ok++;
			if (typeof results[p].costUsd === "number") {
				cost += results[p].costUsd;
				costKnown = true;
			}
		});
		var secs = ((Date.now() - running.started) / 1000).toFixed(1);
		var text = ok + " of " + running.chosen.length + " providers answered in " + secs + " s";
		if (costKnown) text += " · total " + P.fmtCost(cost);
		if (status.status === "failed") text = "No provider answered (" + secs + " s). See each card for the reason.";
		return text;
	}

	function finish() {
		$("send").disabled = false;
		$("stop").hidden = true;
		$("results").setAttribute("aria-busy", "false");
	}

	async function send(ev) {
		ev.preventDefault();
		if (running) return;
		var errBox = $("form-error");
		errBox.textContent = "";
		var message = $("message").value;
		if (!message.trim()) {
			errBox.textContent = "Write a message first.";
			$("message").setAttribute("aria-invalid", "true");
			$("message").focus();
			return;
		}
		$("message").removeAttribute("aria-invalid");
		var models = {};
		var chosen = [];
		for (var i = 0; i < PROVIDERS.length; i++) {
			var p = PROVIDERS[i];
			var input = $("model-" + p);
			input.removeAttribute("aria-invalid");
			if (!$("use-" + p).checked) continue;
			var m = input.value.trim();
			if (!m) {
				errBox.textContent = "Give a model for " + P.providerName(p) + ", or untick it.";
				input.setAttribute("aria-invalid", "true");
				input.focus();
				return;
			}
			models[p] = m;
			chosen.push(p);
		}
		if (!chosen.length) {
			errBox.textContent = "Tick at least one provider.";
			return;
		}
		var opts = {};
		if ($("system").value.trim()) opts.system = $("system").value;
		if ($("max-tokens").value) opts.maxTokens = Number($("max-tokens").value);
		if ($("location").value.trim()) opts.location = $("location").value.trim().toUpperCase();
		if ($("websearch").checked) opts.websearch = true;

		var controller = new AbortController();
		opts.signal = controller.signal;
		opts.onRetry = function (r) {
			say(r.reason === "busy" ? "aigw is busy; trying again in " + Math.ceil(r.waitMs / 1000) + " s…"
				: "aigw is unavailable; trying again…");
		};
		var results = $("results");
		results.replaceChildren();
		results.setAttribute("aria-busy", "true");
		running = { controller: controller, cards: {}, chosen: chosen, started: Date.now() };
		chosen.forEach(function (p) {
			running.cards[p] = makeCard(p, models[p]);
			results.appendChild(running.cards[p]);
		});
		$("send").disabled = true;
		$("stop").hidden = false;
		say("Sending…");
		var chat;
		try {
			chat = await aigw.submitChat(message, models, opts);
		} catch (err) {
			results.replaceChildren();
			running = null;
			finish();
			showSubmitError(err);
			return;
		}
		results.setAttribute("data-chat-id", chat.id);
		say("Queued; waiting for a worker…");
		try {
			var final = await aigw.pollChat(chat.id, {
				onUpdate: render, intervalMs: 1000, timeoutMs: LIMIT_MS, signal: controller.signal,
			});
			render(final);
			say(summary(final));
			results.setAttribute("data-final", final.status);
		} catch (err) {
			var stopped = err.code === "aborted";
			chosen.forEach(function (p) {
				var card = running.cards[p];
				var st = card.getAttribute("data-state");
				if (st === "pending" || st === "loading") {
					setCardState(card, "timeout");
					card.querySelector(".card-body").replaceChildren(el("p", { class: "error-text",
						text: stopped ? "You stopped waiting before this provider answered."
							: err.code === "timeout" ? "No answer within " + LIMIT_TEXT + "."
							: "Unknown: " + P.describeError(err) }));
				}
			});
			results.setAttribute("data-final", stopped ? "stopped" : err.code === "timeout" ? "timeout" : "error");
			say(stopped ? "Stopped waiting. Answers that arrived are shown."
				: err.code === "timeout" ? "No final answer after " + LIMIT_TEXT + "; the answers that arrived are shown."
				: "Error: " + P.describeError(err));
		} finally {
			running = null;
			finish();
		}
	}

	function showSubmitError(err) {
		var errBox = $("form-error");
		errBox.textContent = "Not sent: " + P.describeError(err);
		say("");
		// models.gemini → that model's input; message → the message box.
		var f = err.field || "";
		var target = f === "message" ? $("message")
			: f.indexOf("models.") === 0 ? $("model-" + f.slice(7)) : null;
		if (target) {
			target.setAttribute("aria-invalid", "true");
			target.focus();
		}
	}

	document.addEventListener("DOMContentLoaded", function () {
		$("chat-form").addEventListener("submit", send);
		$("stop").addEventListener("click", function () {
			if (running) running.controller.abort();
		});
		PROVIDERS.forEach(function (p) {
			var box = $("use-" + p);
			var sync = function () { $("model-" + p).disabled = !box.checked; };
			box.addEventListener("change", sync);
			sync();
		});
	});
})();
