-- Jobs: typed, multi-step work declared by a job type. Like chats, the
-- table is the queue (claimed with FOR UPDATE SKIP LOCKED under a lease,
-- every later write fenced by the attempt). Each step is a row, so a
-- finished step is never recomputed when a job is retried or resumed.

CREATE TABLE jobs (
    job_id          uuid PRIMARY KEY,
    type            text NOT NULL,
    owner_user      text NOT NULL DEFAULT '',
    owner_org       text NOT NULL DEFAULT '',
    decision_id     uuid,
    input           jsonb NOT NULL,

    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    progress        integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    status_message  text,
    output          jsonb,
    error           text,
    version         integer NOT NULL DEFAULT 0,

    attempts        integer NOT NULL DEFAULT 0,
    max_attempts    integer NOT NULL DEFAULT 3 CHECK (max_attempts > 0),
    timeout_s       integer NOT NULL DEFAULT 600 CHECK (timeout_s > 0),
    lease_until     timestamptz,
    worker          text,

    -- Idempotency-Key: the same key from the same user within 24 hours
    -- returns this job; request_hash tells a reuse with another body.
    idempotency_key text,
    request_hash    text,

    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    completed_at    timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),

    -- 100 only when completed; progress never falls (enforced by the
    -- statements, which only ever raise it).
    CHECK (progress < 100 OR status = 'completed')
);

CREATE INDEX jobs_queue ON jobs (created_at) WHERE status IN ('pending', 'running');
CREATE INDEX jobs_owner ON jobs (owner_user, created_at DESC, job_id DESC);
CREATE INDEX jobs_decision ON jobs (decision_id) WHERE decision_id IS NOT NULL;
CREATE UNIQUE INDEX jobs_idempotency ON jobs (owner_user, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE job_steps (
    job_id        uuid NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    step_index    integer NOT NULL CHECK (step_index >= 0),
    name          text NOT NULL,
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    -- per provider, merged as each answers: {"openai": {"ok": true, ...}}
    results       jsonb NOT NULL DEFAULT '{}',
    output        jsonb,
    error         text,
    attempts      integer NOT NULL DEFAULT 0,
    started_at    timestamptz,
    completed_at  timestamptz,
    PRIMARY KEY (job_id, step_index)
);
