/**
 * aigw.d.ts: the types of aigw's browser client (aigw.mjs, aigw.js), a
 * client of aigw's HTTP API (docs/api.md, "Web pages and the JavaScript
 * client"). Statuses and bodies are the API's JSON; the fields the client
 * itself reads are typed, the rest stays open.
 */

/** Options of create() and configure(); every one optional. */
export interface AigwOptions {
	/** The API's origin, e.g. "https://aigw.example.com"; "" = the page's own. */
	baseUrl?: string;
	/** AIGW_AUTH=keys: sent as Authorization: Bearer <token>. */
	token?: string | null;
	/** More headers for every request. */
	headers?: Record<string, string>;
	/** Retries after 429, 503 and network loss (default 3). */
	retries?: number;
	/** First backoff in ms (default 500); doubles, with jitter. */
	backoffMs?: number;
	maxBackoffMs?: number;
	/** A longer Retry-After is cut to this many seconds (default 30). */
	maxRetryAfterS?: number;
	onRetry?: ((info: RetryInfo) => void) | null;
}

/** What configure() returns: every option, filled in. */
export type AigwConfig = Required<AigwOptions>;

export interface RetryInfo {
	attempt: number;
	waitMs: number;
	status: number;
	code: string;
	reason: "network" | "busy" | "unavailable";
}

/** An error of the API (its code, sentence and field), or of the client:
 *  network_error, timeout, aborted, bad_response, job_failed, job_cancelled. */
export class AigwError extends Error {
	constructor(message: string, props?: Record<string, unknown>);
	status: number;
	code: string;
	field: string | null;
	retryAfter: number | null;
	requestId: string | null;
	body: unknown;
	/** Set where known: the chat or job concerned and its last status. */
	chatId?: string;
	jobId?: string;
	state?: ChatStatus | JobStatus | null;
	cause?: unknown;
}

export type Transport = "auto" | "sse" | "longpoll" | "poll";
export type ChatState = "pending" | "processing" | "completed" | "failed" | "cancelled" | (string & {});
export type JobState = "pending" | "running" | "completed" | "failed" | "cancelled" | (string & {});

/** One provider's entry in a status's results. */
export interface ProviderResult {
	/** true or false once final; null while streaming. */
	ok: boolean | null;
	text?: string;
	model?: string;
	error?: string;
	streaming?: boolean;
	[key: string]: unknown;
}

export interface ChatStatus {
	success?: boolean;
	chatId: string;
	status: ChatState;
	version?: number;
	results: Record<string, ProviderResult>;
	pending?: string[];
	[key: string]: unknown;
}

export interface JobStep {
	index?: number;
	results?: Record<string, ProviderResult>;
	[key: string]: unknown;
}

export interface JobStatus {
	id: string;
	status: JobState;
	version?: number;
	steps?: JobStep[];
	error?: string;
	[key: string]: unknown;
}

/** One turn of a conversation (submitChat with an array). */
export interface ChatTurn {
	role: "user" | "assistant";
	content: string;
}

export interface RequestOptions {
	body?: unknown;
	headers?: Record<string, string>;
	signal?: AbortSignal;
	retries?: number;
	/** false: a network failure is not retried (the request may have been stored). */
	retryNetwork?: boolean;
	onRetry?: (info: RetryInfo) => void;
}

export interface ApiResponse<T = any> {
	status: number;
	body: T;
	headers: Headers;
}

export interface SubmitChatOptions {
	system?: string;
	maxTokens?: number;
	max_tokens?: number;
	websearch?: boolean;
	location?: unknown;
	signal?: AbortSignal;
	headers?: Record<string, string>;
	onRetry?: (info: RetryInfo) => void;
}

/** The 202 body, plus id (the chatId) and retryAfter (seconds). */
export interface SubmittedChat {
	chatId: string;
	id: string;
	retryAfter: number;
	[key: string]: unknown;
}

export interface FollowOptions {
	signal?: AbortSignal;
	timeoutMs?: number;
	intervalMs?: number;
	transport?: Transport;
	onTransport?: (name: Exclude<Transport, "auto">) => void;
}

export interface PollChatOptions extends FollowOptions {
	onUpdate?: (status: ChatStatus) => void;
}

export type OnDelta<S> = (provider: string, text: string, state: S | null, step: number | null) => void;

export interface FollowChatOptions extends PollChatOptions {
	onDelta?: OnDelta<ChatStatus>;
}

export interface StreamChatOptions extends SubmitChatOptions, FollowChatOptions {
	signal?: AbortSignal;
	onSubmit?: (chat: SubmittedChat) => void;
}

export interface SubmitJobOptions {
	decisionId?: string;
	decision_id?: string;
	/** Default: a new random key; false sends none. */
	idempotencyKey?: string | false | null;
	signal?: AbortSignal;
	headers?: Record<string, string>;
	onRetry?: (info: RetryInfo) => void;
}

/** The 202 (or 200, for a replayed key) body, plus id and retryAfter. */
export interface SubmittedJob {
	id: string;
	retryAfter: number;
	idempotencyKey: string | null;
	[key: string]: unknown;
}

