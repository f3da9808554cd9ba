#!/usr/bin/python3
"""The benchmark suite of aigw: one command, one table. Asserts nothing.

  1. ceilings   nginx alone (return 202); pgbench with the exact statements
                behind submit and status (8 and 32 clients); a reference
                FastCGI responder (refresponder.c) behind the same nginx
  2. aigw       chat submit/status and job submit/status through nginx,
                auth off (AIGW_AUTH=none) and on (AIGW_AUTH=keys)
  3. ratios     aigw / reference and aigw / pgbench; RSS of aigw's processes
  4. fan-out    1,000 chats x 3 providers at 2,000 ms on the mock providers
  5. visibility mock answer -> long-polling client, p50/p99 over 500 answers

Everything runs on 127.0.0.1 and is stopped by PID at the end (also on
Ctrl-C). See README.md beside this file.

    AIGW_BUILDDIR=build /usr/bin/python3 tests/bench/bench.py [--quick] [--json FILE]
"""

import argparse
import asyncio
import json
import math
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import stack as stk  # noqa: E402
import echomock  # noqa: E402

MARK = "pgbench row"  # the message (chats) or topic (jobs) of pgbench's rows
JOB_TYPE = "brief_generation"  # a shipped type; steps draft, review
JOB_STEPS = '["draft","review"]'
CLK_TCK = os.sysconf("SC_CLK_TCK")

# ---------------------------------------------------------------- statements

# src/db/db.c's statements as pgbench scripts. The handler makes ids itself;
# pgbench lets the server do it with gen_random_uuid(). pgbench would take
# ":MI" for a variable even inside a string literal, so the timestamp
# format writes its colons \x3a.
TS = "to_char({} AT TIME ZONE 'UTC', E'YYYY-MM-DD\"T\"HH24\\x3aMI\\x3aSS\"Z\"')"

CHAT_INSERT_SQL = f"""INSERT INTO chat_results (chat_id, owner_user, owner_org, message,
  system_prompt, max_tokens, websearch, location, models, expires_at)
  VALUES (gen_random_uuid(), '', '', '{MARK}', NULL, 1024, false, NULL,
  '{{"mock":"m"}}'::jsonb, now() + 3600 * interval '1 second');
"""

CHAT_STATUS_SQL = f"""SELECT chat_id, status, version, results::text,
  CASE WHEN status IN ('completed', 'failed') THEN '[]' ELSE
   (SELECT coalesce(jsonb_agg(k ORDER BY k), '[]'::jsonb)
    FROM jsonb_object_keys(models) k WHERE NOT results ? k)::text END,
  {TS.format("created_at")}, {TS.format("completed_at")}, {TS.format("expires_at")}
  FROM chat_results WHERE chat_id = :id AND owner_user = '' AND expires_at > now();
"""

JOB_ACCEPTED_JSON = ("json_build_object('id', j.job_id, 'job_id', j.job_id, 'type', j.type, "
                     "'status', j.status, 'progress', j.progress, 'created_at', "
                     f"{TS.format('j.created_at')})::text")

JOB_INSERT_SQL = f"""WITH j AS (
 INSERT INTO jobs (job_id, type, owner_user, owner_org, decision_id, input,
  max_attempts, timeout_s, idempotency_key, request_hash, status_message)
 VALUES (gen_random_uuid(), '{JOB_TYPE}', '', '', NULL, '{{"topic":"{MARK}"}}'::jsonb, 3, 600,
  NULL, encode(sha256(convert_to(NULL::text, 'UTF8')), 'hex'), 'Queued')
 ON CONFLICT (owner_user, idempotency_key) WHERE idempotency_key IS NOT NULL
 DO NOTHING RETURNING *),
 s AS (INSERT INTO job_steps (job_id, step_index, name)
  SELECT j.job_id, e.ord - 1, e.name
  FROM j, jsonb_array_elements_text('{JOB_STEPS}'::jsonb) WITH ORDINALITY AS e(name, ord))
 SELECT {JOB_ACCEPTED_JSON} FROM j;
"""

JOB_STATUS_SQL = f"""SELECT json_build_object('id', j.job_id, 'type', j.type, 'status', j.status,
  'progress', j.progress, 'status_message', j.status_message, 'steps',
  (SELECT coalesce(json_agg(json_build_object('name', s.name, 'status', s.status)
   ORDER BY s.step_index), '[]'::json) FROM job_steps s WHERE s.job_id = j.job_id),
  'error', j.error, 'attempts', j.attempts, 'decision_id', j.decision_id,
  'version', j.version, 'created_at', {TS.format("j.created_at")},
  'started_at', {TS.format("j.started_at")}, 'completed_at', {TS.format("j.completed_at")})::text,
  j.version, j.status
  FROM jobs j WHERE j.job_id = :id AND j.owner_user = '';
"""

CHAT_BODY = {"message": "benchmark: compare Rust and Go for CLIs", "models": {"mock": "m"}}
SOAK_BODY = {"message": "soak", "models": {"mock": "m"}}
JOB_BODY = {"type": JOB_TYPE, "input": {"topic": "benchmark: choosing a CLI language"}}
# The providers of the fan-out and of the visibility runs (the mock providers).
PROVIDERS = {"openai": "gpt-4o", "anthropic": "claude-3-5-haiku-latest",
             "gemini": "gemini-2.5-flash"}

RETURN_202 = ('location = /_bench/202 { default_type application/json; '
              'return 202 \'{"success":true,"chatId":"00000000-0000-4000-8000-000000000000",'
              '"status":"pending"}\'; }')

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


# ---------------------------------------------------------------- helpers

def log(msg):
    print(f"bench: {msg}", flush=True)


def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    return float(m.group(1)) * UNITS_MS[m.group(2)] if m else None


def run(cmd, timeout, cwd=None, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}\n{r.stdout}{r.stderr}")
    return r.stdout


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(p / 100 * len(values)) - 1))]


def ratio(a, b):
    return None if not a or not b else a / b


def proc_rss_kb(pid):
    """(VmRSS, VmHWM) in KiB, or (None, None) once the process is gone."""
    rss = hwm = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def proc_cpu_s(pid):
    """utime + stime of pid in seconds, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---------------------------------------------------------------- load generators

def wrk(url, args, duration, script=None, headers=()):
    """wrk --latency: req/s, avg, p50, p99 (ms), requests and errors."""
    cmd = ["wrk", "-t", str(args.wrk_threads), "-c", str(args.connections),
           "-d", f"{duration}s", "--timeout", "5s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", script]
    out = run(cmd + [url], timeout=duration + 60)
    fig = {"rps": None, "avg": None, "p50": None, "p99": None, "requests": None, "errors": 0}
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
    fig["errors"] += int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    fig["errors"] += sum(int(x) for x in m.groups()) if m else 0
    if args.verbose:
        print(out, flush=True)
    return fig


def pgbench(pg, base, name, sql, clients, args, duration, defines=()):
    """pgbench -M prepared: tps and average latency (pgbench gives no
    trustworthy percentiles with many clients per thread)."""
    script = os.path.join(base, f"{name}.sql")
    with open(script, "w") as f:
        f.write(sql)
    cmd = ["pgbench", "-n", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres",
           "-c", str(clients), "-j", str(min(clients, args.pgbench_threads)),
           "-T", str(duration), "-M", "prepared", "-f", script]
    for d in defines:
        cmd += ["-D", d]
    out = run(cmd + ["aigw"], timeout=duration + 60, cwd=base)
    fig = {"rps": None, "avg": None, "p50": None, "p99": None, "requests": None, "errors": 0}
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    fig["rps"] = float(m.group(1)) if m else None
    m = re.search(r"latency average = ([\d.]+) ms", out)
    fig["avg"] = float(m.group(1)) if m else None
    m = re.search(r"number of transactions actually processed: (\d+)", out)
    fig["requests"] = int(m.group(1)) if m else None
    m = re.search(r"number of failed transactions: (\d+)", out)
    fig["errors"] = int(m.group(1)) if m else 0
    if args.verbose:
        print(out, flush=True)
    return fig


# ---------------------------------------------------------------- the reference

def build_refresponder(base):
    """tests/bench/refresponder.c, built once into the stack's temp dir."""
    binary = os.path.join(base, "refresponder")
    if not os.path.exists(binary):
        src = os.path.join(HERE, "refresponder.c")
        flags = run(["pkg-config", "--cflags", "libpq", "json-c"], timeout=30).split()
        run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", *flags, "-o", binary, src,
             "-lfcgi", "-ljson-c", "-lpq", "-lpthread"], timeout=120)
    return binary


def start_listening(server, cmd, env, base, what):
    """Starts cmd as server.proc (stderr to server.errlog), tracked for the
    stop at exit; returns once server.port accepts connections."""
    with open(server.errlog, "w") as err:
        server.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=err, cwd=base)
    stk._track(server)

    def listening():
        with socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
            return True
    stk.wait_for(listening, 15, what, proc=server.proc, log=server.errlog)


