#!/usr/bin/python3
"""Benchmark of aigw's two hot paths through nginx, beside PostgreSQL's own
ceiling for the statements behind them. Prints figures; asserts nothing.

  submit: wrk POST /api/ai/chat        vs  pgbench INSERT INTO chat_results
  status: wrk GET  /api/ai/chat/status vs  pgbench SELECT ... WHERE chat_id = $1

Everything (PostgreSQL, aigw-fcgi, nginx) is started on free 127.0.0.1
ports by tests/integration/stack.py and stopped at the end. See README.md.

    AIGW_BUILDDIR=build /usr/bin/python3 tests/bench/bench.py [--duration 10]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import stack as stk  # noqa: E402

PG_MARK = "pgbench insert"  # the message of pgbench's rows, removed after

# The handler's statements (src/db/db.c, chat_insert and chat_status), as
# pgbench scripts. The handler makes the chat id itself; pgbench lets the
# server do it with gen_random_uuid().
INSERT_SQL = f"""\\set ttl 3600
INSERT INTO chat_results (chat_id, owner_user, owner_org, message, system_prompt,
  max_tokens, websearch, location, models, expires_at)
  VALUES (gen_random_uuid(), '', '', '{PG_MARK}', NULL, 1024, false, NULL,
  '{{"mock": "m"}}'::jsonb, now() + :ttl * interval '1 second');
"""

# The same format as the handler's, with its colons written \x3a: pgbench
# would take ":MI" for a variable, even inside a string literal.
TS = "to_char({} AT TIME ZONE 'UTC', E'YYYY-MM-DD\"T\"HH24\\x3aMI\\x3aSS\"Z\"')"
SELECT_SQL = f"""SELECT chat_id, status, version, results::text,
  CASE WHEN status IN ('completed', 'failed') THEN '[]' ELSE
   (SELECT coalesce(jsonb_agg(k ORDER BY k), '[]'::jsonb)
    FROM jsonb_object_keys(models) k WHERE NOT results ? k)::text END,
  {TS.format("created_at")}, {TS.format("completed_at")}, {TS.format("expires_at")}
  FROM chat_results WHERE chat_id = :id AND owner_user = '' AND expires_at > now();
