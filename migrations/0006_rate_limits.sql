-- Provider rate limits shared by every worker on every host (SPEC 3): a
-- sliding window of the requests (and their estimated tokens) that started
-- in the last minute, per provider. A worker takes a reservation before it
-- sends a request, under a per-provider advisory lock, or learns how long
-- to wait until the oldest one that stands in its way leaves the window.

-- One row per request let through. UNLOGGED: a row is worth a minute, so
-- writing it to the WAL would cost more than losing it; after a crash (the
-- table is emptied) the limits start from a clean minute. No primary key:
-- rows are only counted by provider and time, and deleted the same way.
CREATE UNLOGGED TABLE rate_reservations (
    provider     text NOT NULL,
    reserved_at  timestamptz NOT NULL,
    tokens       integer NOT NULL CHECK (tokens >= 0)
);
CREATE INDEX rate_reservations_window ON rate_reservations (provider, reserved_at);

-- Requests that had to wait for a limit, and for how long in all, per
-- provider: counted once per request, when it is let through.
CREATE TABLE rate_limit_waits (
    provider    text PRIMARY KEY,
    waits       bigint NOT NULL DEFAULT 0,
    wait_ms     bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
