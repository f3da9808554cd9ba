"""A batch of 50,000 calls: its results are matched by hash and written a
group at a time, so the worker's loop keeps renewing the leases of its other
work meanwhile."""

import time
import uuid

from conftest import submit
from test_batch_safety import MODELS, aigw_log, created, wait_all_final

# a lease shorter than the slow chat's call below, so it must be renewed
EXTRA_ENV = {"AIGW_BATCH_WINDOW_MS": "1000", "AIGW_LEASE_S": "10"}


def test_a_50000_call_batch_leaves_the_workers_other_leases_renewed(stack):
    tag = uuid.uuid4().hex[:8]
    n = 50000
    model = MODELS["openai-batch"]
    # 50,000 chats whose workers queued their call and left, as many chats
    # with one async provider leave them
    stack.pg.psql(
        "WITH c AS (INSERT INTO chat_results (message, max_tokens, models, status, attempts,"
        " started_at) SELECT 'many " + tag + " ' || g || ' ', 16,"
        " jsonb_build_object('openai-batch', '" + model + "'), 'processing', 1, now()"
        " FROM generate_series(1, " + str(n) + ") g RETURNING chat_id, message)"
        " INSERT INTO batch_items (item_id, provider, model, chat_id, message, max_tokens)"
        " SELECT gen_random_uuid(), 'openai-batch', '" + model + "', chat_id, message, 16"
        " FROM c")
    # meanwhile a chat whose call takes longer than its lease (10 s): its
    # worker must renew the lease while the batch's results are written
    slow = submit(stack.url(), {"openai": "gpt-4o~delay=25000"},
                  message=f"slow {tag} 0").json()["chatId"]
    start = time.monotonic()
    done, failed = wait_all_final(stack, tag, n + 1, 400)
    print(f"\n{n} batch results written in {time.monotonic() - start:.1f} s")
    assert (done, failed) == (n + 1, 0)
    assert stack.pg.psql(f"SELECT attempts FROM chat_results WHERE chat_id = '{slow}'") == "1"
    log = aigw_log(stack)
    assert "lease lost" not in log and "taken over" not in log
    assert len(created(stack, "openai-batch", tag)) == 1
