-- A change to an API key (revoked, deleted, by `aigw keys revoke` or by
-- hand) is notified on aigw_key with the key's id, in the transaction that
-- makes it: each aigw-fcgi keeps the keys it checked in memory
-- (http/status_cache.h) and forgets one as soon as it hears this, so that
-- a revoked key is refused from the next request on, without a query per
-- request. Keys change rarely: one notification each costs nothing.

CREATE FUNCTION aigw_key_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('aigw_key', OLD.key_id);
    RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_notify AFTER UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION aigw_key_changed();