class RefResponder:
    """tests/bench/refresponder.c: procs processes (forked after listening)
    of threads threads each. With database_url None it runs --no-db (the
    FastCGI ceiling), answering the status bodies given (files)."""

    def __init__(self, base, database_url, threads, procs=1, chat_body=None, job_body=None):
        self.bin = build_refresponder(base)
        self.port = stk.free_port()
        self.errlog = os.path.join(base, f"refresponder-{self.port}.err")
        cmd = [self.bin, "--listen", f"127.0.0.1:{self.port}", "--threads", str(threads),
               "--procs", str(procs)]
        env = dict(os.environ)
        env.pop("DATABASE_URL", None)
        if database_url is None:
            cmd.append("--no-db")
            if chat_body:
                cmd += ["--chat-status-body", chat_body]
            if job_body:
                cmd += ["--job-status-body", job_body]
        else:
            env["DATABASE_URL"] = database_url
        start_listening(self, cmd, env, base, "refresponder")

    def __repr__(self):
        return f"<RefResponder 127.0.0.1:{self.port}>"

    def pids(self):
        return [self.proc.pid] + stk.children(self.proc.pid)

    def stop(self):
        stk._untrack(self)
        stk.stop_process(self.proc)


# nginx's per-address submit limit out of the way. The tests' rate
# (100000r/s, burst 50) is not enough: nginx counts the requests read in one
# turn of its event loop as arriving in the same millisecond, and refused a
# few of the FastCGI ceiling's 17,000 submits a second whatever the rate.
# A dry run counts without refusing (and logs below the error log's level).
NO_SUBMIT_LIMIT = "limit_req_dry_run on; limit_req_log_level info;"


def Nginx(base, fcgi_port, workers=1, server_extra="", **kw):  # noqa: N802 - stands for stk.Nginx
    """stk.Nginx without the per-address submit limit."""
    return stk.Nginx(base, fcgi_port, workers, server_extra=NO_SUBMIT_LIMIT + " " + server_extra,
                     **kw)


