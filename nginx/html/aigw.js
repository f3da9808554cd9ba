/* aigw.js: submit a chat, poll its status, show each provider's result as it arrives. */
"use strict";

const PROVIDERS = ["openai", "anthropic", "gemini", "perplexity"];
const POLL_LIMIT_MS = 120000;

async function submitChat(message, models) {
  const r = await fetch("/api/ai/chat", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ message, models }),
  });
  const body = await r.json();
  if (r.status !== 202) throw new Error(body.error || `HTTP ${r.status}`);
  return { id: body.chatId, retryAfter: Number(r.headers.get("Retry-After") || 1) };
}

async function pollChat(id, onUpdate, intervalS) {
  const started = Date.now();
  let version = -1;
  for (;;) {
    const r = await fetch(`/api/ai/chat/status?id=${encodeURIComponent(id)}`);
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
    if (body.version !== version) { version = body.version; onUpdate(body); }
    if (body.status === "completed" || body.status === "failed") return body;
    if (Date.now() - started > POLL_LIMIT_MS) throw new Error("no final answer after 2 minutes");
    await new Promise((ok) => setTimeout(ok, Math.max(0.5, Math.min(intervalS, 2)) * 1000));
  }
}

function card(provider, result, pending) {
  const el = document.createElement("article");
  el.className = "card" + (pending ? " pending" : result && !result.ok ? " error" : "");
  const h = document.createElement("h2");
  h.textContent = provider + (result && result.model ? ` · ${result.model}` : "");
  el.appendChild(h);
  const text = document.createElement("pre");
  if (pending) text.textContent = "waiting…";
  else if (result.ok) text.textContent = result.text;
  else text.textContent = `Error: ${result.error}`;
  el.appendChild(text);
  if (result) {
    const meta = document.createElement("div");
    meta.className = "meta";
    const parts = [];
    if (result.latencyMs !== undefined) parts.push(`${result.latencyMs} ms`);
    if (result.usage) parts.push(`${result.usage.inputTokens} in / ${result.usage.outputTokens} out tokens`);
    if (typeof result.costUsd === "number") parts.push(`$${result.costUsd.toFixed(6)}`);
    if (result.attempts > 1) parts.push(`${result.attempts} attempts`);
    meta.textContent = parts.join(" · ");
    el.appendChild(meta);
  }
  return el;
}

function render(status) {
  const box = document.getElementById("results");
  box.replaceChildren();
  for (const [provider, result] of Object.entries(status.results)) box.appendChild(card(provider, result, false));
  for (const provider of status.pending) box.appendChild(card(provider, null, true));
  document.getElementById("state").textContent = `Status: ${status.status}`;
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("chat-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const state = document.getElementById("state");
    const models = {};
    for (const p of PROVIDERS) {
      if (document.getElementById(`use-${p}`).checked) models[p] = document.getElementById(`model-${p}`).value.trim();
    }
    const button = document.getElementById("send");
    button.disabled = true;
    try {
      state.textContent = "Sending…";
      const { id, retryAfter } = await submitChat(document.getElementById("message").value, models);
      await pollChat(id, render, retryAfter);
    } catch (err) {
      state.textContent = `Error: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  });
});
