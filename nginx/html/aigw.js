/*
 * aigw.js: a small browser client for aigw's HTTP API (docs/api.md, "Web
 * pages and the JavaScript client"). Plain JavaScript, no build step, no
 * dependency: load it with <script src="aigw.js"></script> and use the
 * global `aigw`, or import it as an ES module from aigw.mjs (which loads
 * this file: the one source of both), typed by aigw.d.ts.
 *
 *   aigw.create({baseUrl, token, ...})              a client of its own (another
 *                                                   backend, another token)
 *   aigw.configure({baseUrl, token, ...})           this client's options
 *   aigw.submitChat(message, models, opts)          POST /api/ai/chat (message:
 *                                                   a string, or an array of
 *                                                   turns sent as messages)
 *   aigw.pollChat(id, {onUpdate, intervalMs, timeoutMs, signal})
 *   aigw.submitJob(type, input, opts)               POST /api/jobs
 *   aigw.processAsyncJob(request, {pollInterval, maxPollAttempts, timeout,
 *                                  onProgress, signal})
 *   aigw.cancelJob(id)                              POST /api/jobs/<id>/cancel
 *   aigw.getJobTypes()                              GET /api/jobtypes
 *   aigw.subscribe(kind, id, onEvent, opts)         events, long-poll or polling
 *   aigw.streamChat(message, models, {onDelta, onUpdate, signal})
 *   aigw.followChat(id, {onDelta, onUpdate, signal})
 *   aigw.cancelChat(id)                             POST /api/ai/chat/cancel
 *
 * Every failure is an aigw.AigwError with `status`, `code` and, where the
 * API names one, `field`.
 */