def is_fcgi(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return os.path.basename(f.read().split(b"\0")[0]) == b"aigw-fcgi"
    except OSError:
        return False


class Fcgi(stk.Fcgi):
    """aigw-fcgi --listen 127.0.0.1:<port> --threads N, and --processes N
    when processes > 1 (a prefork: the processes are the started pid's
    aigw-fcgi children)."""

    def __init__(self, base, env, threads=8, processes=1):  # noqa: stk.Fcgi takes no --processes
        self.port = stk.free_port()
        self.errlog = os.path.join(base, f"fcgi-{self.port}.err")
        cmd = [stk.program("aigw-fcgi"), "--listen", f"127.0.0.1:{self.port}",
               "--threads", str(threads)]
        if processes > 1:
            cmd += ["--processes", str(processes)]
        start_listening(self, cmd, env, base, "aigw-fcgi")

    def pids(self):
        """The processes serving: the started one and its aigw-fcgi children
        (not the workers it spawns)."""
        return [self.proc.pid] + [p for p in stk.children(self.proc.pid) if is_fcgi(p)]


def memory_of(pids):
    """[{pid, rss_kb, hwm_kb}] of the processes still alive."""
    out = []
    for pid in pids:
        rss, hwm = proc_rss_kb(pid)
        if rss is not None:
            out.append({"pid": pid, "rss_kb": rss, "hwm_kb": hwm})
    return out


# ---------------------------------------------------------------- the status cache's metrics

CACHE_METRICS = {
    "hits": r'aigw_status_cache_lookups_total\{result="hit"\}',
    "misses": r'aigw_status_cache_lookups_total\{result="miss"\}',
    "entries": r"aigw_status_cache_entries",
    "bytes": r"aigw_status_cache_bytes",
    "clears": r"aigw_status_cache_clears_total",
}


def cache_metrics(url):
    """The status cache's figures from aigw's /api/metrics (every process of
    that aigw-fcgi summed by aigw), or None where aigw has none (a build
    without the cache, or the scrape failed)."""
    try:
        text = requests.get(url + "/api/metrics", timeout=10).text
    except requests.RequestException:
        text = ""
    out = {}
    for key, pattern in CACHE_METRICS.items():
        m = re.search(rf"^{pattern}\s+([0-9.eE+-]+)\s*$", text, re.M)
        out[key] = float(m.group(1)) if m else None
    return out


def cache_delta(before, after):
    """Hits and misses between two scrapes; None when either lacks them."""
    d = {}
    for key in ("hits", "misses", "clears"):
        a, b = before.get(key), after.get(key)
        d[key] = None if a is None or b is None else b - a
    return d


def hit_rate(hits, misses):
    return None if hits is None or misses is None or hits + misses == 0 else \
        hits / (hits + misses)


# ---------------------------------------------------------------- section 1-3: throughput

def submit(url, path, body, headers=None):
    r = requests.post(url + path, json=body, headers=headers or {}, timeout=10)
    if r.status_code != 202:
        raise RuntimeError(f"POST {path}: {r.status_code} {r.text}")
    return r.json()


def wait_rows_done(s, chat_ids, job_ids, timeout):
    """Until the chats and jobs are finished (bounded)."""
    ids_c = ",".join(f"'{i}'" for i in chat_ids) or "NULL"
    ids_j = ",".join(f"'{i}'" for i in job_ids) or "NULL"
    sql = (f"SELECT (SELECT count(*) FROM chat_results WHERE chat_id IN ({ids_c})"
           f" AND status IN ('completed', 'failed'))"
           f" + (SELECT count(*) FROM jobs WHERE job_id IN ({ids_j})"
           f" AND status IN ('completed', 'failed', 'cancelled'))")
    stk.wait_for(lambda: int(s.pg.psql(sql)) == len(chat_ids) + len(job_ids), timeout,
                 "the chats and jobs to poll to finish", interval=0.2)


def make_targets(s, args, key):
    """Starts the references, the FastCGI ceilings and aigw with auth on and
    with the status cache off beside the stack's aigw (auth off), makes a
    finished chat and job for each owner to poll, and returns the servers,
    the HTTP targets and the pgbench runs."""
    on_env = dict(s.env, AIGW_AUTH="keys", AIGW_LIMIT_USER=str(args.limits),
                  AIGW_LIMIT_ORG=str(args.limits), AIGW_LIMIT_DECISION=str(args.limits))
    fcgi_on = Fcgi(s.base, on_env, args.fcgi_threads, args.fcgi_processes)
    nginx_on = Nginx(s.base, fcgi_on.port, args.nginx_workers)
    # aigw auth off without its status cache: every poll reads PostgreSQL.
    fcgi_nc = Fcgi(s.base, dict(s.env, AIGW_STATUS_CACHE_BYTES="0"), args.fcgi_threads,
                   args.fcgi_processes)
    nginx_nc = Nginx(s.base, fcgi_nc.port, args.nginx_workers)
    ref = RefResponder(s.base, s.pg.url, args.fcgi_threads)
    nginx_ref = Nginx(s.base, ref.port, args.nginx_workers)
    ref_p = RefResponder(s.base, s.pg.url, 1, args.ref_procs)
    nginx_ref_p = Nginx(s.base, ref_p.port, args.nginx_workers)
    servers = {"fcgi_on": fcgi_on, "nginx_on": nginx_on, "fcgi_nc": fcgi_nc,
               "nginx_nc": nginx_nc, "ref": ref, "nginx_ref": nginx_ref, "ref_p": ref_p,
               "nginx_ref_p": nginx_ref_p}

    auth = {"Authorization": f"Bearer {key}"}
    poll_body = {"message": "the chat to poll", "models": PROVIDERS}
    chat_off = submit(s.url(), "/api/ai/chat", poll_body)["chatId"]
    job_off = submit(s.url(), "/api/jobs", JOB_BODY)["id"]
    chat_on = submit(nginx_on.url(), "/api/ai/chat", poll_body, auth)["chatId"]
    job_on = submit(nginx_on.url(), "/api/jobs", JOB_BODY, auth)["id"]
    worker = None
    if args.spawn == "off":  # no worker is started for them: run one
        worker = subprocess.Popen([stk.program("aigw-worker")], env=s.env,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, cwd=s.base)
    try:
        wait_rows_done(s, [chat_off, chat_on], [job_off, job_on], 60)
    finally:
        stk.stop_process(worker)

    # The ceilings answer aigw's own status bodies for the rows polled, so
    # that the same bytes cross nginx.
    bodies = {}
    for name, path in (("chat", f"/api/ai/chat/status?id={chat_off}"),
                       ("job", f"/api/jobs/{job_off}/status")):
        r = requests.get(s.url() + path, timeout=10)
        if r.status_code != 200:
            raise RuntimeError(f"GET {path}: {r.status_code} {r.text}")
        bodies[name] = os.path.join(s.base, f"{name}_status_body.json")
        with open(bodies[name], "wb") as f:
            f.write(r.content)
    for n in args.ceiling_procs:
        ceil = RefResponder(s.base, None, 1, n, bodies["chat"], bodies["job"])
        servers[f"ceil{n}"] = ceil
        servers[f"nginx_ceil{n}"] = Nginx(s.base, ceil.port, args.nginx_workers)

    base = s.base
    lua = {}
    for name, body in (("chat", CHAT_BODY), ("job", JOB_BODY)):
        lua[name] = os.path.join(base, f"post_{name}.lua")
        with open(lua[name], "w") as f:
            f.write('wrk.method = "POST"\n'
                    f"wrk.body = '{json.dumps(body)}'\n"
                    'wrk.headers["Content-Type"] = "application/json"\n')
    hdr_on = [f"Authorization: Bearer {key}"]
    http = [("transport", "nginx return 202", f"{s.url()}/_bench/202", None, [])]
    whos = [(f"ceil{n}", servers[f"nginx_ceil{n}"].url(), chat_off, job_off, [])
            for n in args.ceiling_procs]
    whos += [("ref", nginx_ref.url(), chat_off, job_off, []),
             ("refp", nginx_ref_p.url(), chat_off, job_off, []),
             ("off", s.url(), chat_off, job_off, []),
             ("nocache", nginx_nc.url(), chat_off, job_off, []),
             ("on", nginx_on.url(), chat_on, job_on, hdr_on)]
    for who, url, chat, job, hdr in whos:
        if who != "nocache":  # its submits are aigw auth off's
            http += [(f"{who}:chat_submit", "POST /api/ai/chat", f"{url}/api/ai/chat",
                      lua["chat"], hdr),
                     (f"{who}:job_submit", "POST /api/jobs", f"{url}/api/jobs", lua["job"], hdr)]
        http += [(f"{who}:chat_status", "GET /api/ai/chat/status",
                  f"{url}/api/ai/chat/status?id={chat}", None, hdr),
                 (f"{who}:job_status", "GET /api/jobs/<id>/status",
                  f"{url}/api/jobs/{job}/status", None, hdr)]
    pg = []
    for clients in args.pg_clients:
        pg += [(f"pg{clients}:chat_submit", CHAT_INSERT_SQL, clients, []),
               (f"pg{clients}:chat_status", CHAT_STATUS_SQL, clients, [f"id={chat_off}"]),
               (f"pg{clients}:job_submit", JOB_INSERT_SQL, clients, []),
               (f"pg{clients}:job_status", JOB_STATUS_SQL, clients, [f"id={job_off}"])]
    return servers, http, pg


# Whose status runs the status cache's counters are read around, and where.
CACHE_TARGETS = ("off", "on", "nocache")


def fill_cache(s, url, args, rps):
    """Polls args.cache_fill distinct chats (made for it by SQL, the
    anonymous owner's) once each through url (wrk, each thread its own
    share of the ids, stopping when its share is answered): the status
    cache full, for the memory figures. wrk runs for its whole duration
    even when its threads have stopped, so the duration is the ids over rps
    (the status rate without the cache) with a margin, at most
    args.cache_fill_timeout. Returns what it did."""
    # A chat polled once is in one process's cache: with a prefork each
    # process should see about args.cache_fill of them.
    n = args.cache_fill * max(1, args.fcgi_processes)
    if n <= 0:
        return None
    log(f"status cache: {n} distinct chats polled once each ...")
    ids = s.pg.psql(
        "INSERT INTO chat_results (chat_id, owner_user, owner_org, message, system_prompt,"
        " max_tokens, websearch, location, models, expires_at)"
        f" SELECT gen_random_uuid(), '', '', 'cache fill', NULL, 1024, false, NULL,"
        f" '{{\"mock\":\"m\"}}'::jsonb, now() + interval '1 hour'"
        f" FROM generate_series(1, {n}) RETURNING chat_id").split()
    ids_file = os.path.join(s.base, "fill_ids.txt")
    with open(ids_file, "w") as f:
        f.write("\n".join(ids) + "\n")
    threads = args.wrk_threads
    script = os.path.join(s.base, "fill.lua")
    with open(script, "w") as f:
        f.write(f"""
local n_threads, counter = {threads}, 0
function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
end
function init(args)
  ids = {{}}
  for line in io.lines("{ids_file}") do ids[#ids + 1] = line end
  share = {{}}
  for i = index + 1, #ids, n_threads do share[#share + 1] = ids[i] end
  sent, answered = 0, 0
end
function request()
  sent = sent + 1
  local id = share[(sent - 1) % #share + 1]
  return wrk.format("GET", "/api/ai/chat/status?id=" .. id)
end
function response(status, headers, body)
  answered = answered + 1
  if answered >= #share then wrk.thread:stop() end
end
""")
    before = cache_metrics(url)
    t0 = time.monotonic()
    duration = max(3, min(args.cache_fill_timeout, math.ceil(n / max(rps or 0, 500) * 1.5) + 2))
    fig = wrk(url + "/api/ai/chat/status", args, duration, script)
    took = time.monotonic() - t0
    after = cache_metrics(url)
    return {"chats": n, "requests": fig["requests"], "errors": fig["errors"], "seconds": took,
            "before": before, "after": after, **cache_delta(before, after)}


def throughput(s, args, key):
    servers, http, pg = make_targets(s, args, key)
    urls = {"off": s.url(), "on": servers["nginx_on"].url(),
            "nocache": servers["nginx_nc"].url()}
    runs = {name: [] for name, *_ in http}
    runs.update({name: [] for name, *_ in pg})
    cache = {}  # status target -> {"hits", "misses", "clears"} summed over its runs
    # Rounds, each target once per round: a change in the machine's load
    # spreads over every target instead of falling on one.
    for rnd in range(args.runs):
        for name, sql, clients, defines in pg:
            log(f"round {rnd + 1}/{args.runs}: pgbench {name} ...")
            runs[name].append(pgbench(s.pg, s.base, name.replace(":", "_"), sql, clients, args,
                                      args.duration, defines))
            if name.endswith("submit"):
                s.pg.psql(f"DELETE FROM chat_results WHERE message = '{MARK}';"
                          f" DELETE FROM jobs WHERE input->>'topic' = '{MARK}'")
        for name, what, url, script, headers in http:
            log(f"round {rnd + 1}/{args.runs}: wrk {name} {what} ...")
            if args.warmup > 0:
                wrk(url, args, args.warmup, script, headers)
            who = name.split(":")[0]
            counted = who in CACHE_TARGETS and name.endswith("status")
            if counted:
                before = cache_metrics(urls[who])
            runs[name].append(wrk(url, args, args.duration, script, headers))
            if counted:
                d = cache_delta(before, cache_metrics(urls[who]))
                acc = cache.setdefault(name, {"hits": 0, "misses": 0, "clears": 0})
                for k, v in d.items():
                    acc[k] = None if v is None or acc[k] is None else acc[k] + v
    s.pg.psql("VACUUM ANALYZE chat_results")
    figs = {}
    for name, rs in runs.items():
        figs[name] = {k: median([r[k] for r in rs]) for k in ("rps", "avg", "p50", "p99")}
        figs[name]["errors"] = sum(r["errors"] for r in rs)
        figs[name]["runs_rps"] = [r["rps"] for r in rs]
    for name, c in cache.items():
        c["hit_rate"] = hit_rate(c["hits"], c["misses"])
        figs[name]["cache"] = c
    # The cache filled, then the resident memory of every process.
    status_cache = {"runs": cache, "fill": fill_cache(s, s.url(), args,
                                                               figs["nocache:chat_status"]["rps"])}
    mem = {}
    for label, part in (("aigw-fcgi (auth off)", s.fcgi), ("aigw-fcgi (auth on)",
                        servers["fcgi_on"]), ("aigw-fcgi (status cache off)",
                        servers["fcgi_nc"])):
        mem[label] = memory_of(part.pids() if isinstance(part, Fcgi) else [part.proc.pid])
    mem["refresponder (16 threads)"] = memory_of(servers["ref"].pids())
    mem[f"refresponder ({args.ref_procs} processes)"] = memory_of(servers["ref_p"].pids())
    for n in args.ceiling_procs:
        mem[f"ceiling ({n} process{'es' if n > 1 else ''})"] = memory_of(servers[f"ceil{n}"].pids())
    mem["aigw-worker"] = memory_of(s.workers())
    for name, part in servers.items():
        if name.startswith("nginx"):
            part.stop()
    for name, part in servers.items():
        if not name.startswith("nginx"):
            part.stop()
    return figs, mem, status_cache


# ---------------------------------------------------------------- cross-process lag

def lag(s, args):
    """Two aigw-fcgi (A and B, each behind its own nginx) on one database,
    workers off: a chat submitted through A stays pending. For each sample:
    submit through A, poll through B twice (the second a cache hit where
    B has a cache), cancel through A (which raises the version and notifies
    in one statement), then poll B on its keep-alive connection until it
    shows the cancel's version, or args.lag_timeout s. The lag is the
    answer showing it less the cancel's answer (both read here)."""
    import http.client
    env = dict(s.env, AIGW_SPAWN="off")
    parts = []
    try:
        fa = Fcgi(s.base, env, 4, args.fcgi_processes)
        parts.append(fa)
        fb = Fcgi(s.base, env, 4, args.fcgi_processes)
        parts.append(fb)
        na = Nginx(s.base, fa.port, 1)
        parts.append(na)
        nb = Nginx(s.base, fb.port, 1)
        parts.append(nb)
        ca = http.client.HTTPConnection("127.0.0.1", na.port, timeout=10)
        cb = http.client.HTTPConnection("127.0.0.1", nb.port, timeout=10)

        def call(conn, method, path, body=None):
            hdr = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=None if body is None else json.dumps(body),
                         headers=hdr)
            r = conn.getresponse()
            data = r.read()
            return r.status, (json.loads(data) if data else None)

        before = cache_metrics(nb.url())
        lags, missed, polls, errors, first_error, back = [], 0, [], 0, None, 0
        log(f"lag: {args.lag_samples} changes through A, polled through B ...")
        for i in range(args.lag_samples):
            try:
                code, r = call(ca, "POST", "/api/ai/chat",
                               {"message": f"lag {i}", "models": {"mock": "m"}})
                if code != 202:
                    raise RuntimeError(f"submit {code}: {r}")
                cid = r["chatId"]
                seen = 0  # the highest version B showed: it must never go back
                for _ in range(2):
                    code, r = call(cb, "GET", f"/api/ai/chat/status?id={cid}")
                    if code != 200:
                        raise RuntimeError(f"status {code}: {r}")
                    back += r["version"] < seen
                    seen = max(seen, r["version"])
                code, r = call(ca, "POST", f"/api/ai/chat/cancel?id={cid}")
                t0 = time.monotonic()
                if code != 200:
                    raise RuntimeError(f"cancel {code}: {r}")
                want = r["version"]
                n = 0
                while True:
                    code, r = call(cb, "GET", f"/api/ai/chat/status?id={cid}")
                    t = time.monotonic()
                    n += 1
                    if code == 200:
                        back += r["version"] < seen
                        seen = max(seen, r["version"])
                    if code == 200 and r["version"] >= want:
                        lags.append((t - t0) * 1000)
                        polls.append(n)
                        break
                    if t - t0 > args.lag_timeout:
                        missed += 1
                        break
            except Exception as e:  # noqa: BLE001 - counted, the first one shown
                errors += 1
                first_error = first_error or repr(e)
                ca.close()
                cb.close()
        after = cache_metrics(nb.url())
        return {"samples": args.lag_samples, "seen": len(lags), "never_seen": missed,
                "went_back": back,
                "errors": errors, "first_error": first_error,
                "p50_ms": percentile(lags, 50), "p99_ms": percentile(lags, 99),
                "max_ms": max(lags) if lags else None,
                "polls_mean": statistics.mean(polls) if polls else None,
                "b_cache": cache_delta(before, after)}
    finally:
        for part in reversed(parts):
            part.stop()


