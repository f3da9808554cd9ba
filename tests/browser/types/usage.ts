// usage.ts: a front end's use of the published client, type-checked by
// test_client_units.py (tsc --noEmit, moduleResolution "bundler", through
// package.json's exports as a bundler finds them). Never run.
import aigw, { create, AigwError, submitChat, type ChatStatus, type AigwClient } from "aigw-client";

const other: AigwClient = create({ baseUrl: "https://aigw.example.com", token: "k_123" });
aigw.configure({ retries: 5, onRetry: (r) => console.log(r.attempt, r.waitMs, r.reason) });

async function main(signal: AbortSignal): Promise<string> {
	const chat = await submitChat("Hello", { openai: "gpt-4o-mini" }, { maxTokens: 200, signal });
	const id: string = chat.id;
	const done: ChatStatus = await other.streamChat([{ role: "user", content: "Hi" }], { anthropic: "claude" }, {
		signal,
		onDelta: (provider, text, _state, step) => console.log(provider, text.length, step),
		onUpdate: (s) => console.log(s.status, s.version),
	});
	const sub = aigw.subscribe("job", "j1", (s) => console.log(s.status), { transport: "longpoll" });
	const final = await sub.done;
	const result = await other.processAsyncJob<{ summary: string }>({ type: "summary", input: { text: "x" } });
	try {
		await other.cancelJob(final.id);
	} catch (e) {
		if (e instanceof AigwError && e.code === "not_found") return e.requestId ?? "";
	}
	const types = await aigw.getJobTypes();
	return id + done.results["openai"]?.text + result.summary + types.map((t) => t.name).join(",") +
		aigw.version + String(aigw.isFinal("chat", done.status));
}

// The declarations must refuse mistakes, or they check nothing.
// @ts-expect-error baseUrl is a string
create({ baseUrl: 42 });
// @ts-expect-error no such option
aigw.configure({ baseURL: "https://typo.example" });
// @ts-expect-error models map provider names to model names
submitChat("Hello", ["openai"]);
// @ts-expect-error kind is "chat" or "job"
aigw.subscribe("batch", "b1", null);

export { main };
