-- Chats: one message fanned out to several providers, results merged per
-- provider as each answers. The table is the queue: a worker claims pending
-- rows with FOR UPDATE SKIP LOCKED and holds them under a lease.

CREATE TABLE chat_results (
    chat_id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_user     text NOT NULL DEFAULT '',
    owner_org      text NOT NULL DEFAULT '',

    -- the request
    message        text NOT NULL,
    system_prompt  text,
    max_tokens     integer NOT NULL DEFAULT 1024 CHECK (max_tokens > 0),
    websearch      boolean NOT NULL DEFAULT false,
    location       text,
    models         jsonb NOT NULL,            -- {"openai": "gpt-4o", ...}

    -- state
    status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    results        jsonb NOT NULL DEFAULT '{}', -- {"openai": {"ok": true, ...}, ...}
    provider_state jsonb NOT NULL DEFAULT '{}', -- per provider: attempts, external ids
    version        integer NOT NULL DEFAULT 0,

    -- the queue
    attempts       integer NOT NULL DEFAULT 0, -- counted at claim time: the fence
    lease_until    timestamptz,
    worker         text,

    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    completed_at   timestamptz,
    expires_at     timestamptz NOT NULL DEFAULT now() + interval '1 hour'
);

-- Claimable work, oldest first; small because finished rows leave it.
CREATE INDEX chat_results_queue ON chat_results (created_at)
    WHERE status IN ('pending', 'processing');
CREATE INDEX chat_results_owner ON chat_results (owner_user, created_at DESC);
CREATE INDEX chat_results_expires ON chat_results (expires_at);

-- Worker slots bound how many workers run at once across every host: a
-- submit reserves a free slot before it spawns, the worker heartbeats it,
-- and a slot whose heartbeat is stale is free again.
CREATE TABLE worker_slots (
    slot         integer PRIMARY KEY CHECK (slot > 0),
    pid          integer,
    host         text,
    heartbeat_at timestamptz
);
INSERT INTO worker_slots (slot) SELECT generate_series(1, 1024);
