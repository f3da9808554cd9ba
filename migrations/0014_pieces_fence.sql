-- A piece write the worker gave up on (its connection timed out) may still
-- reach PostgreSQL later, after the worker wrote the same text again behind
-- a reset: stored then, it would repeat that text. Each write carries a
-- number that rises with every write of a claim (the claim's attempt in the
-- high bits, so a later claim's writes rank above an earlier one's); a
-- write whose number is not above the row's last is refused as stale.
ALTER TABLE chat_results ADD COLUMN pieces_fence bigint NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN pieces_fence bigint NOT NULL DEFAULT 0;
