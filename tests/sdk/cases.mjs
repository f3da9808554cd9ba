// The official openai client for Node.js against aigw's /v1/ API:
// node cases.mjs <case> <base URL of /v1> <API key> [args...]. Prints one
// JSON line with what the case saw; the pytest module
// tests/integration/test_openai_sdk.py checks it. Every wait has a deadline.
import OpenAI from "openai";

const [name, baseURL, apiKey, ...args] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30000 });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(id, statuses, ms = 20000) {
	const end = Date.now() + ms;
	for (;;) {
		const r = await client.responses.retrieve(id);
		if (statuses.includes(r.status)) return r;
		if (Date.now() > end) throw new Error(`${id}: still ${r.status} after ${ms} ms`);
		await sleep(100);
	}
}

function errorOf(e) {
	return { error: e.constructor.name, status: e.status, code: e.code ?? null,
		 param: e.param ?? null, type: e.type ?? null };
}

const cases = {
	async background(model) {
		const created = await client.responses.create({ model, input: "Say hello", background: true });
		const done = await until(created.id, ["completed", "failed", "cancelled"]);
		return { created: created.status, status: done.status, id: done.id,
			 output_text: done.output_text, usage: done.usage, model: done.model };
	},
	async stream(model) {
		const stream = await client.responses.create({ model, input: "Tell", stream: true });
		const events = [];
		for await (const ev of stream) events.push(ev);
		return { types: events.map((e) => e.type),
			 seqs: events.map((e) => e.sequence_number),
			 text: events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join(""),
			 final: events.at(-1).response?.output_text };
	},
	async resume(model) {
		const stream = await client.responses.create({ model, input: "Resume", stream: true });
		const first = [];
		for await (const ev of stream) {
			first.push(ev);
			if (first.length === 10) break;  // aborts the request: a cut
		}
		const id = first[0].response.id;
		const rest = [];
		const again = await client.responses.retrieve(id, { stream: true, starting_after: 9 });
		for await (const ev of again) rest.push(ev);
		const all = first.concat(rest);
		return { id, seqs: all.map((e) => e.sequence_number), last: all.at(-1).type,
			 text: all.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join("") };
	},
	async cancel(model) {
		const created = await client.responses.create({ model, input: "Wait", background: true });
		const cancelled = await client.responses.cancel(created.id);
		const again = await client.responses.cancel(created.id);
		return { status: cancelled.status, again: again.status };
	},
	async chat(model) {
		const c = await client.chat.completions.create({
			model, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }] });
		return { id: c.id, object: c.object, content: c.choices[0].message.content,
			 finish: c.choices[0].finish_reason, usage: c.usage };
	},
	async chat_stream(model) {
		const stream = await client.chat.completions.create({
			model, messages: [{ role: "user", content: "Count" }], stream: true,
			stream_options: { include_usage: true } });
		let text = "", usage = null, chunks = 0, finish = null;
		for await (const chunk of stream) {
			chunks++;
			if (chunk.usage) usage = chunk.usage;
			const choice = chunk.choices[0];
			if (choice?.delta?.content) text += choice.delta.content;
			if (choice?.finish_reason) finish = choice.finish_reason;
		}
		return { text, usage, chunks, finish };
	},
	async retrieve_missing() {
		try {
			await client.responses.retrieve("resp_" + "0".repeat(32));
			return { error: null };
		} catch (e) { return errorOf(e); }
	},
	async create_error(model) {
		try {
			await client.responses.create({ model, input: "x", background: true });
			return { error: null };
		} catch (e) { return errorOf(e); }
	},
	async models() {
		const ids = [];
		for await (const m of client.models.list()) ids.push({ id: m.id, owned_by: m.owned_by });
		return { ids };
	},
};

try {
	console.log(JSON.stringify(await cases[name](...args)));
} catch (e) {
	console.log(JSON.stringify({ thrown: String(e), ...errorOf(e) }));
	process.exitCode = 1;
}
