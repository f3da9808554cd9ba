-- The reaper (aigw reap, and every worker once a minute) fails work nobody
-- picked up, retries or fails work that ran past its timeout or whose
-- worker died with no attempts left, and deletes what is past keeping.

-- When the current attempt began: set by a claim, and by the reaper when it
-- puts timed-out work back in the queue (NULL: never claimed, so the
-- pending timeout counts from created_at).
ALTER TABLE chat_results ADD COLUMN attempt_at timestamptz;
ALTER TABLE jobs ADD COLUMN attempt_at timestamptz;

-- Finished jobs, oldest first, for deletion after their keeping time.
CREATE INDEX jobs_finished ON jobs (completed_at)
    WHERE status IN ('completed', 'failed', 'cancelled');

-- One row: when the reaper last ran. Workers take it as a lease so that one
-- process reaps per minute, however many run.
CREATE TABLE reaper_state (
    id      integer PRIMARY KEY CHECK (id = 1),
    ran_at  timestamptz
);
INSERT INTO reaper_state (id) VALUES (1);
