-- A provider that answered 429 with Retry-After is paused for every worker
-- on every host until then, so that the fleet backs off together instead
-- of each call learning it alone. One row per provider; a pause only ever
-- grows (GREATEST), and a row whose time has passed means nothing.
-- UNLOGGED: a pause is worth seconds; after a crash (the table is emptied)
-- the next 429 sets it again.
CREATE UNLOGGED TABLE provider_pauses (
    provider  text PRIMARY KEY,
    until     timestamptz NOT NULL
);
