-- Webhooks (docs/webhooks.md): a POST, signed as Standard Webhooks says,
-- when a chat or job reaches a final state.
--
-- A key may carry a receiver URL and the secret that signs its deliveries
-- ("whsec_<base64>", shown once by "aigw keys create --webhook-url"; kept
-- as it is, since signing needs it).
ALTER TABLE api_keys ADD COLUMN webhook_url text;
ALTER TABLE api_keys ADD COLUMN webhook_secret text;

-- The key that submitted the work (AIGW_AUTH=keys; NULL otherwise): its
-- URL is used when the row names none, and its secret signs the delivery
-- (NULL, or a key without a secret: AIGW_WEBHOOK_SECRET).
ALTER TABLE chat_results ADD COLUMN webhook_key text;
ALTER TABLE jobs ADD COLUMN webhook_key text;

-- The outbox: one row per event to deliver, written by the trigger below
-- in the transaction that sets the final state, whichever statement does
-- (a worker's results, a finish, a cancel, the reaper), so that an event
-- is never lost nor sent for a state that was rolled back. A worker claims
-- due rows (FOR UPDATE SKIP LOCKED, a lease, an attempt counted) and sends
-- them; the body is rendered at the first attempt and kept, so every retry
-- sends the same bytes under the same webhook-id.
CREATE TABLE webhook_deliveries (
    delivery_id   uuid PRIMARY KEY DEFAULT gen_random_uuid(), -- webhook-id: msg_<id>
    kind          text NOT NULL CHECK (kind IN ('chat', 'job')),
    object_id     uuid NOT NULL,           -- the chat's or job's id
    owner_user    text NOT NULL,
    event         text NOT NULL,           -- chat.completed, job.failed, response.cancelled, ...
    url           text NOT NULL,
    key_id        text,                    -- whose secret signs; NULL: AIGW_WEBHOOK_SECRET
    created_at    timestamptz NOT NULL DEFAULT now(),  -- the event's time
    body          text,                    -- NULL until the first attempt renders it
    attempts      integer NOT NULL DEFAULT 0,
    next_at       timestamptz NOT NULL DEFAULT now(),
    lease_until   timestamptz,
    last_status   integer,                 -- the receiver's last HTTP status (0: none came)
    last_error    text,                    -- why the last attempt failed
    delivered_at  timestamptz,
    gave_up_at    timestamptz
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at)
    WHERE delivered_at IS NULL AND gave_up_at IS NULL;
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (coalesce(delivered_at, gave_up_at))
    WHERE delivered_at IS NOT NULL OR gave_up_at IS NOT NULL;

-- Queues the delivery of one event, if the work has a receiver: its own
-- URL, else the submitting key's. Wakes the workers.
CREATE FUNCTION aigw_webhook_enqueue(w_kind text, w_id uuid, w_owner text, w_event text,
                                     w_url text, w_key text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    target text := w_url;
BEGIN
    IF target IS NULL AND w_key IS NOT NULL THEN
        SELECT webhook_url INTO target FROM api_keys WHERE key_id = w_key;
    END IF;
    IF target IS NULL OR target = '' THEN
        RETURN;
    END IF;
    INSERT INTO webhook_deliveries (kind, object_id, owner_user, event, url, key_id)
    VALUES (w_kind, w_id, w_owner, w_event, target, w_key);
    PERFORM pg_notify('aigw_work', '');
END $$;

CREATE FUNCTION aigw_webhook_chat() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NEW.status IN ('completed', 'failed', 'cancelled') THEN
        PERFORM aigw_webhook_enqueue('chat', NEW.chat_id, NEW.owner_user,
            CASE WHEN NEW.api = 'chat' THEN 'chat.' ELSE 'response.' END || NEW.status,
            NEW.webhook_url, NEW.webhook_key);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER chat_results_webhook AFTER UPDATE OF status ON chat_results
    FOR EACH ROW WHEN (NEW.webhook_url IS NOT NULL OR NEW.webhook_key IS NOT NULL)
    EXECUTE FUNCTION aigw_webhook_chat();

CREATE FUNCTION aigw_webhook_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NEW.status IN ('completed', 'failed', 'cancelled') THEN
        PERFORM aigw_webhook_enqueue('job', NEW.job_id, NEW.owner_user, 'job.' || NEW.status,
            NEW.webhook_url, NEW.webhook_key);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_webhook AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.webhook_url IS NOT NULL OR NEW.webhook_key IS NOT NULL)
    EXECUTE FUNCTION aigw_webhook_job();
