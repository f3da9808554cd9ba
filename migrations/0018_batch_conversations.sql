-- A call waiting for a batch keeps its chat's conversation, so that a chat
-- of several turns can go to a batch provider whole.
--
-- messages: as chat_results.messages ([{"role": "user" | "assistant",
-- "content": text}, ...], the last one the user's, whose content is
-- message). NULL: message alone.
ALTER TABLE batch_items ADD COLUMN messages jsonb
    CHECK (messages IS NULL OR jsonb_typeof(messages) = 'array');
