-- A batch's create request is recorded before it goes out: when its answer
-- is lost (a timeout, a 5xx, a worker that died), the batch is looked up
-- at the provider before it is ever created again.
ALTER TABLE batches ADD COLUMN submit_sent_at timestamptz;
