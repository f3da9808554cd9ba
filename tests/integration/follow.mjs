// Follows a chat with nginx/html/aigw.js's subscribe(), as a page does,
// under node: node follow.mjs <aigw.js> <base url> <chat id> <headers as
// JSON> <timeout ms>. Prints {transports, status} or {transports, code,
// error} as one JSON line.
import { createRequire } from "module";

const [lib, baseUrl, chatId, headers, timeoutMs] = process.argv.slice(2);
const aigw = createRequire(import.meta.url)(lib);
aigw.configure({ baseUrl, headers: JSON.parse(headers) });
const transports = [];
const sub = aigw.subscribe("chat", chatId, null, {
	onTransport: (t) => transports.push(t), timeoutMs: Number(timeoutMs), intervalMs: 200,
});
try {
	const final = await sub.done;
	console.log(JSON.stringify({ transports, status: final.status }));
} catch (e) {
	console.log(JSON.stringify({ transports, code: e.code, error: String(e) }));
}
