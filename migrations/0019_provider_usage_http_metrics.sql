-- Metrics operators chart first (GET /api/metrics, docs/api.md):
--
-- aigw_provider_tokens_total{provider,model,direction="input"|"output"} and
-- aigw_provider_cost_usd_total{provider,model}: from each provider result
-- new in a results object, as aigw_provider_calls_total is counted, with
-- the result's "usage" and "costUsd". model is the model that answered
-- (the result's "model"), provider the results key (openai-batch apart
-- from openai). A result without usage (an error, a cancel) adds nothing;
-- costUsd null (a model not in the price table) adds no cost.
--
-- aigw_http_requests_total{route,status} and aigw_http_busy_total are
-- added by aigw-fcgi itself (db/metrics.c, db_metrics_add_http): nothing
-- here but the functions they already use.

CREATE OR REPLACE FUNCTION aigw_metric_results(old_results jsonb, new_results jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    provider text;
    res jsonb;
    who text;
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
        CONTINUE WHEN coalesce(jsonb_typeof(res->'model'), '') <> 'string';
        who := aigw_label('provider', provider) || ',' || aigw_label('model', res->>'model');
        IF jsonb_typeof(res->'usage'->'inputTokens') = 'number' THEN
            PERFORM aigw_metric_add('aigw_provider_tokens_total',
                who || ',' || aigw_label('direction', 'input'),
                (res->'usage'->>'inputTokens')::double precision);
        END IF;
        IF jsonb_typeof(res->'usage'->'outputTokens') = 'number' THEN
            PERFORM aigw_metric_add('aigw_provider_tokens_total',
                who || ',' || aigw_label('direction', 'output'),
                (res->'usage'->>'outputTokens')::double precision);
        END IF;
        IF jsonb_typeof(res->'costUsd') = 'number' THEN
            PERFORM aigw_metric_add('aigw_provider_cost_usd_total', who,
                (res->>'costUsd')::double precision);
        END IF;
    END LOOP;
END $$;