# ---------------------------------------------------------------- section 4: fan-out

class Sampler(threading.Thread):
    """Samples the stack's workers (RSS, CPU) and aigw-fcgi's RSS from /proc."""

    def __init__(self, base, fcgi_pid, interval=0.05):
        super().__init__(daemon=True)
        self.base, self.fcgi_pid, self.interval = base, fcgi_pid, interval
        self.stop_event = threading.Event()
        self.cpu = {}            # pid -> last utime+stime seen
        self.peak_rss = {}       # pid -> highest VmRSS seen (KiB)
        self.peak_sum_kb = 0     # highest sum over the workers alive at once
        self.peak_workers = 0
        self.fcgi_peak_kb = 0

    def run(self):
        while not self.stop_event.is_set():
            total = 0
            pids = stk.live_workers(self.base)
            for pid in pids:
                rss, _ = proc_rss_kb(pid)
                cpu = proc_cpu_s(pid)
                if rss is not None:
                    total += rss
                    self.peak_rss[pid] = max(self.peak_rss.get(pid, 0), rss)
                if cpu is not None:
                    self.cpu[pid] = cpu
            self.peak_sum_kb = max(self.peak_sum_kb, total)
            self.peak_workers = max(self.peak_workers, len(pids))
            rss, _ = proc_rss_kb(self.fcgi_pid)
            self.fcgi_peak_kb = max(self.fcgi_peak_kb, rss or 0)
            self.stop_event.wait(self.interval)

    def stop(self):
        self.stop_event.set()
        self.join(5)


def post_many(url, bodies, threads):
    """POSTs every body from `threads` threads; returns the time of the last
    202 and the failures."""
    lock = threading.Lock()
    state = {"last": 0.0, "first": None, "failed": 0, "next": 0, "ids": []}

    def client():
        sess = requests.Session()
        while True:
            with lock:
                i = state["next"]
                state["next"] += 1
            if i >= len(bodies):
                return
            try:
                r = sess.post(url + "/api/ai/chat", json=bodies[i], timeout=30)
                ok = r.status_code == 202
            except requests.RequestException:
                ok = False
            now = time.time()
            with lock:
                if ok:
                    state["last"] = max(state["last"], now)
                    state["ids"].append(r.json()["chatId"])
                else:
                    state["failed"] += 1
    ts = [threading.Thread(target=client, daemon=True) for _ in range(threads)]
    state["first"] = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return state


class EchoMock(echomock.EchoServer):
    """The three providers of PROVIDERS answering every call after a fixed
    delay, served by nginx's echo module (Debian's nginx-light has it).
    The Python mock serves the tests' faults, but one thread a connection
    cannot take 3,000 calls at once: on this kind of machine it answered
    3,000 concurrent 2 s calls only after up to 6.7 s, so the fan-out
    measured the mock. Bodies are the Python mock's own answers, taken
    once; the access log gives each call's arrival and answer."""

    PATHS = {"openai": ("= /openai/v1/chat/completions", "/openai/v1/chat/completions"),
             "anthropic": ("= /anthropic/v1/messages", "/anthropic/v1/messages"),
             "gemini": ("~ ^/gemini/v1beta/models/[^/]+:generateContent$",
                        "/gemini/v1beta/models/{model}:generateContent")}

    def __init__(self, base, python_mock_url, delay_ms):
        locations = []
        for provider, (match, path) in self.PATHS.items():
            body = self.answer(python_mock_url, provider, path)
            # echo takes a single-quoted nginx string: the JSON has no
            # single quote, and no $ to be taken for a variable.
            if "'" in body or "$" in body:
                raise RuntimeError(f"{provider}'s answer cannot be echoed: {body[:200]}")
            locations.append(f"location {match} {{ default_type application/json;"
                             f" echo_sleep {delay_ms / 1000:.3f}; echo '{body}'; }}")
        super().__init__(base, locations)

    @staticmethod
    def answer(url, provider, path):
        model = PROVIDERS[provider]
        body = {"model": model, "max_tokens": 64,
                "messages": [{"role": "user", "content": "fan-out"}],
                "contents": [{"role": "user", "parts": [{"text": "fan-out"}]}]}
        r = requests.post(url + path.format(model=model), json=body, timeout=10,
                          headers={"Authorization": "Bearer k", "x-api-key": "k",
                                   "x-goog-api-key": "k", "anthropic-version": "2023-06-01"})
        r.raise_for_status()
        return json.dumps(r.json(), separators=(",", ":"))

    def base_urls(self):
        base = f"http://127.0.0.1:{self.port}"
        return {"OPENAI_BASE_URL": base + "/openai/v1",
                "ANTHROPIC_BASE_URL": base + "/anthropic", "GEMINI_BASE_URL": base + "/gemini"}

    def entries(self):
        """Each call as the mock's log has it: arrival and answer times."""
        out = []
        with open(self.access_log) as f:
            for line in f:
                msec, took, _ = line.split(" ", 2)
                out.append({"time": float(msec) - float(took), "sent": float(msec)})
        return out


def mock_entries(mock):
    """The mock's provider requests from its log file (JSON lines)."""
    out = []
    with open(mock.log) as f:
        for line in f:
            e = json.loads(line)
            if e.get("provider") and e.get("sent") is not None:
                out.append(e)
    return out