export interface AsyncJobRequest {
	type: string;
	input?: Record<string, unknown>;
	decision_id?: string;
	decisionId?: string;
	idempotencyKey?: string | false | null;
}

export interface ProcessAsyncJobOptions {
	pollInterval?: number;
	maxPollAttempts?: number;
	timeout?: number;
	onProgress?: (status: JobStatus) => void;
	onSubmit?: (job: SubmittedJob) => void;
	onRetry?: (info: RetryInfo) => void;
	signal?: AbortSignal;
	transport?: Transport;
	onTransport?: (name: Exclude<Transport, "auto">) => void;
}

export interface SubscribeOptions<S> extends FollowOptions {
	since?: number;
	maxPollAttempts?: number;
	/** Seconds a long-poll waits on the server (default 25). */
	wait?: number;
	onUpdate?: (state: S) => void;
	onDelta?: OnDelta<S>;
}

export interface Subscription<S> {
	done: Promise<S>;
	close(): void;
	transport: Exclude<Transport, "auto"> | null;
	state: S | null;
	text(provider: string, step?: number | null): string;
	push(state: S): boolean;
}

export interface TextChange {
	provider: string;
	step: number | null;
	text: string;
}

/** Each provider's text so far, rebuilt from what the server sends. */
export class StreamText {
	constructor();
	lastSeq: number;
	static key(provider: string, step?: number | null): string;
	get(provider: string, step?: number | null): string;
	applyPiece(event: "delta" | "reset", data: { provider: string; text?: string; seq?: number; step?: number }): TextChange[];
	applyStatus(state: ChatStatus | JobStatus): TextChange[];
}

export interface JobType {
	name: string;
	[key: string]: unknown;
}

/** A client: the default one (the module's default export, the global
 *  `aigw`) or one made by create(). */
export interface AigwClient {
	readonly version: string;
	create(options?: AigwOptions): AigwClient;
	configure(options?: AigwOptions): AigwConfig;
	AigwError: typeof AigwError;
	StreamText: typeof StreamText;
	request<T = any>(method: string, path: string, opts?: RequestOptions): Promise<ApiResponse<T>>;
	submitChat(message: string | ChatTurn[], models: Record<string, string>, opts?: SubmitChatOptions): Promise<SubmittedChat>;
	getChat(id: string, opts?: RequestOptions): Promise<ChatStatus>;
	pollChat(id: string, opts?: PollChatOptions): Promise<ChatStatus>;
	streamChat(message: string | ChatTurn[], models: Record<string, string>, opts?: StreamChatOptions): Promise<ChatStatus>;
	followChat(id: string, opts?: FollowChatOptions): Promise<ChatStatus>;
	cancelChat(id: string, opts?: { signal?: AbortSignal; headers?: Record<string, string> }): Promise<ChatStatus>;
	submitJob(type: string, input?: Record<string, unknown>, opts?: SubmitJobOptions): Promise<SubmittedJob>;
	getJob(id: string, opts?: RequestOptions): Promise<JobStatus>;
	getJobStatus(id: string, opts?: RequestOptions): Promise<JobStatus>;
	getJobResult(id: string, opts?: RequestOptions): Promise<{ status: JobState; result?: unknown; error?: string }>;
	listJobs(params?: Record<string, string | number | undefined | null>, opts?: RequestOptions): Promise<any>;
	cancelJob(id: string, opts?: { signal?: AbortSignal }): Promise<JobStatus>;
	getJobTypes(opts?: RequestOptions): Promise<JobType[]>;
	processAsyncJob<R = unknown>(request: AsyncJobRequest, opts?: ProcessAsyncJobOptions): Promise<R>;
	subscribe(kind: "chat", id: string, onEvent?: ((state: ChatStatus) => void) | null, opts?: SubscribeOptions<ChatStatus>): Subscription<ChatStatus>;
	subscribe(kind: "job", id: string, onEvent?: ((state: JobStatus) => void) | null, opts?: SubscribeOptions<JobStatus>): Subscription<JobStatus>;
	subscribe(id: string, opts?: SubscribeOptions<ChatStatus>): Subscription<ChatStatus>;
	isFinal(kind: "chat" | "job", status: string): boolean;
}

declare const aigw: AigwClient;
export default aigw;

export const version: AigwClient["version"];
export const create: AigwClient["create"];
export const configure: AigwClient["configure"];
export const request: AigwClient["request"];
export const submitChat: AigwClient["submitChat"];
export const getChat: AigwClient["getChat"];
export const pollChat: AigwClient["pollChat"];
export const streamChat: AigwClient["streamChat"];
export const followChat: AigwClient["followChat"];
export const cancelChat: AigwClient["cancelChat"];
export const submitJob: AigwClient["submitJob"];
export const getJob: AigwClient["getJob"];
export const getJobStatus: AigwClient["getJobStatus"];
export const getJobResult: AigwClient["getJobResult"];
export const listJobs: AigwClient["listJobs"];
export const cancelJob: AigwClient["cancelJob"];
export const getJobTypes: AigwClient["getJobTypes"];
export const processAsyncJob: AigwClient["processAsyncJob"];
export const subscribe: AigwClient["subscribe"];
export const isFinal: AigwClient["isFinal"];
