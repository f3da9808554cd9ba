-- Cancelled chats (POST /api/ai/chat/cancel, docs/api.md) are counted as
-- they finish, like completed and failed ones: aigw_chats_total gains the
-- status "cancelled" and the duration histogram their time. A provider
-- call stopped by the cancel is neither an answer nor a provider's error:
-- aigw_provider_calls_total counts it with the outcome "cancelled".

CREATE OR REPLACE FUNCTION aigw_metric_results(old_results jsonb, new_results jsonb) RETURNS void
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
                CASE WHEN res->>'cancelled' = 'true' THEN 'cancelled'
                     WHEN res->>'ok' = 'true' THEN 'ok' ELSE 'error' END), 1);
        IF jsonb_typeof(res->'latencyMs') = 'number' THEN
            PERFORM aigw_metric_observe('aigw_provider_latency_seconds',
                aigw_label('provider', provider), (res->>'latencyMs')::double precision / 1000);
        END IF;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION aigw_metrics_chat() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.results IS DISTINCT FROM OLD.results THEN
        PERFORM aigw_metric_results(OLD.results, NEW.results);
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NEW.status IN ('completed', 'failed', 'cancelled') THEN
        PERFORM aigw_metric_add('aigw_chats_total', aigw_label('status', NEW.status), 1);
        PERFORM aigw_metric_observe('aigw_chat_duration_seconds', '',
            extract(epoch FROM coalesce(NEW.completed_at, now()) - NEW.created_at));
    END IF;
    RETURN NULL;
END $$;