def max_in_flight(entries, since):
    events = []
    for e in entries:
        if e["time"] >= since:
            events += [(e["time"], 1), (e["sent"], -1)]
    events.sort(key=lambda x: (x[0], x[1]))
    cur = best = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def fanout(s, url, fcgi_pid, args, mock):
    n = args.fanout_chats
    d = args.fanout_delay_ms
    models = dict(PROVIDERS)  # the echo mock answers each after d ms
    bodies = [{"message": f"fan-out {i}", "models": models} for i in range(n)]
    sampler = Sampler(s.base, fcgi_pid)
    sampler.start()
    since = time.time()
    log(f"fan-out: {n} chats x {len(models)} providers at {d} ms ...")
    st = post_many(url, bodies, args.submit_threads)
    last_202 = st["last"]
    timeout = args.fanout_timeout
    done_sql = ("SELECT count(*) FROM chat_results WHERE status IN ('completed', 'failed')"
                " AND message LIKE 'fan-out %'")
    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        done = int(s.pg.psql(done_sql))
        if done >= len(st["ids"]):
            break
        time.sleep(0.1)
    row = s.pg.psql("SELECT extract(epoch FROM max(completed_at)),"
                    " count(*) FILTER (WHERE status = 'failed'),"
                    " extract(epoch FROM min(completed_at))"
                    " FROM chat_results WHERE message LIKE 'fan-out %'").split("|")
    time.sleep(0.3)
    sampler.stop()
    last_stored = float(row[0]) if row[0] else None
    entries = [e for e in mock.entries() if e["time"] >= since]
    mock_ms = [(e["sent"] - e["time"]) * 1000 for e in entries]
    fig = {
        "chats": n, "providers": len(models), "delay_ms": d,
        "accepted": len(st["ids"]), "submit_failed": st["failed"],
        "submit_s": last_202 - st["first"] if last_202 else None,
        "finished": done, "failed_chats": int(row[1] or 0),
        "all_stored": done >= len(st["ids"]) and st["failed"] == 0,
        "last_stored_after_last_202_s": (last_stored - last_202)
        if last_stored and last_202 and done >= len(st["ids"]) else None,
        "first_stored_after_last_202_s": (float(row[2]) - last_202) if row[2] else None,
        "provider_calls": len(entries),
        "calls_in_flight_max": max_in_flight(entries, since),
        "mock_answer_ms_p50": percentile(mock_ms, 50),
        "mock_answer_ms_max": max(mock_ms) if mock_ms else None,
        "workers_peak": sampler.peak_workers,
        "worker_rss_peak_kb": max(sampler.peak_rss.values()) if sampler.peak_rss else None,
        "workers_rss_peak_sum_kb": sampler.peak_sum_kb,
        # Every worker alive here was started for this run (the queue was
        # empty and no worker alive before), so all its CPU time counts.
        "worker_cpu_s": sum(sampler.cpu.values()),
        "fcgi_rss_peak_kb": sampler.fcgi_peak_kb,
    }
    return fig


# ---------------------------------------------------------------- section 6: soak

def children(pid):
    """The PIDs of pid's children (nginx's workers)."""
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def soak(s, url, fcgi_pid, nginx_pid, args, max_rps):
    """Chat submits at half of max_rps for args.soak seconds (wrk, each
    connection pacing itself), the workers running them on the built-in
    mock; the RSS of aigw-fcgi, of each worker and of nginx's processes
    sampled every few seconds. Growth is the last sample against the first
    one after the warm-up (a tenth of the run)."""
    rate = max_rps / 2
    conns = args.connections
    lua = os.path.join(s.base, "soak.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\n'
                f"wrk.body = '{json.dumps(SOAK_BODY)}'\n"
                'wrk.headers["Content-Type"] = "application/json"\n'
                # wrk waits delay() ms before each request of a connection.
                f"function delay() return {max(1, round(conns * 1000 / rate))} end\n")
    samples = {}  # name -> [(t, rss_kb)]
    stop = threading.Event()
    interval = max(1.0, min(5.0, args.soak / 60))

    def sample():
        t0 = time.monotonic()
        while not stop.is_set():
            t = time.monotonic() - t0
            named = [("aigw-fcgi", fcgi_pid), ("nginx master", nginx_pid)]
            named += [(f"nginx worker {p}", p) for p in children(nginx_pid)]
            named += [(f"aigw-worker {p}", p) for p in stk.live_workers(s.base)]
            for name, pid in named:
                rss, _ = proc_rss_kb(pid)
                if rss:
                    samples.setdefault(name, []).append((t, rss))
            stop.wait(interval)
    log(f"soak: {args.soak} s at {rate:.0f} chat submits/s (half of {max_rps:.0f}) ...")
    before = int(s.pg.psql("SELECT count(*) FROM chat_results WHERE message = 'soak'"))
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        fig = wrk(url + "/api/ai/chat", args, args.soak, lua)
    finally:
        stop.set()
        sampler.join(10)
    submitted = int(s.pg.psql("SELECT count(*) FROM chat_results WHERE message = 'soak'")) - before
    t_end = time.monotonic()
    unfinished = None
    while time.monotonic() < t_end + 120:
        unfinished = int(s.pg.psql("SELECT count(*) FROM chat_results WHERE message = 'soak'"
                                   " AND status NOT IN ('completed', 'failed')"))
        if unfinished == 0:
            break
        time.sleep(1)
    warm = args.soak / 10
    procs = {}
    for name, series in samples.items():
        settled = [kb for t, kb in series if t >= warm] or [series[-1][1]]
        procs[name] = {"first_kb": settled[0], "last_kb": settled[-1], "max_kb": max(settled),
                       "growth": (settled[-1] - settled[0]) / settled[0],
                       "series": series}
    return {"seconds": args.soak, "target_rps": rate, "max_rps": max_rps,
            "rps": fig["rps"], "p99": fig["p99"], "errors": fig["errors"],
            "submitted": submitted, "unfinished_after": unfinished,
            "drain_s": time.monotonic() - t_end, "processes": procs}


# ---------------------------------------------------------------- section 5: visibility

async def http_call(reader, writer, method, path, body=None):
    """One HTTP/1.1 request on a keep-alive connection: (status, body)."""
    data = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    writer.write(head.encode() + b"\r\n" + data)
    await writer.drain()
    status_line = await reader.readline()
    code = int(status_line.split()[1])
    length, chunked = 0, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if not chunked:
        return code, (await reader.readexactly(length)).decode()
    parts = []
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            await reader.readline()
            return code, b"".join(parts).decode()
        parts.append(await reader.readexactly(size))
        await reader.readline()


def visibility(s, url, args):
    """Chats whose three providers answer at staggered delays; one
    long-polling client per chat; the delay from the mock writing an answer
    to the client holding it."""
    nchats = math.ceil(args.visibility_answers / len(PROVIDERS))
    rng = random.Random(9)
    plan = []
    for i in range(nchats):
        base_ms = rng.randrange(200, 1200)
        models = {}
        for k, (p, m) in enumerate(PROVIDERS.items()):
            models[p] = f"{m}~delay={base_ms + k * args.visibility_step_ms}"
        plan.append({"message": f"visibility {i} {rng.random():.9f}", "models": models})
    received = {}  # (provider, message) -> client receive time
    state = {"next": 0, "busy": 0, "errors": 0, "incomplete": 0}
    host, port = url.split("//", 1)[1].split(":")
    # The clients are coroutines on one event loop, each on its own
    # keep-alive connection: threads would wait for Python's interpreter
    # lock (5 ms slices), which a delay of a few milliseconds cannot afford.

    async def client(deadline):
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while True:
                i = state["next"]
                state["next"] += 1
                if i >= len(plan):
                    return
                body = plan[i]
                try:
                    code, reply = await http_call(reader, writer, "POST", "/api/ai/chat", body)
                    if code != 202:
                        raise RuntimeError(f"submit {code}: {reply[:200]}")
                    chat_id = json.loads(reply)["chatId"]
                    # since=0 answers at once with what is there (a new chat
                    # is at version 1 or more), then each wait is for the next.
                    since, seen, final = 0, set(), False
                    while not final and time.monotonic() < deadline:
                        code, reply = await http_call(
                            reader, writer, "GET",
                            f"/api/ai/chat/status?id={chat_id}&wait=25&since={since}")
                        now = time.time()
                        if code == 503:
                            state["busy"] += 1
                            await asyncio.sleep(0.05)
                            continue
                        if code != 200:
                            raise RuntimeError(f"status {code}: {reply[:200]}")
                        st = json.loads(reply)
                        since = st["version"]
                        for p in st.get("results", {}):
                            if p not in seen:
                                seen.add(p)
                                received[(p, body["message"])] = now
                        final = st["status"] in ("completed", "failed")
                    if not final:
                        state["incomplete"] += 1
                except Exception as e:  # noqa: BLE001 - counted, the first one shown
                    state["errors"] += 1
                    state.setdefault("first_error", repr(e))
                    return
        finally:
            writer.close()

    async def run_clients():
        deadline = time.monotonic() + args.visibility_timeout
        await asyncio.wait_for(
            asyncio.gather(*(client(deadline) for _ in range(args.visibility_clients))),
            args.visibility_timeout + 45)

    log(f"visibility: {nchats} chats x {len(PROVIDERS)} providers, "
        f"{args.visibility_clients} long-polling clients ...")
    asyncio.run(run_clients())
    messages = {b["message"] for b in plan}
    sent = {(e["provider"], e["message"]): e["sent"] for e in mock_entries(s.mock)
            if e["message"] in messages}
    delays = [(received[k] - sent[k]) * 1000 for k in received if k in sent]
    return {"chats": nchats, "answers": len(delays), "clients": args.visibility_clients,
            "p50_ms": percentile(delays, 50), "p99_ms": percentile(delays, 99),
            "max_ms": max(delays) if delays else None, "busy_503": state["busy"],
            "errors": state["errors"], "first_error": state.get("first_error"),
            "incomplete": state["incomplete"]}