"""

WRK_POST_LUA = """wrk.method = "POST"
wrk.body = '{"message": "benchmark: compare Rust and Go for CLIs", "models": {"mock": "m"}}'
wrk.headers["Content-Type"] = "application/json"
"""

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    return float(m.group(1)) * UNITS_MS[m.group(2)] if m else None


def run(cmd, timeout, cwd=None):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}\n{r.stdout}{r.stderr}")
    return r.stdout


def wrk(url, args, script=None):
    """wrk --latency; returns req/s, p50 and p99 in ms, and error counts."""
    cmd = ["wrk", "-t", str(args.wrk_threads), "-c", str(args.connections),
           "-d", f"{args.duration}s", "--timeout", "5s", "--latency"]
    if script:
        cmd += ["-s", script]
    out = run(cmd + [url], timeout=args.duration + 60)
    fig = {"rps": None, "avg": None, "p50": None, "p99": None, "requests": None, "non2xx": 0,
           "errors": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    fig["rps"] = float(m.group(1)) if m else None
    m = re.search(r"^\s+Latency\s+(\S+)", out, re.M)
    fig["avg"] = to_ms(m.group(1)) if m else None
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        fig[key] = to_ms(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in", out)
    fig["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    fig["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    fig["errors"] = sum(int(x) for x in m.groups()) if m else 0
    fig["raw"] = out
    return fig


def pgbench(pg, base, name, sql, args, defines=()):
    """pgbench with the handler's statement, prepared as the handler does;
    returns tps and the average latency in ms. (No percentiles: with many
    clients per thread pgbench stamps times lazily, and its per-transaction
    log reads many latencies as 0.)"""
    script = os.path.join(base, f"{name}.sql")
    with open(script, "w") as f:
        f.write(sql)
    cmd = ["pgbench", "-n", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres",
           "-c", str(args.connections), "-j", str(args.pgbench_threads),
           "-T", str(args.duration), "-M", "prepared", "-f", script]
    for d in defines:
        cmd += ["-D", d]
    out = run(cmd + ["aigw"], timeout=args.duration + 60, cwd=base)
    fig = {"rps": None, "avg": None, "p50": None, "p99": None, "requests": None, "failed": 0,
           "raw": out}
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    fig["rps"] = float(m.group(1)) if m else None
    m = re.search(r"latency average = ([\d.]+) ms", out)
    fig["avg"] = float(m.group(1)) if m else None
    m = re.search(r"number of transactions actually processed: (\d+)", out)
    fig["requests"] = int(m.group(1)) if m else None
    m = re.search(r"number of failed transactions: (\d+)", out)
    fig["failed"] = int(m.group(1)) if m else 0
    return fig


def fmt(value, spec):
    if value is None:
        width = re.match(r"\d*", spec).group(0)
        return format("-", f">{width}") if width else "-"
    return format(value, spec)


def ratio(a, b):
    return None if not a or not b else a / b


def report(figs, args):
    sub, ins, st, sel = figs["submit"], figs["insert"], figs["status"], figs["select"]
    lines = [
        "",
        f"aigw benchmark: {args.connections} connections, {args.duration} s each, "
        f"mock provider {args.mock_delay_ms} ms, aigw-fcgi {args.fcgi_threads} threads, "
        f"AIGW_WORKERS_MAX {args.workers_max or 'default'}, AIGW_SPAWN {args.spawn}, "
        f"{os.cpu_count()} CPUs",
        "",
        f"{'':32} {'req/s':>10} {'avg ms':>8} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9}"
        f" {'errors':>7}",
    ]

    def row(label, f, errors):
        lines.append(f"{label:32} {fmt(f['rps'], '10.0f')} {fmt(f['avg'], '8.2f')} "
                     f"{fmt(f['p50'], '8.2f')} "
                     f"{fmt(f['p99'], '8.2f')} {fmt(f['requests'], '9d')} {errors:7d}")
    row("submit  POST /api/ai/chat (wrk)", sub, sub["non2xx"] + sub["errors"])
    row("ceiling INSERT (pgbench)", ins, ins["failed"])
    row("status  GET  .../status (wrk)", st, st["non2xx"] + st["errors"])
    row("ceiling SELECT (pgbench)", sel, sel["failed"])
    lines.append("")
    lines.append(f"{'goal':44} {'figure':>10} {'met':>5}")

    def goal(label, value, ok, spec):
        met = "-" if value is None else ("yes" if ok(value) else "NO")
        lines.append(f"{label:44} {fmt(value, spec):>10} {met:>5}")
    goal("submit >= 50% of the INSERT ceiling", ratio(sub["rps"], ins["rps"]),
         lambda v: v >= 0.5, ".0%")
    goal("status >= 50% of the SELECT ceiling", ratio(st["rps"], sel["rps"]),
         lambda v: v >= 0.5, ".0%")
    goal("submit p99 < 20 ms", sub["p99"], lambda v: v < 20, ".2f")
    goal("status p99 < 20 ms", st["p99"], lambda v: v < 20, ".2f")
    print("\n".join(lines), flush=True)


def wait_completed(url, chat_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(url + "/api/ai/chat/status", params={"id": chat_id}, timeout=10).json()
        if body.get("status") in ("completed", "failed"):
            return body
        time.sleep(0.1)
    raise TimeoutError(f"chat {chat_id} did not finish in {timeout} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=10, help="seconds per run (10)")
    ap.add_argument("--connections", type=int, default=64,
                    help="wrk connections and pgbench clients (64)")
    ap.add_argument("--wrk-threads", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--pgbench-threads", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--fcgi-threads", type=int, default=16, help="aigw-fcgi --threads (16, its default)")
    ap.add_argument("--nginx-workers", default="auto")
    ap.add_argument("--mock-delay-ms", type=int, default=50, help="AIGW_MOCK_DELAY_MS (50)")
    ap.add_argument("--workers-max", type=int, default=None,
                    help="AIGW_WORKERS_MAX (aigw's default when not given)")
    ap.add_argument("--spawn", choices=("on", "off"), default="on",
                    help="AIGW_SPAWN: off measures the handler without workers "
                    "competing for the CPUs (on)")
    ap.add_argument("--log-level", default="warn", help="AIGW_LOG_LEVEL (warn)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    ap.add_argument("--verbose", action="store_true", help="print wrk's and pgbench's output")
    args = ap.parse_args()

    for tool in ("wrk", "pgbench", "nginx"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode:
            sys.exit(f"bench: {tool} is not installed (apt-get install wrk "
                     "postgresql-client-15 nginx)")

    env = {"AIGW_MOCK_DELAY_MS": str(args.mock_delay_ms), "AIGW_LOG_LEVEL": args.log_level,
           "AIGW_SPAWN": args.spawn}
    if args.workers_max is not None:
        env["AIGW_WORKERS_MAX"] = str(args.workers_max)
    print("bench: starting PostgreSQL, aigw-fcgi and nginx ...", flush=True)
    s = stk.Stack(extra_env=env, threads=args.fcgi_threads, nginx_workers=args.nginx_workers,
                  mock=False, prefix="aigw-bench-")
    figs = {}
    try:
        url = s.url()
        lua = os.path.join(s.base, "post.lua")
        with open(lua, "w") as f:
            f.write(WRK_POST_LUA)

        print("bench: pgbench INSERT ...", flush=True)
        figs["insert"] = pgbench(s.pg, s.base, "insert", INSERT_SQL, args)
        s.pg.psql(f"DELETE FROM chat_results WHERE message = '{PG_MARK}'")
        s.pg.psql("VACUUM ANALYZE chat_results")

        r = requests.post(url + "/api/ai/chat", timeout=10,
                          json={"message": "the chat to poll", "models": {"mock": "m"}})
        if r.status_code != 202:
            raise RuntimeError(f"submit: {r.status_code} {r.text}\n{s.logs()}")
        chat_id = r.json()["chatId"]
        if args.spawn == "on":
            wait_completed(url, chat_id)

        print("bench: pgbench SELECT ...", flush=True)
        figs["select"] = pgbench(s.pg, s.base, "select", SELECT_SQL, args,
                                 defines=[f"id={chat_id}"])
        time.sleep(1)
        print("bench: wrk GET status ...", flush=True)
        figs["status"] = wrk(f"{url}/api/ai/chat/status?id={chat_id}", args)
        time.sleep(1)
        before = s.count_rows()
        print("bench: wrk POST chat ...", flush=True)
        figs["submit"] = wrk(f"{url}/api/ai/chat", args, script=lua)
        figs["submit"]["rows_inserted"] = s.count_rows() - before
        figs["submit"]["pending_after"] = int(s.pg.psql(
            "SELECT count(*) FROM chat_results WHERE status IN ('pending', 'processing')"))
        figs["submit"]["workers_after"] = len(s.workers())

        if args.verbose:
            for name, f in figs.items():
                print(f"---- {name}\n{f['raw']}")
        report(figs, args)
        sub = figs["submit"]
        print(f"\nsubmit run: {sub['rows_inserted']} chats stored, {sub['pending_after']} "
              f"still queued at its end, {sub['workers_after']} workers alive")
        if sub["non2xx"] or sub["errors"] or figs["status"]["non2xx"] or figs["status"]["errors"]:
            print("bench: some requests failed; the last lines of the logs:" + s.logs(20))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({k: {kk: vv for kk, vv in v.items() if kk != "raw"}
                           for k, v in figs.items()}, f, indent=2)
    except BaseException:
        sys.stderr.write(s.logs())
        raise
    finally:
        s.close()


if __name__ == "__main__":
    main()
