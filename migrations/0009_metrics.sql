-- Metrics (GET /api/metrics): counters and histograms kept by the database
-- as work finishes, so that every process reports the same figures and a
-- scrape reads a few hundred rows however many millions the work tables
-- hold. They are monotonic: rows deleted by the reaper do not lower them.
--
-- A sample's row is split over shards chosen by the writing backend, so
-- that concurrent finishes do not queue on one hot row; a scrape sums them.
-- Every finish writes two rows (a counter, a histogram) per provider call
-- and two per chat or job.

-- Counters: one row a sample and shard.
CREATE TABLE metric_values (
    family  text NOT NULL,              -- aigw_jobs_total
    labels  text NOT NULL DEFAULT '',   -- rendered: type="x",status="y"
    shard   smallint NOT NULL,
    value   double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (family, labels, shard)
);

-- Histograms: one row a label set and shard, its cumulative bucket counts
-- (one per bound of aigw_histogram_bounds()) in an array, so that an
-- observation is one write, not one per bucket.
CREATE TABLE metric_histograms (
    family   text NOT NULL,             -- aigw_job_duration_seconds
    labels   text NOT NULL DEFAULT '',
    shard    smallint NOT NULL,
    buckets  double precision[] NOT NULL,
    sum      double precision NOT NULL DEFAULT 0,
    count    double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (family, labels, shard)
);

-- The buckets' upper bounds in seconds (+Inf is the count).
CREATE FUNCTION aigw_histogram_bounds() RETURNS double precision[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY[0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800]::double precision[]
$$;

-- name="value", escaped as the text exposition format wants.
CREATE FUNCTION aigw_label(name text, value text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT name || '="' || replace(replace(replace(coalesce(value, ''), '\', '\\'), '"', '\"'),
                                   E'\n', '\n') || '"'
$$;

CREATE FUNCTION aigw_metric_add(m_family text, m_labels text, delta double precision)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO metric_values (family, labels, shard, value)
    VALUES (m_family, m_labels, pg_backend_pid() % 8, delta)
    ON CONFLICT (family, labels, shard)
    DO UPDATE SET value = metric_values.value + EXCLUDED.value
$$;

-- One observation of a histogram, in seconds.
CREATE FUNCTION aigw_metric_observe(m_family text, m_labels text, seconds double precision)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO metric_histograms (family, labels, shard, buckets, sum, count)
    VALUES (m_family, m_labels, pg_backend_pid() % 8,
            ARRAY(SELECT (seconds <= b)::integer::double precision
                  FROM unnest(aigw_histogram_bounds()) AS b), seconds, 1)
    ON CONFLICT (family, labels, shard) DO UPDATE SET
        buckets = ARRAY(SELECT x + y FROM unnest(metric_histograms.buckets, EXCLUDED.buckets)
                        AS t(x, y)),
        sum = metric_histograms.sum + EXCLUDED.sum,
        count = metric_histograms.count + 1
$$;

-- Each provider result new in a results object (one key per provider,
-- never overwritten): a call, ok or error, and its latency.
CREATE FUNCTION aigw_metric_results(old_results jsonb, new_results jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    provider text;
    res jsonb;
BEGIN
    FOR provider, res IN
        SELECT key, value FROM jsonb_each(new_results) WHERE NOT old_results ? key
    LOOP
        PERFORM aigw_metric_add('aigw_provider_calls_total',
            aigw_label('provider', provider) || ',' || aigw_label('outcome',
                CASE WHEN res->>'ok' = 'true' THEN 'ok' ELSE 'error' END), 1);
        IF jsonb_typeof(res->'latencyMs') = 'number' THEN
            PERFORM aigw_metric_observe('aigw_provider_latency_seconds',
                aigw_label('provider', provider), (res->>'latencyMs')::double precision / 1000);
        END IF;
    END LOOP;
END $$;

CREATE FUNCTION aigw_metrics_chat() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.results IS DISTINCT FROM OLD.results THEN
        PERFORM aigw_metric_results(OLD.results, NEW.results);
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('completed', 'failed') THEN
        PERFORM aigw_metric_add('aigw_chats_total', aigw_label('status', NEW.status), 1);
        PERFORM aigw_metric_observe('aigw_chat_duration_seconds', '',
            extract(epoch FROM coalesce(NEW.completed_at, now()) - NEW.created_at));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER chat_results_metrics AFTER UPDATE OF status, results ON chat_results
    FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status
                       OR NEW.results IS DISTINCT FROM OLD.results)
    EXECUTE FUNCTION aigw_metrics_chat();

CREATE FUNCTION aigw_metrics_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IN ('completed', 'failed', 'cancelled') THEN
        PERFORM aigw_metric_add('aigw_jobs_total',
            aigw_label('type', NEW.type) || ',' || aigw_label('status', NEW.status), 1);
        PERFORM aigw_metric_observe('aigw_job_duration_seconds', aigw_label('type', NEW.type),
            extract(epoch FROM coalesce(NEW.completed_at, now()) - NEW.created_at));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_metrics AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status)
    EXECUTE FUNCTION aigw_metrics_job();

CREATE FUNCTION aigw_metrics_job_step() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM aigw_metric_results(OLD.results, NEW.results);
    RETURN NULL;
END $$;

CREATE TRIGGER job_steps_metrics AFTER UPDATE OF results ON job_steps
    FOR EACH ROW WHEN (NEW.results IS DISTINCT FROM OLD.results)
    EXECUTE FUNCTION aigw_metrics_job_step();

-- The scrape's gauges count pending work and its age from these, and
-- running work from the queue indexes of 0001 and 0002: none of them
-- looks at a finished row.
CREATE INDEX chat_results_pending ON chat_results (created_at) WHERE status = 'pending';
CREATE INDEX jobs_pending ON jobs (created_at) WHERE status = 'pending';