# ---------------------------------------------------------------- the table

def fmt(value, spec, width):
    return format("-", f">{width}") if value is None else format(value, f">{width}{spec}")


PATHS = (("chat_submit", "chat submit  POST /api/ai/chat"),
         ("chat_status", "chat status  GET  /api/ai/chat/status"),
         ("job_submit", "job submit   POST /api/jobs"),
         ("job_status", "job status   GET  /api/jobs/<id>/status"))


def ceiling(figs, args, path):
    """(processes, req/s) of the fastest FastCGI ceiling for path."""
    best = (None, None)
    for n in args.ceiling_procs:
        rps = figs.get(f"ceil{n}:{path}", {}).get("rps")
        if rps and (best[1] is None or rps > best[1]):
            best = (n, rps)
    return best


def cache_line(label, c):
    if not c:
        return f"  {label}: n/a"
    hr = hit_rate(c.get("hits"), c.get("misses"))
    if hr is None and c.get("hits") is None:
        return f"  {label}: n/a (no aigw_status_cache_* in /api/metrics)"
    return (f"  {label}: {fmt(c.get('hits'), '.0f', 0)} hits, {fmt(c.get('misses'), '.0f', 0)}"
            f" misses, hit rate {fmt(hr and hr * 100, '.1f', 0)}%, "
            f"{fmt(c.get('clears'), '.0f', 0)} clears")


def report_issue20(res, args):
    """aigw (auth off) over the ceiling and each reference, the status
    cache's figures, the cross-process lag and issue 20's goals."""
    figs = res["throughput"]
    L = ["", f"issue 20: aigw auth off over        {'ceiling':>9}{'(procs)':>8}"
             f"{'ref ' + str(args.fcgi_threads) + 't':>9}{'ref ' + str(args.ref_procs) + 'p':>9}"
             f"{'p99 ms':>9}{'ref' + str(args.ref_procs) + 'p p99':>12}"]
    for path, label in PATHS:
        n, ceil = ceiling(figs, args, path)
        f = figs[f"off:{path}"]
        L.append(f"  {label[:12].strip():34}{fmt(ratio(f['rps'], ceil), '.2f', 9)}"
                 f"{fmt(n, 'd', 8)}{fmt(ratio(f['rps'], figs[f'ref:{path}']['rps']), '.2f', 9)}"
                 f"{fmt(ratio(f['rps'], figs[f'refp:{path}']['rps']), '.2f', 9)}"
                 f"{fmt(f['p99'], '.2f', 9)}{fmt(figs[f'refp:{path}']['p99'], '.2f', 12)}")
        nc = figs.get(f"nocache:{path}")
        if nc:
            L.append(f"  {'  its status cache on / off':34}{fmt(ratio(f['rps'], nc['rps']), '.2f', 9)}")
    sc = res.get("status_cache") or {}
    L.append("status cache during the status runs (counter deltas around each measured run):")
    for name in ("off:chat_status", "off:job_status", "on:chat_status", "on:job_status",
                 "nocache:chat_status"):
        L.append(cache_line(name.replace("off:", "aigw auth off, ").replace(
            "on:", "aigw auth on, ").replace("nocache:", "aigw status cache off, ").replace(
            "_", " "), (sc.get("runs") or {}).get(name)))
    fill = sc.get("fill")
    if fill:
        after = fill["after"]
        L.append(f"  filled: {fill['chats']} distinct chats polled ({fill['requests']} answers, "
                 f"{fill['errors']} errors, {fill['seconds']:.1f} s); then "
                 f"{fmt(after.get('entries'), '.0f', 0)} entries, "
                 f"{fmt(after.get('bytes') and after['bytes'] / 1048576, '.2f', 0)} MiB; "
                 + cache_line("the fill", fill).strip())
    lg = res.get("lag")
    if lg:
        L.append(f"cross-process lag (change through A, poll through B): {lg['seen']} of "
                 f"{lg['samples']} seen, p50 {fmt(lg['p50_ms'], '.2f', 0)} ms, p99 "
                 f"{fmt(lg['p99_ms'], '.2f', 0)} ms, max {fmt(lg['max_ms'], '.2f', 0)} ms; "
                 f"{lg['never_seen']} never shown within {args.lag_timeout:g} s, "
                 f"{lg['errors']} errors, {lg['went_back']} polls showing an older version than "
                 f"one before; {fmt(lg['polls_mean'], '.2f', 0)} polls of B a change")
        L.append(cache_line("B's cache over the lag runs", lg["b_cache"]))
        if lg["first_error"]:
            L.append(f"  first error: {lg['first_error']}")
    return L


def goals20(res, args):
    """Issue 20's goals: (label, figure, format, test)."""
    figs = res.get("throughput", {})
    out = []
    if figs:
        for path in ("chat_status", "job_status", "chat_submit", "job_submit"):
            f = figs[f"off:{path}"]
            what = path.replace("_", " ")
            out.append((f"aigw {what} >= 0.8x the FastCGI ceiling",
                        ratio(f["rps"], ceiling(figs, args, path)[1]), ".2f", lambda v: v >= 0.8))
            if path.endswith("status"):
                out.append((f"aigw {what} >= 1.5x reference, {args.ref_procs} processes",
                            ratio(f["rps"], figs[f"refp:{path}"]["rps"]), ".2f",
                            lambda v: v >= 1.5))
            ref_p99 = figs[f"refp:{path}"]["p99"]
            out.append((f"aigw {what} p99 / reference {args.ref_procs}p's p99 <= 1",
                        ratio(f["p99"], ref_p99), ".2f", lambda v: v <= 1.0))
    mem = res.get("memory_after_runs") or {}
    fcgi = [v["hwm_kb"] for k, procs in mem.items() if k.startswith("aigw-fcgi")
            for v in procs if v["hwm_kb"]]
    if fcgi:
        out.append(("aigw-fcgi < 16 MiB per process, cache full (peak, MiB)",
                    max(fcgi) / 1024, ".1f", lambda v: v < 16))
    return out