(function (root) {
	"use strict";

	// The library's version (package.json's), also aigw.version.
	var VERSION = "0.9.0";

	var FINAL = {
		chat: ["completed", "failed", "cancelled"],
		job: ["completed", "failed", "cancelled"],
	};

	// What create() and configure() take; each client has its own copy.
	var DEFAULTS = {
		baseUrl: "",          // "" = the page's own origin
		token: null,          // AIGW_AUTH=keys: sent as Authorization: Bearer <token>
		headers: {},          // more headers for every request
		retries: 3,           // retries after 429, 503 and network loss
		backoffMs: 500,       // first backoff; doubles, with jitter
		maxBackoffMs: 8000,
		maxRetryAfterS: 30,   // a longer Retry-After is cut to this
		onRetry: null,        // function ({attempt, waitMs, status, code, reason})
	};

	// ------------------------------------------------------------ errors

	/** An error of the API (its `code`, `error` sentence and `field`), or
	 *  of the client: network_error, timeout, aborted, bad_response,
	 *  job_failed, job_cancelled. */
	class AigwError extends Error {
		constructor(message, props) {
			super(message);
			this.name = "AigwError";
			this.status = 0;
			this.code = "error";
			this.field = null;
			this.retryAfter = null;
			this.requestId = null;
			this.body = null;
			if (props) {
				for (var k in props) {
					if (Object.prototype.hasOwnProperty.call(props, k) && props[k] !== undefined)
						this[k] = props[k];
				}
			}
		}
	}

	function abortError(signal, what) {
		var e = new AigwError((what || "the request") + " was aborted", { code: "aborted" });
		e.name = "AbortError";
		if (signal && signal.reason !== undefined) e.reason = signal.reason;
		return e;
	}

	function isAbort(e) {
		return e && (e.name === "AbortError" || e.code === "aborted");
	}

	function throwIfAborted(signal, what) {
		if (signal && signal.aborted) throw abortError(signal, what);
	}

	function parseRetryAfter(value) {
		if (value == null || value === "") return null;
		var n = Number(value);
		if (isFinite(n) && n >= 0) return n;
		var t = Date.parse(value);
		return isNaN(t) ? null : Math.max(0, (t - Date.now()) / 1000);
	}

	function errorFromResponse(res, body) {
		var msg = body && typeof body.error === "string" && body.error
			? body.error
			: "aigw answered HTTP " + res.status + (res.statusText ? " " + res.statusText : "");
		return new AigwError(msg, {
			status: res.status,
			code: body && typeof body.code === "string" ? body.code : "http_" + res.status,
			field: body && typeof body.field === "string" ? body.field : null,
			retryAfter: parseRetryAfter(res.headers.get("Retry-After")),
			requestId: res.headers.get("X-Request-Id"),
			body: body,
		});
	}

	// ------------------------------------------------------------ streamed text

	/**
	 * The text so far of each provider of one chat (of each step and
	 * provider of one job), rebuilt from what the server sends by the rule
	 * of its events: a `delta` appends, a `reset` clears, a status's final
	 * result (`ok` true or false) replaces the text with the final one, and
	 * a status's streaming entry that carries `text` (long-poll and plain
	 * status do; an event stream's progress does not) replaces it with
	 * that text so far. Each apply* returns the changes as
	 * [{provider, step, text}] (step is null for a chat).
	 */
	class StreamText {
		constructor() {
			this.texts = {};
			this.done = {};  // keys with a final result: later pieces are stale
			this.lastSeq = 0;
		}

		static key(provider, step) {
			return step === null || step === undefined ? String(provider) : step + "\u0000" + provider;
		}

		get(provider, step) {
			var t = this.texts[StreamText.key(provider, step)];
			return t === undefined ? "" : t;
		}

		set(provider, step, text, out) {
			var k = StreamText.key(provider, step);
			if (this.texts[k] === text) return;
			this.texts[k] = text;
			out.push({ provider: provider, step: step === undefined ? null : step, text: text });
		}

		/** One `delta` or `reset` event's data ({provider, text, seq, step?}).
		 *  A piece at or below a sequence already applied is a repeat. */
		applyPiece(event, data) {
			var out = [];
			if (!data || typeof data.provider !== "string") return out;
			if (typeof data.seq === "number") {
				if (data.seq <= this.lastSeq) return out;
				this.lastSeq = data.seq;
			}
			var step = typeof data.step === "number" ? data.step : null;
			if (this.done[StreamText.key(data.provider, step)]) return out;
			if (event === "reset") this.set(data.provider, step, "", out);
			else if (event === "delta" && typeof data.text === "string" && data.text !== "")
				this.set(data.provider, step, this.get(data.provider, step) + data.text, out);
			return out;
		}

		/** A status JSON (chat or job). */
		applyStatus(state) {
			var out = [];
			if (!state || typeof state !== "object") return out;
			var self = this;
			var take = function (results, step) {
				if (!results || typeof results !== "object") return;
				Object.keys(results).forEach(function (p) {
					var r = results[p];
					if (!r || typeof r !== "object") return;
					if (r.ok === true || r.ok === false) {
						self.done[StreamText.key(p, step)] = true;
						self.set(p, step, r.ok && typeof r.text === "string" ? r.text : "", out);
					} else if (r.streaming && typeof r.text === "string") {
						self.set(p, step, r.text, out);
					}
				});
			};
			if (Array.isArray(state.steps)) {
				state.steps.forEach(function (s, i) {
					if (s && typeof s === "object") take(s.results, typeof s.index === "number" ? s.index : i);
				});
			} else {
				take(state.results, null);
			}
			return out;
		}
	}

	function isFinal(kind, status) {
		return (FINAL[kind] || []).indexOf(status) >= 0;
	}

	/**
	 * A client of its own: options are those of configure() (baseUrl,
	 * token, headers, retries...), the rest taken from DEFAULTS. Clients
	 * share nothing, so one page can talk to two backends.
	 */
	function create(options) {
		var config = Object.assign({}, DEFAULTS, { headers: {} });

		// ------------------------------------------------------------ helpers

		function sleep(ms, signal) {
			return new Promise(function (resolve, reject) {
				if (signal && signal.aborted) return reject(abortError(signal));
				var t = setTimeout(done, Math.max(0, ms));
				function done() {
					if (signal) signal.removeEventListener("abort", onAbort);
					resolve();
				}
				function onAbort() {
					clearTimeout(t);
					reject(abortError(signal));
				}
				if (signal) signal.addEventListener("abort", onAbort, { once: true });
			});
		}

		/** Exponential backoff with full jitter: attempt 1 waits up to backoffMs. */
		function backoff(attempt) {
			var cap = Math.min(config.maxBackoffMs, config.backoffMs * Math.pow(2, attempt - 1));
			return cap / 2 + Math.random() * cap / 2;
		}

		function uuid() {
			var c = root.crypto;
			if (c && typeof c.randomUUID === "function") return c.randomUUID();
			var b = new Uint8Array(16);
			if (c && c.getRandomValues) c.getRandomValues(b);
			else for (var i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
			b[6] = (b[6] & 0x0f) | 0x40;
			b[8] = (b[8] & 0x3f) | 0x80;
			var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
			return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
		}

		function headersFor(extra) {
			var h = {};
			var k;
			for (k in config.headers) h[k] = config.headers[k];
			if (config.token) h.Authorization = "Bearer " + config.token;
			for (k in extra || {}) h[k] = extra[k];
			return h;
		}

		function query(params) {
			var parts = [];
			for (var k in params) {
				if (params[k] !== undefined && params[k] !== null)
					parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(params[k]));
			}
			return parts.length ? "?" + parts.join("&") : "";
		}

		async function readJson(res) {
			var text;
			try {
				text = await res.text();
			} catch (e) {
				return null;
			}
			if (!text) return null;
			try {
				return JSON.parse(text);
			} catch (e) {
				return null;
			}
		}

		function linkSignal(from, controller) {
			if (!from) return function () {};
			if (from.aborted) {
				controller.abort(from.reason);
				return function () {};
			}
			var on = function () { controller.abort(from.reason); };
			from.addEventListener("abort", on, { once: true });
			return function () { from.removeEventListener("abort", on); };
		}

		// ------------------------------------------------------------ requests

		/**
		 * One API call with aigw's error rules: 2xx gives {status, body,
		 * headers}; 429 (and 409 idempotency_in_progress) waits Retry-After
		 * and tries again, 503 backs off and tries again, a network failure
		 * backs off and tries again (unless retryNetwork is false), each at
		 * most `retries` times; anything else is an AigwError.
		 */
		async function request(method, path, opts) {
			opts = opts || {};
			var retries = opts.retries != null ? opts.retries : config.retries;
			var url = (config.baseUrl || "") + path;
			var init = {
				method: method,
				headers: headersFor(Object.assign(
					{ Accept: "application/json" },
					opts.body !== undefined ? { "Content-Type": "application/json" } : {},
					opts.headers || {})),
				cache: "no-store",
				credentials: "same-origin",
				signal: opts.signal,
			};
			if (opts.body !== undefined) init.body = JSON.stringify(opts.body);
			var onRetry = opts.onRetry || config.onRetry;
			for (var attempt = 0; ; attempt++) {
				throwIfAborted(opts.signal);
				var res;
				try {
					res = await fetch(url, init);
				} catch (e) {
					if (opts.signal && opts.signal.aborted) throw abortError(opts.signal);
					if (opts.retryNetwork === false || attempt >= retries) {
						throw new AigwError("aigw could not be reached (" + method + " " + path + ")" +
							(attempt ? " after " + (attempt + 1) + " attempts" : "") + ": " +
							(e && e.message ? e.message : String(e)), { code: "network_error", cause: e });
					}
					var wait = backoff(attempt + 1);
					if (onRetry) onRetry({ attempt: attempt + 1, waitMs: wait, status: 0, code: "network_error", reason: "network" });
					await sleep(wait, opts.signal);
					continue;
				}
				var body = await readJson(res);
				if (res.ok) {
					if (body === null && res.status !== 204)
						throw new AigwError("aigw answered HTTP " + res.status + " without JSON", {
							status: res.status, code: "bad_response", requestId: res.headers.get("X-Request-Id"),
						});
					return { status: res.status, body: body, headers: res.headers };
				}
				var err = errorFromResponse(res, body);
				var busy = res.status === 429 || (res.status === 409 && err.code === "idempotency_in_progress");
				var down = res.status === 503 || res.status === 502 || res.status === 504;
				if ((busy || down) && attempt < retries) {
					var ra = err.retryAfter;
					var w = busy ? (ra != null ? ra * 1000 : backoff(attempt + 1))
						: Math.max(backoff(attempt + 1), ra != null ? ra * 1000 : 0);
					w = Math.min(w, config.maxRetryAfterS * 1000);
					if (onRetry) onRetry({ attempt: attempt + 1, waitMs: w, status: res.status, code: err.code, reason: busy ? "busy" : "unavailable" });
					await sleep(w, opts.signal);
					continue;
				}
				throw err;
			}
		}

		// ------------------------------------------------------------ chats

		/**
		 * Submits a chat. models: {provider: model}. opts: system, maxTokens
		 * (or max_tokens), websearch, location, signal, headers. Resolves with
		 * the 202 body plus `id` (the chatId) and `retryAfter` (seconds).
		 * A chat submit is not retried after a network failure (it might have
		 * been stored); 429 and 503 are.
		 */
		async function submitChat(message, models, opts) {
			opts = opts || {};
			// An array of turns is a conversation: sent as messages.
			var body = Array.isArray(message) ? { messages: message, models: models }
				: { message: message, models: models };
			if (opts.system != null) body.system = opts.system;
			var mt = opts.maxTokens != null ? opts.maxTokens : opts.max_tokens;
			if (mt != null) body.max_tokens = mt;
			if (opts.websearch != null) body.websearch = !!opts.websearch;
			if (opts.location) body.location = opts.location;
			var r = await request("POST", "/api/ai/chat", {
				body: body, signal: opts.signal, headers: opts.headers, retryNetwork: false, onRetry: opts.onRetry,
			});
			var out = Object.assign({}, r.body);
			out.id = r.body.chatId;
			out.retryAfter = parseRetryAfter(r.headers.get("Retry-After")) || 1;
			return out;
		}

		/** GET /api/ai/chat/status once. */
		async function getChat(id, opts) {
			opts = opts || {};
			return (await request("GET", "/api/ai/chat/status" + query({ id: id }), opts)).body;
		}

		/**
		 * Follows a chat until it is completed or failed, calling
		 * onUpdate(status) at each new version. Resolves with the final status
		 * (also when it is `failed`: each provider's error is in `results`);
		 * rejects with code `timeout` after timeoutMs (default 2 minutes; the
		 * error's `state` is the last status seen).
		 */
		function pollChat(id, opts) {
			opts = opts || {};
			return subscribe("chat", id, opts.onUpdate, {
				intervalMs: opts.intervalMs != null ? opts.intervalMs : 1000,
				timeoutMs: opts.timeoutMs != null ? opts.timeoutMs : 120000,
				signal: opts.signal,
				transport: opts.transport,
				onTransport: opts.onTransport,
			}).done;
		}

		/** POST /api/ai/chat/cancel?id=: stops the chat's providers; resolves
		 *  with its status (`cancelled`, each provider's text so far kept; a
		 *  chat that had already finished comes back unchanged). */
		async function cancelChat(id, opts) {
			opts = opts || {};
			return (await request("POST", "/api/ai/chat/cancel" + query({ id: id }), {
				signal: opts.signal, headers: opts.headers,
			})).body;
		}

		/**
		 * Follows a chat as its answers stream: onDelta(provider, text, state)
		 * with each provider's whole text so far whenever it grows (or is
		 * cleared, when the server restarts that provider's answer),
		 * onUpdate(status) at each new version. Resolves with the final status
		 * (`completed`, `failed` or `cancelled`). Aborting opts.signal cancels
		 * the chat on the server and resolves with the cancelled status (each
		 * provider's text so far kept), which onUpdate gets too; it rejects
		 * with `aborted` only when the cancel could not be made (its error is
		 * the `cause`). Rejects with `timeout` after timeoutMs (default 2
		 * minutes) without cancelling. opts: onDelta, onUpdate, signal,
		 * timeoutMs, transport, onTransport, intervalMs.
		 */
		async function followChat(id, opts) {
			opts = opts || {};
			var user = opts.signal;
			var ctl = new AbortController();
			var sub = subscribe("chat", id, opts.onUpdate, {
				onDelta: opts.onDelta,
				intervalMs: opts.intervalMs != null ? opts.intervalMs : 1000,
				timeoutMs: opts.timeoutMs != null ? opts.timeoutMs : 120000,
				signal: ctl.signal,
				transport: opts.transport,
				onTransport: opts.onTransport,
			});
			var stopped = null;
			var onAbort = function () {
				stopped = cancelChat(id).then(function (state) {
					sub.push(state);
					return state;
				}, function (e) {
					var err = abortError(user, "chat " + id);
					err.cause = e;
					err.chatId = id;
					throw err;
				});
				ctl.abort();
			};
			if (user) {
				if (user.aborted) onAbort();
				else user.addEventListener("abort", onAbort, { once: true });
			}
			try {
				return await sub.done;
			} catch (e) {
				if (stopped) return await stopped;
				e.chatId = id;
				throw e;
			} finally {
				if (user) user.removeEventListener("abort", onAbort);
			}
		}

		/**
		 * Submits a chat and follows it as its answers stream (followChat).
		 * opts: those of submitChat and of followChat, and onSubmit(chat)
		 * called with the 202 body once the chat is stored (its `id` is the
		 * chatId). A signal that fires while the submit is under way rejects
		 * with `aborted` (the chat may or may not have been stored).
		 */
		async function streamChat(message, models, opts) {
			opts = opts || {};
			throwIfAborted(opts.signal, "the chat");
			var chat = await submitChat(message, models, opts);
			if (opts.onSubmit) opts.onSubmit(chat);
			return followChat(chat.id, opts);
		}

		// ------------------------------------------------------------ jobs

		/**
		 * Submits a job. opts: decisionId, idempotencyKey (default: a new
		 * random key, so that retries after a network failure never create
		 * a second job; false sends none), signal, headers. Resolves with the
		 * 202 (or 200, for a replayed key) body plus `retryAfter` (seconds).
		 */
		async function submitJob(type, input, opts) {
			opts = opts || {};
			var body = { type: type, input: input || {} };
			var decision = opts.decisionId != null ? opts.decisionId : opts.decision_id;
			if (decision != null) body.decision_id = decision;
			var headers = Object.assign({}, opts.headers || {});
			var key = opts.idempotencyKey === undefined ? uuid() : opts.idempotencyKey;
			if (key) headers["Idempotency-Key"] = key;
			var r = await request("POST", "/api/jobs", {
				body: body, signal: opts.signal, headers: headers, retryNetwork: !!key, onRetry: opts.onRetry,
			});
			var out = Object.assign({}, r.body);
			out.id = r.body.id || r.body.job_id;
			out.retryAfter = parseRetryAfter(r.headers.get("Retry-After")) || 2;
			out.idempotencyKey = key || null;
			return out;
		}

		function jobPath(id, rest) {
			return "/api/jobs/" + encodeURIComponent(id) + (rest || "");
		}

		/** POST /api/jobs/<id>/cancel; resolves with the job (now cancelled, or
		 *  as it was when it had already finished). */
		async function cancelJob(id, opts) {
			opts = opts || {};
			return (await request("POST", jobPath(id, "/cancel"), { signal: opts.signal })).body;
		}

		/** GET /api/jobs/<id>: the job with its output. */
		async function getJob(id, opts) {
			return (await request("GET", jobPath(id), opts || {})).body;
		}

		/** GET /api/jobs/<id>/status: the job without its output. */
		async function getJobStatus(id, opts) {
			return (await request("GET", jobPath(id, "/status"), opts || {})).body;
		}

		/** GET /api/jobs/<id>/result: {status, result} or {status, error}. */
		async function getJobResult(id, opts) {
			return (await request("GET", jobPath(id, "/result"), opts || {})).body;
		}

		/** GET /api/jobs: the caller's jobs, newest first. */
		async function listJobs(params, opts) {
			return (await request("GET", "/api/jobs" + query(params || {}), opts || {})).body;
		}

		/** GET /api/jobtypes: resolves with the array of job types. */
		async function getJobTypes(opts) {
			var body = (await request("GET", "/api/jobtypes", opts || {})).body;
			return body.jobtypes || [];
		}

		/**
		 * Submits a job and follows it to its final state. request: {type,
		 * input, decision_id?, idempotencyKey?}. opts: pollInterval (ms;
		 * default the server's Retry-After), maxPollAttempts (default 150),
		 * timeout (ms, default 300000), onProgress(status), onSubmit(job),
		 * signal, transport. Resolves with the job's result (its output);
		 * rejects with an AigwError: the API's error, `job_failed` (message:
		 * the job's error), `job_cancelled`, `timeout`, or `aborted` (the
		 * signal fired: the job is cancelled on the server too). The error
		 * carries `jobId` and `state` (the last status) where known.
		 */
		async function processAsyncJob(req, opts) {
			opts = opts || {};
			req = req || {};
			var job = await submitJob(req.type, req.input, {
				decisionId: req.decision_id != null ? req.decision_id : req.decisionId,
				idempotencyKey: req.idempotencyKey,
				signal: opts.signal,
				onRetry: opts.onRetry,
			});
			if (opts.onSubmit) opts.onSubmit(job);
			var final;
			try {
				final = await subscribe("job", job.id, opts.onProgress, {
					intervalMs: opts.pollInterval != null ? opts.pollInterval : job.retryAfter * 1000,
					maxPollAttempts: opts.maxPollAttempts != null ? opts.maxPollAttempts : 150,
					timeoutMs: opts.timeout != null ? opts.timeout : 300000,
					signal: opts.signal,
					transport: opts.transport,
					onTransport: opts.onTransport,
				}).done;
			} catch (e) {
				if (isAbort(e)) {
					try {
						await cancelJob(job.id);
					} catch (ignored) { /* reported as aborted all the same */ }
				}
				e.jobId = job.id;
				throw e;
			}
			if (final.status === "completed") {
				var r = await getJobResult(job.id, { signal: opts.signal });
				return r.result;
			}
			if (final.status === "cancelled")
				throw new AigwError("the job was cancelled", { code: "job_cancelled", jobId: job.id, state: final });
			throw new AigwError(final.error || "the job failed", { code: "job_failed", jobId: job.id, state: final });
		}

		// ------------------------------------------------------------ realtime

		var KINDS = {
			chat: {
				status: function (id, extra) { return "/api/ai/chat/status" + query(Object.assign({ id: id }, extra || {})); },
				events: function (id) { return "/api/ai/chat/events" + query({ id: id }); },
			},
			job: {
				status: function (id, extra) { return jobPath(id, "/status") + query(extra || {}); },
				events: function (id) { return jobPath(id, "/events"); },
			},
		};

		function canStream() {
			return typeof fetch === "function" && typeof TextDecoder === "function" &&
				typeof ReadableStream === "function" && ReadableStream.prototype &&
				typeof ReadableStream.prototype.getReader === "function";
		}

		/** Reads a text/event-stream body, calling onMessage({id, event, data})
		 *  per event; resolves true as soon as onMessage returns true (and
		 *  cancels the stream), false when the stream ends. */
		async function readEventStream(body, onMessage) {
			var reader = body.getReader();
			var decoder = new TextDecoder();
			var buf = "";
			var data = [];
			var id = null;
			var event = "";
			try {
				for (;;) {
					var chunk = await reader.read();
					if (chunk.done) return false;
					buf += decoder.decode(chunk.value, { stream: true });
					var lines = buf.split(/\r\n|\r|\n/);
					buf = lines.pop();
					for (var i = 0; i < lines.length; i++) {
						var line = lines[i];
						if (line === "") {
							if (data.length) {
								var stop = onMessage({ id: id, event: event || "message", data: data.join("\n") });
								data = [];
								event = "";
								if (stop) return true;
							}
							continue;
						}
						if (line.charAt(0) === ":") continue;
						var c = line.indexOf(":");
						var field = c < 0 ? line : line.slice(0, c);
						var value = c < 0 ? "" : line.slice(c + 1);
						if (value.charAt(0) === " ") value = value.slice(1);
						if (field === "data") data.push(value);
						else if (field === "id") id = value;
						else if (field === "event") event = value;
					}
				}
			} finally {
				// cancel() rejects when the fetch was aborted: nothing to report.
				try {
					var cancelled = reader.cancel();
					if (cancelled && cancelled.catch) cancelled.catch(function () {});
				} catch (ignored) { /* already closed */ }
			}
		}

		/**
		 * Follows a chat (kind "chat") or a job (kind "job") and calls
		 * onEvent(state) with the status JSON at every new version, the final
		 * one included, and opts.onDelta(provider, text, state, step) whenever
		 * a provider's streamed text changes, with its whole text so far (see
		 * StreamText; step is null for a chat; state is the last status seen).
		 * subscribe(id, {onUpdate, onDelta, ...}) follows a chat. Transports, in order, with opts.transport "auto" (the
		 * default): "sse" (GET the events URL as a text/event-stream; on 404,
		 * 405 or any answer that is not a stream, the next), "longpoll"
		 * (status with wait=<opts.wait, 25> and since=<version>; when the
		 * server answers at once with nothing new it does not long-poll, and
		 * when it stays busy (every waiting place it allows this client is
		 * taken) it cannot now: the next) and "poll" (status every
		 * intervalMs, which never waits on the server). Naming one
		 * transport starts there and falls back the same way.
		 * opts: since, intervalMs, timeoutMs, maxPollAttempts, wait, signal,
		 * transport, onTransport(name), onDelta.
		 * Returns {done, close(), transport, state, text(provider, step),
		 * push(state)}: done resolves with the final state, or rejects
		 * (timeout, aborted by close() or signal, API error); push hands a
		 * status obtained elsewhere (a cancel's answer) to the callbacks.
		 */
		function subscribe(kind, id, onEvent, opts) {
			if (!KINDS[kind] && (id === undefined || (id && typeof id === "object"))) {
				opts = id;
				id = kind;
				kind = "chat";
				onEvent = opts && opts.onUpdate;
			} else if (onEvent && typeof onEvent === "object") {
				opts = onEvent;
				onEvent = opts.onUpdate;
			}
			opts = opts || {};
			var k = KINDS[kind];
			if (!k) throw new TypeError("aigw.subscribe: kind must be \"chat\" or \"job\"");
			var finals = FINAL[kind];
			var ctl = new AbortController();
			var unlink = linkSignal(opts.signal, ctl);
			var signal = ctl.signal;
			var intervalMs = opts.intervalMs != null ? opts.intervalMs : (kind === "chat" ? 1000 : 2000);
			var timeoutMs = opts.timeoutMs != null ? opts.timeoutMs : (kind === "chat" ? 120000 : 300000);
			var wait = opts.wait != null ? opts.wait : 25;
			var lastVersion = opts.since != null ? opts.since : null;
			var lastJson = null;
			var last = null;
			var timedOut = false;
			var texts = new StreamText();
			var handle = {
				transport: null,
				state: null,
				close: function () { ctl.abort(); },
				text: function (provider, step) { return texts.get(provider, step); },
				push: function (state) { return take(state); },
				done: null,
			};

			function tell(changes) {
				if (!opts.onDelta) return;
				for (var i = 0; i < changes.length; i++) {
					var c = changes[i];
					try {
						opts.onDelta(c.provider, c.text, last, c.step);
					} catch (e) {
						if (root.console) root.console.error("aigw.subscribe: onDelta threw", e);
					}
				}
			}

			function use(name) {
				if (handle.transport === name) return;
				handle.transport = name;
				if (opts.onTransport) opts.onTransport(name);
			}

			// Hands a state to onEvent when it is new; true when it is final.
			function take(state) {
				if (!state || typeof state !== "object") return false;
				var v = typeof state.version === "number" ? state.version : null;
				var isNew;
				if (v !== null) isNew = lastVersion === null || v > lastVersion;
				else {
					var j = JSON.stringify(state);
					isNew = j !== lastJson;
					lastJson = j;
				}
				if (isNew) {
					if (v !== null) lastVersion = v;
					last = state;
					handle.state = state;
					tell(texts.applyStatus(state));
					if (onEvent) {
						try {
							onEvent(state);
						} catch (e) {
							if (root.console) root.console.error("aigw.subscribe: onEvent threw", e);
						}
					}
				}
				return finals.indexOf(state.status) >= 0;
			}

			async function viaEvents() {
				var failures = 0;
				var lastEventId = null;
				for (;;) {
					var res;
					var h = headersFor({ Accept: "text/event-stream" });
					if (lastEventId !== null) h["Last-Event-ID"] = lastEventId;
					try {
						res = await fetch((config.baseUrl || "") + k.events(id), {
							headers: h, cache: "no-store", credentials: "same-origin", signal: signal,
						});
					} catch (e) {
						if (signal.aborted) throw abortError(signal);
						if (++failures > config.retries) return false;
						await sleep(backoff(failures), signal);
						continue;
					}
					var ct = res.headers.get("Content-Type") || "";
					if (!res.ok || ct.indexOf("text/event-stream") < 0 || !res.body) {
						var body = await readJson(res);
						if (res.status === 400 || res.status === 401) throw errorFromResponse(res, body);
						return false; // no events here (404, 405...): the next transport tells the rest
					}
					use("sse");
					var final = false;
					var got = false;
					try {
						final = await readEventStream(res.body, function (m) {
							got = true;
							if (m.id !== null) lastEventId = m.id;
							var state;
							try {
								state = JSON.parse(m.data);
							} catch (e) {
								return false;
							}
							if (m.event === "delta" || m.event === "reset") {
								tell(texts.applyPiece(m.event, state));
								return false;
							}
							if (m.event === "end")
								return !!state && finals.indexOf(state.status) >= 0 && last !== null &&
									finals.indexOf(last.status) >= 0;
							return take(state);
						});
					} catch (e) {
						if (signal.aborted) throw abortError(signal);
					}
					if (final) return true;
					// Closed before the final state: connect again. Only streams
					// that brought nothing count against the bound, so a server
					// that ends every stream after a while is followed to the end.
					if (got) failures = 0;
					if (++failures > config.retries) return false;
					await sleep(backoff(failures), signal);
				}
			}

			async function viaLongPoll() {
				if (lastVersion === null || last === null) {
					if (take((await request("GET", k.status(id), { signal: signal })).body)) return true;
				}
				if (lastVersion === null) return false; // no versions: nothing to wait on
				use("longpoll");
				for (;;) {
					var t0 = Date.now();
					var before = lastVersion;
					var st;
					try {
						st = (await request("GET", k.status(id, { wait: wait, since: lastVersion }), { signal: signal })).body;
					} catch (e) {
						if (e instanceof AigwError && e.code === "busy") return false;
						throw e;
					}
					if (take(st)) return true;
					if (lastVersion === before && Date.now() - t0 < 1000)
						return false; // answered at once with nothing new: no long-poll here
				}
			}

			async function viaPolling() {
				use("poll");
				var polls = 0;
				for (;;) {
					if (take((await request("GET", k.status(id), { signal: signal })).body)) return true;
					polls++;
					if (opts.maxPollAttempts && polls >= opts.maxPollAttempts) {
						throw new AigwError("no final state after " + polls + " polls", {
							code: "timeout", state: last,
						});
					}
					await sleep(intervalMs, signal);
				}
			}

			handle.done = (async function () {
				var timer = timeoutMs > 0 ? setTimeout(function () { timedOut = true; ctl.abort(); }, timeoutMs) : null;
				try {
					var order = ["sse", "longpoll", "poll"];
					var start = order.indexOf(opts.transport || "auto");
					if (start < 0) start = 0;
					if (start === 0 && !canStream()) start = 1;
					for (var i = start; i < order.length; i++) {
						var ok = order[i] === "sse" ? await viaEvents()
							: order[i] === "longpoll" ? await viaLongPoll()
							: await viaPolling();
						if (ok) return last;
					}
					throw new AigwError("no final state", { code: "timeout", state: last });
				} catch (e) {
					if (timedOut) {
						throw new AigwError("no final state after " + Math.round(timeoutMs / 1000) + " s", {
							code: "timeout", state: last,
						});
					}
					if (isAbort(e) || signal.aborted) throw abortError(opts.signal, "following " + kind + " " + id);
					throw e;
				} finally {
					if (timer) clearTimeout(timer);
					unlink();
					ctl.abort();
				}
			})();
			return handle;
		}

		function configure(opts) {
			for (var key in opts || {}) {
				if (!Object.prototype.hasOwnProperty.call(config, key))
					throw new TypeError("aigw.configure: unknown option " + key);
				config[key] = opts[key];
			}
			// "https://aigw.example/" + "/api/..." would be a "//" path.
			if (typeof config.baseUrl === "string") config.baseUrl = config.baseUrl.replace(/\/+$/, "");
			return Object.assign({}, config);
		}

		var client = {
			version: VERSION,
			create: create,
			AigwError: AigwError,
			configure: configure,
			request: request,
			submitChat: submitChat,
			getChat: getChat,
			pollChat: pollChat,
			streamChat: streamChat,
			followChat: followChat,
			cancelChat: cancelChat,
			StreamText: StreamText,
			submitJob: submitJob,
			getJob: getJob,
			getJobStatus: getJobStatus,
			getJobResult: getJobResult,
			listJobs: listJobs,
			cancelJob: cancelJob,
			getJobTypes: getJobTypes,
			processAsyncJob: processAsyncJob,
			subscribe: subscribe,
			isFinal: isFinal,
		};
		configure(options);
		return client;
	}

	// One default client per page: the classic script and the ES module
	// (which loads this file) find the same one.
	var aigw = root.aigw && root.aigw.version === VERSION && typeof root.aigw.create === "function"
		? root.aigw : create();
	root.aigw = aigw;
	if (typeof module === "object" && module && module.exports) module.exports = aigw;
})(typeof globalThis !== "undefined" ? globalThis : this);
