/* chat.js: the chat page. Submits one message to the chosen providers and
 * shows one card per provider whose answer grows as it streams, rendered
 * as Markdown (markdown.js), for at most two minutes. The chat's id goes
 * into the URL (#<id>) so that a reload follows the same chat from where
 * the server has it; Stop cancels the chat on the server and keeps what
 * was written; the chats of this browser are listed until they expire.
 * It holds a conversation: once a chat sent from the page ends, its message
 * and the answer of the first provider that answered (ties in the page's
 * provider order) become two turns, sent with the next message as
 * `messages`, until "New conversation". */
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
		pending: "Queued", loading: "Answering…", streaming: "Writing…", done: "Done", failed: "Failed",
		cancelled: "Stopped", timeout: "No answer",
	};
	var FINAL_CARD = { done: 1, failed: 1, cancelled: 1, timeout: 1 };
	var HISTORY_KEY = "aigw.chats";
	var HISTORY_MAX = 20;
	var CHAT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

	var running = null; // {id, controller, cards, chosen, started, dirty, frame, sent, firstOk}
	// The conversation so far: [{role: "user"|"assistant", content, provider?, model?}].
	var conversation = [];

	function $(id) {
		return document.getElementById(id);
	}

	function say(text) {
		$("state").textContent = text;
	}

	// ------------------------------------------------------------ cards

	function makeCard(provider, model) {
		var card = el("article", {
			class: "card", "data-provider": provider, "data-state": "pending",
			"aria-labelledby": "card-title-" + provider,
		});
		var copy = el("button", {
			type: "button", class: "copy ghost", "data-copy": "", hidden: true,
			"aria-label": "Copy " + P.providerName(provider) + "'s answer", text: "Copy",
			onclick: function () { copyAnswer(card, copy); },
		});
		var head = el("header", { class: "card-head" },
			el("h2", { id: "card-title-" + provider },
				P.providerName(provider), el("span", { class: "model", text: model || "" })),
			el("span", { class: "card-tools" }, copy,
				el("span", { class: "badge", "data-badge": "", text: STATE_LABEL.pending })));
		card.appendChild(head);
		card.appendChild(el("div", { class: "card-body" },
			el("p", { class: "placeholder", text: "Waiting for a worker to pick this up…" })));
		card.answerText = "";
		return card;
	}

	function setCardState(card, state) {
		if (card.getAttribute("data-state") === state) return false;
		card.setAttribute("data-state", state);
		card.querySelector("[data-badge]").textContent = STATE_LABEL[state];
		card.setAttribute("aria-busy", FINAL_CARD[state] ? "false" : "true");
		return true;
	}

	function setText(card, text) {
		card.answerText = text || "";
		card.querySelector("[data-copy]").hidden = !card.answerText;
	}

	// The answer as Markdown into the card's body (one .answer element,
	// kept while the text grows so that the card does not jump).
	function showAnswer(card, text) {
		var body = card.querySelector(".card-body");
		var answer = body.querySelector(".answer");
		if (!answer) {
			answer = el("div", { class: "answer markdown" });
			body.replaceChildren(answer);
		}
		aigwMarkdown.fill(answer, text);
	}

	function loadingBody(card, text) {
		card.querySelector(".card-body").replaceChildren(
			el("p", { class: "placeholder" }, el("span", { class: "spinner", "aria-hidden": "true" }), " " + text));
	}

	function fillCard(card, result) {
		var body = card.querySelector(".card-body");
		body.replaceChildren();
		var text = typeof result.text === "string" ? result.text : "";
		if (result.ok) {
			setText(card, text);
			if (text) showAnswer(card, text);
			else body.appendChild(el("div", { class: "answer", text: "(empty answer)" }));
			if (result.cancelled) body.appendChild(el("p", { class: "note", text: "Stopped: the answer ends here." }));
			var c = P.citations(result.citations);
			if (c) body.appendChild(c);
		} else {
			setText(card, "");
			body.appendChild(el("p", { class: "error-text", text: result.cancelled
				? "Stopped before this provider answered." : result.error || "the provider failed" }));
		}
		if (result.model) card.querySelector(".model").textContent = result.model;
		body.appendChild(P.resultMeta(result));
		setCardState(card, result.cancelled ? "cancelled" : result.ok ? "done" : "failed");
	}

	// Streamed text is drawn once per animation frame, whatever the number
	// of deltas in between: Markdown is rendered from the whole text.
	function onDelta(provider, text) {
		if (!running || !running.cards[provider]) return;
		var card = running.cards[provider];
		if (FINAL_CARD[card.getAttribute("data-state")]) return;
		setText(card, text);
		running.dirty[provider] = true;
		if (!running.frame) running.frame = requestAnimationFrame(draw);
	}

	function draw() {
		if (!running) return;
		running.frame = 0;
		var dirty = running.dirty;
		running.dirty = {};
		Object.keys(dirty).forEach(function (p) {
			var card = running.cards[p];
			if (FINAL_CARD[card.getAttribute("data-state")]) return;
			if (card.answerText) {
				setCardState(card, "streaming");
				showAnswer(card, card.answerText);
			} else if (card.getAttribute("data-state") === "streaming") {
				// The server restarts this answer (its stream broke): start over.
				setCardState(card, "loading");
				loadingBody(card, "Trying again…");
			}
		});
	}

	function render(status) {
		if (!running) return;
		var results = status.results || {};
		var pending = status.pending || [];
		var answered = 0;
		running.chosen.forEach(function (provider) {
			var card = running.cards[provider];
			var r = results[provider];
			if (r && (r.ok === true || r.ok === false)) {
				answered++;
				if (r.ok && !r.cancelled && !running.firstOk) running.firstOk = provider;
				var want = r.cancelled ? "cancelled" : r.ok ? "done" : "failed";
				if (card.getAttribute("data-state") !== want) {
					fillCard(card, r);
					if (status.status !== "cancelled") {
						say(P.providerName(provider) + (r.ok ? " answered" : " failed") + " (" + answered + " of " +
							running.chosen.length + " so far)");
					}
				}
			} else if (status.status !== "pending" && (pending.indexOf(provider) >= 0 || r)) {
				if (card.getAttribute("data-state") === "pending" && setCardState(card, "loading"))
					loadingBody(card, "Waiting for the answer…");
			}
		});
		if (status.status === "pending") say("Queued; waiting for a worker…");
		else if (status.status === "processing" && answered === 0) {
			var writing = running.chosen.some(function (p) { return running.cards[p].answerText; });
			say(writing ? "The answers are being written…" : "Asking " + running.chosen.length + " providers…");
		}
	}

	function summary(status) {
		var results = status.results || {};
		var ok = 0, cost = 0, costKnown = false;
		Object.keys(results).forEach(function (p) {
			if (results[p].ok && !results[p].cancelled) ok++;
			if (typeof results[p].costUsd === "number") {
				cost += results[p].costUsd;
				costKnown = true;
			}
		});
		var secs = ((Date.now() - running.started) / 1000).toFixed(1);
		var text = ok + " of " + running.chosen.length + " providers answered in " + secs + " s";
		if (costKnown) text += " · total " + P.fmtCost(cost);
		if (status.status === "failed") text = "No provider answered (" + secs + " s). See each card for the reason.";
		if (status.status === "cancelled") text = "Stopped. What the providers had written is kept.";
		return text;
	}

	async function copyAnswer(card, button) {
		var text = card.answerText;
		var done = function (label) {
			button.textContent = label;
			setTimeout(function () { button.textContent = "Copy"; }, 1500);
		};
		try {
			if (navigator.clipboard && navigator.clipboard.writeText) {
				await navigator.clipboard.writeText(text);
			} else {
				var area = el("textarea", { class: "sr-only", "aria-hidden": "true" });
				area.value = text;
				document.body.appendChild(area);
				area.select();
				var copied = document.execCommand("copy");
				document.body.removeChild(area);
				if (!copied) throw new Error("copy refused");
			}
			done("Copied");
		} catch (e) {
			done("Copy failed");
		}
	}

	// ------------------------------------------------------------ the conversation

	function showConversation() {
		var list = $("conversation-list");
		list.replaceChildren();
		conversation.forEach(function (t) {
			var who = t.role === "user" ? "You"
				: P.providerName(t.provider) + (t.model ? " (" + t.model + ")" : "");
			list.appendChild(el("li", { "data-role": t.role, "data-provider": t.provider || null },
				el("span", { class: "who", text: who }), el("span", { class: "said", text: t.content })));
		});
		$("conversation").hidden = !conversation.length;
	}

	// What to send: the message alone, or the conversation and the message.
	function outgoing(message) {
		if (!conversation.length) return message;
		return conversation.map(function (t) { return { role: t.role, content: t.content }; })
			.concat([{ role: "user", content: message }]);
	}

	// After a chat sent from this page: its message and the first answer
	// join the conversation (nothing when no provider answered, or it was
	// stopped: the same message can be sent again).
	function keepTurn(run, final) {
		if (!run.sent || final.status === "cancelled" || !run.firstOk) return;
		var r = (final.results || {})[run.firstOk];
		if (!r || !r.ok || typeof r.text !== "string" || !r.text) return;
		conversation.push({ role: "user", content: run.message },
			{ role: "assistant", content: r.text, provider: run.firstOk, model: r.model || run.models[run.firstOk] });
		var card = run.cards[run.firstOk];
		card.setAttribute("data-kept", "true");
		card.querySelector(".card-body").appendChild(el("p", { class: "note kept",
			text: "Kept as the answer in this conversation: your next message is sent with it." }));
		$("message").value = "";
		showConversation();
	}

	function newConversation() {
		conversation = [];
		showConversation();
		$("message").focus();
	}

	// ------------------------------------------------------------ a chat

	function finish() {
		$("send").disabled = false;
		$("stop").hidden = true;
		$("results").setAttribute("aria-busy", "false");
	}

	function showCards(chosen, models) {
		var results = $("results");
		results.replaceChildren();
		results.removeAttribute("data-final");
		results.removeAttribute("data-chat-id");
		results.setAttribute("aria-busy", "true");
		var cards = {};
		chosen.forEach(function (p) {
			cards[p] = makeCard(p, models[p]);
			results.appendChild(cards[p]);
		});
		return cards;
	}

	// Follows chat `id` (just submitted, or found in the URL) to its end.
	async function follow(id) {
		var run = running;
		var results = $("results");
		results.setAttribute("data-chat-id", id);
		if (location.hash !== "#" + id && history.replaceState) history.replaceState(null, "", "#" + id);
		try {
			var final = await aigw.followChat(id, {
				onUpdate: render, onDelta: onDelta, timeoutMs: LIMIT_MS, signal: running.controller.signal,
			});
			draw();
			render(final);
			say(summary(final));
			keepTurn(run, final);
			results.setAttribute("data-final", final.status);
			remember({ id: id, status: final.status, expiresAt: final.expiresAt });
		} catch (err) {
			draw();
			var stopped = err.code === "aborted";
			running.chosen.forEach(function (p) {
				var card = running.cards[p];
				if (FINAL_CARD[card.getAttribute("data-state")]) return;
				var partial = card.getAttribute("data-state") === "streaming";
				setCardState(card, "timeout");
				var note = el("p", { class: "error-text",
					text: stopped ? "You stopped waiting before this provider answered."
						: err.code === "timeout" ? "No answer within " + LIMIT_TEXT + "."
						: "Unknown: " + P.describeError(err) });
				if (partial) card.querySelector(".card-body").appendChild(note);
				else card.querySelector(".card-body").replaceChildren(note);
			});
			results.setAttribute("data-final", stopped ? "stopped" : err.code === "timeout" ? "timeout" : "error");
			say(stopped ? "Stopped waiting. Answers that arrived are shown."
				: err.code === "timeout" ? "No final answer after " + LIMIT_TEXT + "; the answers that arrived are shown."
				: "Error: " + P.describeError(err));
		} finally {
			if (running && running.frame) cancelAnimationFrame(running.frame);
			running = null;
			finish();
			showHistory();
		}
	}

	function begin(chosen, models) {
		running = {
			id: null, controller: new AbortController(), cards: showCards(chosen, models), chosen: chosen,
			started: Date.now(), dirty: {}, frame: 0, sent: false, firstOk: null, models: models,
		};
		$("send").disabled = true;
		$("stop").hidden = false;
		return running;
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

		var run = begin(chosen, models);
		opts.signal = run.controller.signal;
		opts.onRetry = function (r) {
			say(r.reason === "busy" ? "aigw is busy; trying again in " + Math.ceil(r.waitMs / 1000) + " s…"
				: "aigw is unavailable; trying again…");
		};
		say("Sending…");
		var chat;
		try {
			chat = await aigw.submitChat(outgoing(message), models, opts);
		} catch (err) {
			$("results").replaceChildren();
			running = null;
			finish();
			showSubmitError(err);
			return;
		}
		run.id = chat.id;
		run.sent = true;
		run.message = message;
		remember({ id: chat.id, message: message, models: models, time: Date.now(), status: "pending" });
		say("Queued; waiting for a worker…");
		await follow(chat.id);
	}

	// A chat named in the URL: show its cards and follow it (a reload in
	// the middle of a stream continues from the server's text so far).
	async function resume(id) {
		if (running) return;
		var status;
		try {
			status = await aigw.getChat(id, { retries: 1 });
		} catch (err) {
			if (err.status === 404) {
				forget(id);
				if (history.replaceState) history.replaceState(null, "", location.pathname + location.search);
				say("That chat has expired (or belongs to someone else).");
			} else {
				say("Could not load chat " + id + ": " + P.describeError(err));
			}
			showHistory();
			return;
		}
		var saved = history_().filter(function (h) { return h.id === id; })[0] || {};
		var names = Object.keys(status.results || {}).concat(status.pending || []);
		var chosen = PROVIDERS.filter(function (p) { return names.indexOf(p) >= 0; })
			.concat(names.filter(function (p, i) { return PROVIDERS.indexOf(p) < 0 && names.indexOf(p) === i; }));
		if (saved.message && !$("message").value) $("message").value = saved.message;
		var run = begin(chosen, saved.models || {});
		run.id = id;
		if (status.createdAt && !isNaN(Date.parse(status.createdAt))) run.started = Date.parse(status.createdAt);
		say(aigw.isFinal("chat", status.status) ? "" : "Following the chat where it was…");
		await follow(id);
	}

	function showSubmitError(err) {
		var errBox = $("form-error");
		errBox.textContent = "Not sent: " + P.describeError(err);
		say("");
		// models.gemini → that model's input; message → the message box.
		var f = err.field || "";
		var target = f === "message" || f.indexOf("messages") === 0 ? $("message")
			: f.indexOf("models.") === 0 ? $("model-" + f.slice(7)) : null;
		if (target) {
			target.setAttribute("aria-invalid", "true");
			target.focus();
		}
	}

	// ------------------------------------------------------------ past chats

	function history_() {
		try {
			var list = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]");
			return Array.isArray(list) ? list.filter(function (h) { return h && CHAT_ID.test(h.id || ""); }) : [];
		} catch (e) {
			return [];
		}
	}

	function store(list) {
		try {
			localStorage.setItem(HISTORY_KEY, JSON.stringify(list.slice(0, HISTORY_MAX)));
		} catch (e) { /* private mode or full: the list is not kept */ }
	}

	/** Adds a chat of this browser (first in the list) or updates it. */
	function remember(entry) {
		if (entry.message) entry.message = String(entry.message).slice(0, 300);
		var list = history_();
		var i = list.map(function (h) { return h.id; }).indexOf(entry.id);
		if (i >= 0) list[i] = Object.assign({}, list[i], entry);
		else list.unshift(entry);
		store(list);
	}

	function forget(id) {
		store(history_().filter(function (h) { return h.id !== id; }));
	}

	function showHistory() {
		var list = history_();
		var ul = $("history-list");
		ul.replaceChildren();
		list.forEach(function (h) {
			var when = typeof h.time === "number" ? new Date(h.time).toLocaleString() : "";
			ul.appendChild(el("li", { "data-chat-id": h.id },
				el("a", { href: "#" + h.id, text: h.message || h.id }),
				el("small", { text: [when, h.status].filter(Boolean).join(" · ") })));
		});
		$("history").hidden = !list.length;
	}

	// Drops the chats the server no longer has (expired: 404).
	async function pruneHistory() {
		var now = Date.now();
		var seen = {};
		await Promise.all(history_().map(async function (h) {
			if (h.expiresAt && Date.parse(h.expiresAt) < now) {
				seen[h.id] = null;
				return;
			}
			try {
				seen[h.id] = await aigw.getChat(h.id, { retries: 0 });
			} catch (err) {
				if (err.status === 404) seen[h.id] = null;
			}
		}));
		store(history_().filter(function (h) { return seen[h.id] !== null; }).map(function (h) {
			var st = seen[h.id];
			if (st && !(running && running.id === h.id)) {
				h.status = st.status;
				if (st.expiresAt) h.expiresAt = st.expiresAt;
			}
			return h;
		}));
		showHistory();
	}

	// ------------------------------------------------------------ start

	function hashId() {
		var h = decodeURIComponent(location.hash.slice(1));
		return CHAT_ID.test(h) ? h : null;
	}

	document.addEventListener("DOMContentLoaded", function () {
		var form = $("chat-form");
		form.addEventListener("submit", send);
		form.addEventListener("keydown", function (e) {
			if (e.key !== "Enter" || !(e.ctrlKey || e.metaKey)) return;
			e.preventDefault();
			if (form.requestSubmit) form.requestSubmit();
			else form.dispatchEvent(new Event("submit", { cancelable: true }));
		});
		$("new-conversation").addEventListener("click", newConversation);
		$("stop").addEventListener("click", function () {
			if (!running) return;
			say("Stopping…");
			running.controller.abort();
		});
		PROVIDERS.forEach(function (p) {
			var box = $("use-" + p);
			var sync = function () { $("model-" + p).disabled = !box.checked; };
			box.addEventListener("change", sync);
			sync();
		});
		window.addEventListener("hashchange", function () {
			var id = hashId();
			if (!id || (running && running.id === id)) return;
			// Following another chat: load it afresh (the one shown goes on
			// running on the server and stays in the list).
			if (running) location.reload();
			else resume(id);
		});
		showHistory();
		var id = hashId();
		if (id) resume(id);
		pruneHistory();
	});
})();
