-- Scheduled prompt analysis: tracked prompts, run every day on every
-- platform they name. `aigw schedule` makes one analysis batch a day and
-- one prompt_analysis job per active prompt; the normal job runner runs
-- them (at most AIGW_ANALYSIS_CONCURRENCY at once). The two triggers below
-- keep analysis_jobs and ai_responses in step with the jobs whichever
-- process writes them (worker, batch engine, reaper, cancel), in the same
-- transaction as the write: a response is recorded exactly once, and a
-- job's counters never disagree with its responses.

CREATE TABLE prompt_tracking (
    prompt_id    uuid PRIMARY KEY,
    project      text NOT NULL CHECK (project <> ''),
    owner_user   text NOT NULL DEFAULT '',
    owner_org    text NOT NULL DEFAULT '',
    prompt_text  text NOT NULL CHECK (prompt_text <> ''),
    platforms    text[] NOT NULL CHECK (cardinality(platforms) BETWEEN 1 AND 8),
    websearch    boolean NOT NULL DEFAULT false,
    location     text CHECK (location ~ '^[A-Z]{2}$'),
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- aigw schedule pages through active prompts in id order.
CREATE INDEX prompt_tracking_active ON prompt_tracking (prompt_id) WHERE active;
CREATE INDEX prompt_tracking_project ON prompt_tracking (project, created_at);

-- One a day (run_date unique), unless forced. complete: every prompt that
-- was active has its job; a schedule cut short is completed by the next.
CREATE TABLE analysis_batches (
    batch_id     uuid PRIMARY KEY,
    run_date     date NOT NULL,
    forced       boolean NOT NULL DEFAULT false,
    complete     boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX analysis_batches_day ON analysis_batches (run_date) WHERE NOT forced;

-- A job of a batch carries the batch's id: the claim caps how many run.
ALTER TABLE jobs ADD COLUMN analysis_batch uuid;
CREATE INDEX jobs_analysis_active ON jobs (created_at)
    WHERE analysis_batch IS NOT NULL AND status IN ('pending', 'running');

-- One per prompt and batch; analysis_id is also the job's id. The job may
-- be deleted by the reaper long before its analysis is: no foreign key.
CREATE TABLE analysis_jobs (
    analysis_id          uuid PRIMARY KEY,
    batch_id             uuid NOT NULL REFERENCES analysis_batches ON DELETE CASCADE,
    prompt_id            uuid NOT NULL REFERENCES prompt_tracking ON DELETE CASCADE,
    owner_user           text NOT NULL DEFAULT '',
    owner_org            text NOT NULL DEFAULT '',
    project              text NOT NULL,
    prompt_text          text NOT NULL,
    platforms            text[] NOT NULL,
    status               text NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'running', 'completed', 'partial',
                                           'failed', 'cancelled')),
    error                text,
    total_platforms      integer NOT NULL CHECK (total_platforms > 0),
    completed_platforms  integer NOT NULL DEFAULT 0,
    failed_platforms     integer NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now(),
    started_at           timestamptz,
    completed_at         timestamptz,
    UNIQUE (batch_id, prompt_id)
);
CREATE INDEX analysis_jobs_owner ON analysis_jobs (owner_user, batch_id);

CREATE TABLE ai_responses (
    response_id        bigserial PRIMARY KEY,
    analysis_id        uuid NOT NULL REFERENCES analysis_jobs ON DELETE CASCADE,
    batch_id           uuid NOT NULL,
    prompt_id          uuid NOT NULL,
    step_index         integer NOT NULL,
    platform           text NOT NULL,
    model_version      text,
    prompt_text        text NOT NULL,
    response_text      text,
    status             text NOT NULL CHECK (status IN ('success', 'error')),
    input_tokens       bigint,
    output_tokens      bigint,
    tokens_used        bigint,
    cost_usd           numeric(14, 8),
    execution_time_ms  bigint,
    citations          jsonb NOT NULL DEFAULT '[]',
    metadata           jsonb NOT NULL DEFAULT '{}',
    error_message      text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (analysis_id, step_index, platform)
);
CREATE INDEX ai_responses_batch ON ai_responses (batch_id, prompt_id);

-- A provider's result lands in job_steps.results (one key per provider,
-- never overwritten): each new key of an analysis job is a response.
CREATE FUNCTION aigw_record_ai_responses() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    a analysis_jobs%ROWTYPE;
    provider text;
    res jsonb;
    answered boolean;
BEGIN
    SELECT * INTO a FROM analysis_jobs WHERE analysis_id = NEW.job_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    FOR provider, res IN
        SELECT key, value FROM jsonb_each(NEW.results) WHERE NOT OLD.results ? key
    LOOP
        answered := coalesce(res->>'ok', 'false') = 'true';
        INSERT INTO ai_responses (analysis_id, batch_id, prompt_id, step_index, platform,
                                  model_version, prompt_text, response_text, status,
                                  input_tokens, output_tokens, tokens_used, cost_usd,
                                  execution_time_ms, citations, metadata, error_message)
        VALUES (a.analysis_id, a.batch_id, a.prompt_id, NEW.step_index, provider,
                res->>'model', a.prompt_text, res->>'text',
                CASE WHEN answered THEN 'success' ELSE 'error' END,
                (res->'usage'->>'inputTokens')::bigint,
                (res->'usage'->>'outputTokens')::bigint,
                (res->'usage'->>'inputTokens')::bigint
                    + (res->'usage'->>'outputTokens')::bigint,
                (res->>'costUsd')::numeric,
                (res->>'latencyMs')::bigint,
                CASE WHEN jsonb_typeof(res->'citations') = 'array'
                     THEN res->'citations' ELSE '[]' END,
                res - 'text' - 'citations' - 'usage' - 'costUsd' - 'latencyMs' - 'model'
                    - 'error' - 'ok',
                res->>'error')
        ON CONFLICT (analysis_id, step_index, platform) DO NOTHING;
        IF FOUND THEN
            UPDATE analysis_jobs
               SET completed_platforms = completed_platforms + answered::integer,
                   failed_platforms = failed_platforms + (NOT answered)::integer
             WHERE analysis_id = a.analysis_id;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER job_steps_ai_responses AFTER UPDATE OF results ON job_steps
    FOR EACH ROW WHEN (NEW.results IS DISTINCT FROM OLD.results)
    EXECUTE FUNCTION aigw_record_ai_responses();

-- The analysis follows its job: running, then completed (every platform
-- answered), partial (some did), failed or cancelled; requeued: pending.
CREATE FUNCTION aigw_follow_analysis_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE analysis_jobs SET
        status = CASE NEW.status
            WHEN 'completed' THEN CASE WHEN failed_platforms = 0 THEN 'completed'
                                       WHEN completed_platforms = 0 THEN 'failed'
                                       ELSE 'partial' END
            ELSE NEW.status END,
        error = NEW.error,
        started_at = CASE WHEN NEW.status = 'running' THEN coalesce(started_at, now())
                          ELSE started_at END,
        completed_at = CASE WHEN NEW.status IN ('completed', 'failed', 'cancelled')
                            THEN now() END
     WHERE analysis_id = NEW.job_id;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_follow_analysis AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.analysis_batch IS NOT NULL AND NEW.status IS DISTINCT FROM OLD.status)
    EXECUTE FUNCTION aigw_follow_analysis_job();
