-- API keys for AIGW_AUTH=keys. A key is "aigw_<key_id>_<secret>"; only
-- the SHA-256 of the whole key is kept, and key_id (public, shown by
-- "aigw keys list") finds the row to compare it with.
CREATE TABLE api_keys (
    key_id      text PRIMARY KEY,
    key_hash    text NOT NULL,           -- SHA-256 of the key, lower-case hex
    owner_user  text NOT NULL CHECK (owner_user <> ''),
    owner_org   text NOT NULL DEFAULT '',
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- Active work per owner and decision, counted at every submit under the
-- active-work limits: small partial indexes, since finished rows leave them.
CREATE INDEX chat_results_active_user ON chat_results (owner_user)
    WHERE status IN ('pending', 'processing');
CREATE INDEX chat_results_active_org ON chat_results (owner_org)
    WHERE status IN ('pending', 'processing');
CREATE INDEX jobs_active_user ON jobs (owner_user)
    WHERE status IN ('pending', 'running');
CREATE INDEX jobs_active_org ON jobs (owner_org)
    WHERE status IN ('pending', 'running');
CREATE INDEX jobs_active_decision ON jobs (decision_id)
    WHERE status IN ('pending', 'running') AND decision_id IS NOT NULL;