def report(res, args):
    figs = res.get("throughput", {})
    L = []
    L.append("")
    L.append(f"aigw benchmark, {res['started']}; {os.cpu_count()} CPUs; load average "
             f"{res['load_before']} before, {res['load_after']} after")
    L.append(f"wrk {args.connections} connections x {args.duration} s after {args.warmup} s "
             f"warm-up, median of {args.runs} run(s); aigw-fcgi and reference "
             f"{args.fcgi_threads} threads; nginx workers {args.nginx_workers}; "
             f"AIGW_SPAWN {args.spawn}; mock provider {args.mock_delay_ms} ms; "
             f"PostgreSQL {res.get('durability', '?')}")
    if figs:
        L.append("")
        L.append(f"{'path':48}{'req/s':>9}{'avg ms':>8}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}"
                 f"{'/ceil':>7}{'/ref':>7}{'/ref' + str(args.ref_procs) + 'p':>8}"
                 + "".join(f"{'/pg' + str(c):>7}" for c in args.pg_clients) + f"{'hits':>7}")

        def row(label, f, path=None):
            line = (f"{label:48}{fmt(f['rps'], '.0f', 9)}{fmt(f['avg'], '.2f', 8)}"
                    f"{fmt(f['p50'], '.2f', 8)}{fmt(f['p99'], '.2f', 8)}{f['errors']:>7d}")
            if path:
                line += fmt(ratio(f["rps"], ceiling(figs, args, path)[1]), ".2f", 7)
                line += fmt(ratio(f["rps"], figs[f"ref:{path}"]["rps"]), ".2f", 7)
                line += fmt(ratio(f["rps"], figs[f"refp:{path}"]["rps"]), ".2f", 8)
                for c in args.pg_clients:
                    line += fmt(ratio(f["rps"], figs[f"pg{c}:{path}"]["rps"]), ".2f", 7)
                if "cache" in f:
                    hr = f["cache"]["hit_rate"]
                    line += f"{'n/a':>7}" if hr is None else f"{hr * 100:>6.1f}%"
            L.append(line)
        row("ceiling  nginx alone: return 202", figs["transport"])
        for path, label in PATHS:
            L.append(f"-- {label}")
            for c in args.pg_clients:
                row(f"   ceiling  pgbench, {c} clients (tps, avg)", figs[f"pg{c}:{path}"])
            for n in args.ceiling_procs:
                row(f"   FastCGI ceiling (no database), {n} x 1 thread", figs[f"ceil{n}:{path}"])
            row(f"   reference, 1 process x {args.fcgi_threads} threads", figs[f"ref:{path}"])
            row(f"   reference, {args.ref_procs} processes x 1 thread", figs[f"refp:{path}"])
            row("   aigw, auth off", figs[f"off:{path}"], path)
            if f"nocache:{path}" in figs:
                row("   aigw, auth off, status cache off", figs[f"nocache:{path}"], path)
            row("   aigw, auth on (keys)", figs[f"on:{path}"], path)
        L += report_issue20(res, args)
    mem = res.get("memory_after_runs")
    if mem:
        fill = (res.get("status_cache") or {}).get("fill")
        L.append("")
        L.append("resident memory per process after the runs" +
                 (f" and {fill['chats']} distinct chats polled through aigw auth off"
                  if fill else "") + " (RSS / peak RSS, MiB):")
        for k, procs in mem.items():
            if procs:
                L.append(f"  {k:34}" + "; ".join(
                    f"{fmt(v['rss_kb'] / 1024, '.1f', 0)} / "
                    f"{fmt(v['hwm_kb'] and v['hwm_kb'] / 1024, '.1f', 0)}" for v in procs))
    fo = res.get("fanout")
    if fo:
        L.append("")
        L.append(f"fan-out: {fo['chats']} chats x {fo['providers']} providers at "
                 f"{fo['delay_ms']} ms, submitted at once ({fo['accepted']} accepted in "
                 f"{fmt(fo['submit_s'], '.2f', 0)} s, {fo['submit_failed']} refused)")
        L.append(f"  last result stored after the last 202   "
                 f"{fmt(fo['last_stored_after_last_202_s'], '.2f', 0)} s "
                 f"({fo['finished']} finished, {fo['failed_chats']} failed; first after "
                 f"{fmt(fo['first_stored_after_last_202_s'], '.2f', 0)} s)")
        L.append(f"  provider calls in flight at most        {fo['calls_in_flight_max']} "
                 f"(of {fo['provider_calls']}; mock answered after p50 "
                 f"{fmt(fo['mock_answer_ms_p50'], '.0f', 0)} ms, max "
                 f"{fmt(fo['mock_answer_ms_max'], '.0f', 0)} ms)")
        L.append(f"  workers                                 {fo['workers_peak']} at most; "
                 f"RSS peak {fmt(fo['worker_rss_peak_kb'] and fo['worker_rss_peak_kb'] / 1024, '.1f', 0)}"
                 f" MiB per worker, {fo['workers_rss_peak_sum_kb'] / 1024:.1f} MiB together; "
                 f"CPU {fo['worker_cpu_s']:.2f} s together")
        L.append(f"  aigw-fcgi RSS peak                      {fo['fcgi_rss_peak_kb'] / 1024:.1f} MiB")
    vis = res.get("visibility")
    if vis:
        L.append("")
        L.append(f"visibility: mock answer -> long-polling client, {vis['answers']} answers "
                 f"({vis['chats']} chats, {vis['clients']} clients): p50 "
                 f"{fmt(vis['p50_ms'], '.1f', 0)} ms, p99 {fmt(vis['p99_ms'], '.1f', 0)} ms, "
                 f"max {fmt(vis['max_ms'], '.1f', 0)} ms; {vis['busy_503']} busy 503s, "
                 f"{vis['errors']} errors, {vis['incomplete']} unfinished")
        if vis["first_error"]:
            L.append(f"  first error: {vis['first_error']}")
    sk = res.get("soak")
    if sk:
        L.append("")
        L.append(f"soak: {sk['seconds']} s of chat submits at {fmt(sk['rps'], '.0f', 0)}/s "
                 f"(asked {sk['target_rps']:.0f}/s, half of {sk['max_rps']:.0f}; p99 "
                 f"{fmt(sk['p99'], '.1f', 0)} ms, {sk['errors']} errors), workers on the "
                 f"built-in mock: {sk['submitted']} chats, {sk['unfinished_after']} unfinished "
                 f"{sk['drain_s']:.0f} s after")
        L.append("  RSS after the warm-up -> at the end (highest), MiB:")
        for name, p in sorted(sk["processes"].items()):
            L.append(f"    {name:28}{p['first_kb'] / 1024:7.1f} -> {p['last_kb'] / 1024:5.1f}"
                     f" ({p['max_kb'] / 1024:.1f})  {p['growth'] * 100:+.1f}%")
    L.append("")
    L.append(f"{'issue 9 target':56}{'figure':>12}  met")
    for label, value, spec, ok in targets(res, args):
        met = "-" if value is None else ("yes" if ok(value) else "NO")
        L.append(f"{label:56}{fmt(value, spec, 12)}  {met}")
    goals = goals20(res, args)
    if goals:
        L.append("")
        L.append(f"{'issue 20 goal':56}{'figure':>12}  met")
        for label, value, spec, ok in goals:
            met = "-" if value is None else ("yes" if ok(value) else "NO")
            L.append(f"{label:56}{fmt(value, spec, 12)}  {met}")
    print("\n".join(L), flush=True)


