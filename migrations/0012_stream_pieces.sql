-- Streamed answers, stored as they arrive (docs/architecture.md, Streaming).
--
-- A provider's text comes in pieces, each a row of its own: appending is
-- an INSERT of the new text only, never a rewrite of the text so far
-- (a growing value rewritten per piece would cost the square of the
-- answer's length in WAL). The pieces of a chat (or of a job) share one
-- sequence with its state changes: the row's version. A piece write adds
-- its count of pieces to version and sets pieces_seq to the result; every
-- other change of version is a state change, which the trigger below
-- records in state_version, so that an event stream can place the state
-- between the pieces and resume from any event id exactly.
--
-- A piece with reset = true voids its provider's text so far (a retried
-- or resumed attempt starts its text again). The reaper drops the pieces
-- of a finished chat or job once its final results are stored and no
-- client is likely to resume from them; deleting the row drops them too.

ALTER TABLE chat_results DROP CONSTRAINT chat_results_status_check;
ALTER TABLE chat_results ADD CONSTRAINT chat_results_status_check
    CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled'));

ALTER TABLE chat_results ADD COLUMN pieces_seq integer NOT NULL DEFAULT 0;
ALTER TABLE chat_results ADD COLUMN state_version integer NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN pieces_seq integer NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN state_version integer NOT NULL DEFAULT 0;
UPDATE chat_results SET state_version = version;
UPDATE jobs SET state_version = version;

CREATE TABLE chat_pieces (
    chat_id   uuid NOT NULL REFERENCES chat_results (chat_id) ON DELETE CASCADE,
    seq       integer NOT NULL,
    provider  text NOT NULL,
    reset     boolean NOT NULL DEFAULT false,
    text      text NOT NULL DEFAULT '',
    PRIMARY KEY (chat_id, seq)
);

CREATE TABLE job_pieces (
    job_id     uuid NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    seq        integer NOT NULL,
    step_index integer NOT NULL,
    provider   text NOT NULL,
    reset      boolean NOT NULL DEFAULT false,
    text       text NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, seq)
);

CREATE FUNCTION aigw_state_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.version <> OLD.version AND NEW.pieces_seq = OLD.pieces_seq THEN
        NEW.state_version := NEW.version;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER chat_results_state_version BEFORE UPDATE OF version ON chat_results
    FOR EACH ROW EXECUTE FUNCTION aigw_state_version();
CREATE TRIGGER jobs_state_version BEFORE UPDATE OF version ON jobs
    FOR EACH ROW EXECUTE FUNCTION aigw_state_version();
