/*
 * aigw.mjs: aigw.js as an ES module, typed by aigw.d.ts.
 *
 *   import aigw, { create, AigwError } from "./aigw.mjs";
 *   const other = create({ baseUrl: "https://aigw.example.com", token });
 *
 * It loads aigw.js, the one source of the client, and exports its default
 * client (also the global `aigw`, the same one a classic <script> on the
 * page uses) and that client's functions by name.
 */
import "./aigw.js";

const aigw = globalThis.aigw;

export default aigw;
export const {
	version,
	create,
	configure,
	AigwError,
	StreamText,
	request,
	submitChat,
	getChat,
	pollChat,
	streamChat,
	followChat,
	cancelChat,
	submitJob,
	getJob,
	getJobStatus,
	getJobResult,
	listJobs,
	cancelJob,
	getJobTypes,
	processAsyncJob,
	subscribe,
	isFinal,
} = aigw;
