-- A cancelled job leaves its unfinished steps cancelled, so the step list
-- of a cancelled job does not show a step as still running.
ALTER TABLE job_steps DROP CONSTRAINT job_steps_status_check;
ALTER TABLE job_steps ADD CONSTRAINT job_steps_status_check
    CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled'));
