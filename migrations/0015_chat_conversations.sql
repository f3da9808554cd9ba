-- A chat may carry a conversation instead of one message; it records which
-- API made it (aigw's own, or the OpenAI-compatible /v1/ one, whose objects
-- echo what their request asked); and where to tell when it ends.
--
-- messages: [{"role": "user" | "assistant", "content": text}, ...], the
-- last one the user's; message then holds that last user turn (what logs,
-- analysis and single-message wire formats read). NULL: message alone.
ALTER TABLE chat_results ADD COLUMN messages jsonb
    CHECK (messages IS NULL OR jsonb_typeof(messages) = 'array');
ALTER TABLE chat_results ADD COLUMN api text NOT NULL DEFAULT 'chat'
    CHECK (api IN ('chat', 'response', 'completion'));
-- /v1/ only: the request's model, instructions, metadata, ... as given.
ALTER TABLE chat_results ADD COLUMN api_request jsonb;
-- Where a POST goes when the chat (or job) reaches a final state; NULL:
-- the owner's key's URL, if any.
ALTER TABLE chat_results ADD COLUMN webhook_url text;
ALTER TABLE jobs ADD COLUMN webhook_url text;
