"""Job type files are checked when the programs start: an invalid one stops
aigw-fcgi and aigw-worker with one line naming the file and the fault."""

import json
import os
import socket
import subprocess

import pytest

import stack as stk


def env_with(types_dir, base):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIGW_")}
    env.update({"AIGW_JOBTYPES_DIR": types_dir, "AIGW_ENV_FILE": os.path.join(base, "none.env"),
                "DATABASE_URL": "postgresql://127.0.0.1:1/none"})
    return env


BROKEN = {
    "step_names_a_later_step": {
        "name": "broken", "timeout_s": 60, "attempts": 1,
        "input": {"q": {"type": "string", "required": True}},
        "steps": [{"name": "one", "status_message": "1", "progress": 100, "provider": "openai",
                   "model": "gpt-4o", "prompt": "{{steps.two.text}}"}]},
    "unknown_provider": {
        "name": "broken", "timeout_s": 60, "attempts": 1, "input": {},
        "steps": [{"name": "one", "status_message": "1", "progress": 100, "provider": "nope",
                   "model": "m", "prompt": "hi"}]},
    "not_json": "{ this is not json",
}


@pytest.mark.parametrize("program", ["aigw-fcgi", "aigw-worker"])
@pytest.mark.parametrize("case", sorted(BROKEN))
def test_an_invalid_job_type_stops_the_program(tmp_path, program, case):
    types = tmp_path / "types"
    types.mkdir()
    decl = BROKEN[case]
    (types / "broken.json").write_text(decl if isinstance(decl, str) else json.dumps(decl))
    args = [stk.program(program)]
    if program == "aigw-fcgi":
        args += ["--listen", f"127.0.0.1:{stk.free_port()}"]
    r = subprocess.run(args, env=env_with(str(types), str(tmp_path)), capture_output=True,
                       text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"{program}: AIGW_JOBTYPES_DIR: ")
    assert str(types / "broken.json") in lines[0], lines[0]


def test_a_missing_job_types_directory_still_serves_chats(tmp_path):
    port = stk.free_port()
    env = env_with(str(tmp_path / "no-such-dir"), str(tmp_path))
    proc = subprocess.Popen([stk.program("aigw-fcgi"), "--listen", f"127.0.0.1:{port}"],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        def listening():
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        stk.wait_for(listening, 15, "aigw-fcgi", proc=proc)
    finally:
        stk.stop_process(proc)
    assert "no job types are served" in proc.stderr.read()