def targets(res, args):
    figs = res.get("throughput", {})
    out = []
    for path in ("chat_submit", "chat_status"):
        if figs:
            out.append((f"aigw {path.replace('_', ' ')} (auth off) >= 1.0x reference",
                        ratio(figs[f"off:{path}"]["rps"], figs[f"ref:{path}"]["rps"]), ".2f",
                        lambda v: v >= 1.0))
            out.append((f"aigw {path.replace('_', ' ')} (auth off) p99 <= 20 ms",
                        figs[f"off:{path}"]["p99"], ".2f", lambda v: v <= 20))
    fo = res.get("fanout")
    if fo:
        out.append(("fan-out: all stored within 2.5 s of the last 202 (s)",
                    fo["last_stored_after_last_202_s"], ".2f", lambda v: v <= 2.5))
        out.append(("fan-out: worker RSS <= 64 MiB (peak, MiB)",
                    fo["worker_rss_peak_kb"] and fo["worker_rss_peak_kb"] / 1024, ".1f",
                    lambda v: v <= 64))
    mem = res.get("memory_after_runs") or {}
    fcgi = [v["hwm_kb"] for k, procs in mem.items() if k.startswith("aigw-fcgi")
            for v in procs if v["hwm_kb"]]
    if fo:
        fcgi.append(fo["fcgi_rss_peak_kb"])
    if fcgi:
        out.append(("aigw-fcgi RSS <= 8 MiB per process (highest peak, MiB)",
                    max(fcgi) / 1024, ".1f", lambda v: v <= 8))
    sk = res.get("soak")
    if sk and sk["processes"]:
        out.append(("soak: RSS growth of every process <= 10% (highest, %)",
                    max(abs(p["growth"]) for p in sk["processes"].values()) * 100, ".1f",
                    lambda v: v <= 10))
    vis = res.get("visibility")
    if vis:
        out.append(("visibility p50 <= 5 ms", vis["p50_ms"], ".1f", lambda v: v <= 5))
        out.append(("visibility p99 <= 50 ms", vis["p99_ms"], ".1f", lambda v: v <= 50))
    return out


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="1 run of 3 s per target, 1 s warm-up (a check of the suite)")
    ap.add_argument("--runs", type=int, default=3, help="runs per target, median taken (3)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per run (10)")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of warm-up before a run (2)")
    ap.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    ap.add_argument("--wrk-threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--pg-clients", default="8,32", help="pgbench client counts (8,32)")
    ap.add_argument("--pgbench-threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--fcgi-threads", type=int, default=16,
                    help="threads of aigw-fcgi and of the reference (16, aigw's default)")
    ap.add_argument("--fcgi-processes", type=int, default=1,
                    help="aigw-fcgi --processes N (a prefork), passed when N > 1 (1)")
    ap.add_argument("--ref-procs", type=int, default=8,
                    help="processes of the second reference, one thread and one connection "
                    "each (8)")
    ap.add_argument("--ceiling-procs", default="1,4",
                    help="process counts of the FastCGI ceiling (no database, one thread "
                    "each) to measure; the fastest of them per path is the ceiling (1,4)")
    ap.add_argument("--cache-fill", type=int, default=20000,
                    help="distinct chats polled through aigw (times --fcgi-processes) before "
                    "the memory figures, to fill its status cache (20000; 0: none)")
    ap.add_argument("--cache-fill-timeout", type=int, default=60,
                    help="seconds at most for the cache fill (60)")
    ap.add_argument("--lag-samples", type=int, default=200,
                    help="changes through one aigw-fcgi polled through another (200)")
    ap.add_argument("--lag-timeout", type=float, default=5.0,
                    help="seconds a change may take to show before it is counted as never "
                    "shown (5)")
    ap.add_argument("--nginx-workers", default="auto")
    ap.add_argument("--mock-delay-ms", type=int, default=50,
                    help="AIGW_MOCK_DELAY_MS of the built-in mock provider (50)")
    ap.add_argument("--spawn", choices=("on", "off"), default="off",
                    help="AIGW_SPAWN during the throughput runs: off (the default) measures "
                    "the request path alone, as the reference; on lets workers run the "
                    "queued chats meanwhile")
    ap.add_argument("--limits", type=int, default=0,
                    help="AIGW_LIMIT_USER/ORG/DECISION with auth on (0: none, so that one "
                    "benchmark user is not refused)")
    ap.add_argument("--fanout-chats", type=int, default=1000)
    ap.add_argument("--fanout-delay-ms", type=int, default=2000)
    ap.add_argument("--fanout-timeout", type=int, default=180,
                    help="seconds to wait for the fan-out to finish (180)")
    ap.add_argument("--workers-max", type=int, default=None,
                    help="AIGW_WORKERS_MAX for fan-out and visibility (aigw's default)")
    ap.add_argument("--rt-threads", type=int, default=64,
                    help="aigw-fcgi threads for fan-out and visibility (64: room for the "
                    "long-polls, AIGW_WAIT_MAX is the threads less two)")
    ap.add_argument("--submit-threads", type=int, default=32,
                    help="client threads submitting the fan-out (32)")
    ap.add_argument("--visibility-answers", type=int, default=500)
    ap.add_argument("--visibility-clients", type=int, default=48,
                    help="long-polling clients at once (48; below --rt-threads less two)")
    ap.add_argument("--visibility-step-ms", type=int, default=300,
                    help="between the answers of one chat's providers (300)")
    ap.add_argument("--visibility-timeout", type=int, default=120)
    ap.add_argument("--soak", type=int, default=600,
                    help="seconds of the soak at half the maximum chat submit rate (600)")
    ap.add_argument("--soak-max-rps", type=float, default=None,
                    help="the maximum chat submit rate the soak halves (default: measured "
                    "first, workers running the chats)")
    ap.add_argument("--skip", default="",
                    help="comma-separated sections to leave out: "
                    "throughput,lag,fanout,visibility,soak")
    ap.add_argument("--log-level", default="warn", help="AIGW_LOG_LEVEL (warn)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    ap.add_argument("--verbose", action="store_true", help="print wrk's and pgbench's output")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.duration, args.warmup, args.soak = 1, 3, 1, 60
    args.pg_clients = [int(c) for c in args.pg_clients.split(",") if c]
    args.ceiling_procs = [int(c) for c in args.ceiling_procs.split(",") if c] or [4]
    skip = {x for x in args.skip.split(",") if x}

    for tool in ("wrk", "pgbench", "nginx", "cc", "pkg-config"):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} is not installed (script/bootstrap --test installs the "
                     "bench's tools: wrk, postgresql (pgbench), nginx, gcc, pkg-config, libfcgi-dev, "
                     "libjson-c-dev, libpq-dev)")
    if not os.access(stk.program("aigw-fcgi"), os.X_OK):
        sys.exit(f"bench: no {stk.program('aigw-fcgi')}: build first, or set AIGW_BUILDDIR")

    res = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load_before": loadavg(),
           "cpus": os.cpu_count(), "args": {k: v for k, v in vars(args).items()}}
    env = {"AIGW_MOCK_DELAY_MS": str(args.mock_delay_ms), "AIGW_LOG_LEVEL": args.log_level,
           "AIGW_SPAWN": args.spawn, "AIGW_AUTH": "none"}
    log("starting PostgreSQL, the mock providers, aigw-fcgi and nginx ...")
    s = stk.Stack(extra_env=env, threads=args.fcgi_threads, nginx_workers=args.nginx_workers,
                  mock=True, prefix="aigw-bench-",
                  nginx_server_extra=NO_SUBMIT_LIMIT + " " + RETURN_202,
                  durable=True)
    rt = []
    try:
        if args.fcgi_processes > 1:  # the stack's aigw-fcgi again, as a prefork
            s.nginx.stop()
            s.fcgi.stop()
            s.fcgi = Fcgi(s.base, s.env, args.fcgi_threads, args.fcgi_processes)
            s.nginx = Nginx(s.base, s.fcgi.port, args.nginx_workers,
                                server_extra=RETURN_202)
        res["durability"] = "fsync " + s.pg.psql("SHOW fsync") + ", synchronous_commit " + \
            s.pg.psql("SHOW synchronous_commit")
        key = run([stk.program("aigw"), "keys", "create", "--user", "bench", "--org", "bench"],
                  timeout=30, env=s.env).splitlines()[0].strip()
        if "throughput" not in skip:
            res["throughput"], res["memory_after_runs"], res["status_cache"] = \
                throughput(s, args, key)
        if "lag" not in skip:
            res["lag"] = lag(s, args)
        # Fan-out and visibility: aigw as deployed, starting its workers,
        # on an empty queue.
        s.nginx.stop()
        s.fcgi.stop()
        stk._Workers(s.base).stop()
        s.pg.psql("DELETE FROM chat_results; DELETE FROM jobs")
        s.pg.psql("VACUUM ANALYZE")
        # Every client is 127.0.0.1: one owner for AIGW_WAIT_MAX_PER_OWNER.
        rt_env = dict(s.env, AIGW_SPAWN="on", AIGW_WAIT_MAX_PER_OWNER="0")
        if args.workers_max is not None:
            rt_env["AIGW_WORKERS_MAX"] = str(args.workers_max)
        if "fanout" not in skip:
            mock = EchoMock(s.base, s.mock.url(), args.fanout_delay_ms)
            # The echo mock answers whole bodies: the fan-out of whole
            # answers (stream.py measures the streamed one).
            fan_env = dict(rt_env, AIGW_STREAM="off", **mock.base_urls())
            fcgi_fan = Fcgi(s.base, fan_env, args.rt_threads, args.fcgi_processes)
            nginx_fan = Nginx(s.base, fcgi_fan.port, args.nginx_workers)
            rt = [nginx_fan, fcgi_fan, mock]
            res["fanout"] = fanout(s, nginx_fan.url(), fcgi_fan.proc.pid, args, mock)
            stk._Workers(s.base).stop()
            for part in rt:
                part.stop()
        fcgi_rt = Fcgi(s.base, rt_env, args.rt_threads, args.fcgi_processes)
        nginx_rt = Nginx(s.base, fcgi_rt.port, args.nginx_workers)
        rt = [nginx_rt, fcgi_rt]
        if "visibility" not in skip:
            s.mock.reset()
            res["visibility"] = visibility(s, nginx_rt.url(), args)
        if "soak" not in skip:
            # aigw as deployed: the default threads, workers spawned.
            for part in rt:
                part.stop()
            fcgi_rt = Fcgi(s.base, rt_env, args.fcgi_threads, args.fcgi_processes)
            nginx_rt = Nginx(s.base, fcgi_rt.port, args.nginx_workers)
            rt = [nginx_rt, fcgi_rt]
            # The maximum with the workers running what is submitted, as
            # the soak runs: the throughput section's is without them.
            max_rps = args.soak_max_rps
            if not max_rps:
                lua = os.path.join(s.base, "post_soak_max.lua")
                with open(lua, "w") as f:
                    f.write('wrk.method = "POST"\n'
                            f"wrk.body = '{json.dumps(SOAK_BODY)}'\n"
                            'wrk.headers["Content-Type"] = "application/json"\n')
                max_rps = wrk(nginx_rt.url() + "/api/ai/chat", args, args.duration, lua)["rps"]
            res["soak"] = soak(s, nginx_rt.url(), fcgi_rt.proc.pid, nginx_rt.proc.pid, args,
                               max_rps)
        res["load_after"] = loadavg()
        report(res, args)
        if args.json:
            res["targets"] = {label: value for label, value, _, _ in targets(res, args)}
            res["goals_issue20"] = {label: value for label, value, _, _ in goals20(res, args)}
            with open(args.json, "w") as f:
                json.dump(res, f, indent=2)
            log(f"figures written to {args.json}")
    except BaseException:
        sys.stderr.write(s.logs())
        raise
    finally:
        for part in rt:
            part.stop()
        s.close()


if __name__ == "__main__":
    main()
