-- Async (batch) providers: calls wait as batch_items until a worker groups
-- those of one provider and model into a batch, sends it, polls it and
-- writes each result to the chat or job step it belongs to. The batch's
-- state (the adapter's JSON) and the provider's id are stored after every
-- step, so another worker resumes a batch whose worker died and never
-- submits it twice once the provider has accepted it.

CREATE TABLE batches (
    batch_id      uuid PRIMARY KEY,
    provider      text NOT NULL,
    model         text NOT NULL,
    status        text NOT NULL DEFAULT 'submitting'
                  CHECK (status IN ('submitting', 'running', 'done', 'failed', 'cancelled')),
    state         text,                 -- the adapter's state; NULL: nothing sent yet
    external_id   text,                 -- the provider's id, once it accepted the batch
    error         text,
    attempts      integer NOT NULL DEFAULT 0,  -- claims, the fence of every write
    lease_until   timestamptz,
    worker        text,
    polls         integer NOT NULL DEFAULT 0,
    deadline      timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz
);
CREATE INDEX batches_active ON batches (created_at) WHERE status IN ('submitting', 'running');

CREATE TABLE batch_items (
    item_id       uuid PRIMARY KEY,
    provider      text NOT NULL,
    model         text NOT NULL,
    batch_id      uuid REFERENCES batches (batch_id) ON DELETE SET NULL,
    -- where the result goes: a chat's provider, or a job step's provider
    chat_id       uuid REFERENCES chat_results (chat_id) ON DELETE CASCADE,
    job_id        uuid REFERENCES jobs (job_id) ON DELETE CASCADE,
    step_index    integer,
    -- the call
    message       text NOT NULL,
    system_prompt text,
    max_tokens    integer NOT NULL,
    websearch     boolean NOT NULL DEFAULT false,
    location      text,
    json_output   boolean NOT NULL DEFAULT false,
    result        jsonb,                -- once written to its chat or step
    queued_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((chat_id IS NOT NULL) <> (job_id IS NOT NULL))
);
-- One item per call, however often a resumed chat or job asks again.
CREATE UNIQUE INDEX batch_items_chat ON batch_items (chat_id, provider) WHERE chat_id IS NOT NULL;
CREATE UNIQUE INDEX batch_items_step ON batch_items (job_id, step_index, provider)
    WHERE job_id IS NOT NULL;
CREATE INDEX batch_items_queued ON batch_items (provider, model, queued_at) WHERE batch_id IS NULL;
CREATE INDEX batch_items_batch ON batch_items (batch_id);
