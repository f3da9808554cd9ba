-- A batch's create request is recorded before it goes out: when its answer
-- is lost (a timeout, a 5xx, a worker that died), the batch is looked up
-- at the provider before it is ever created again.
ALTER TABLE batches ADD COLUMN submit_sent_at timestamptz;

-- The reaper deletes finished batches past their keeping time.
CREATE INDEX batches_finished ON batches (completed_at)
    WHERE status IN ('done', 'failed', 'cancelled');
