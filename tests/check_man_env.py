#!/usr/bin/python3
"""Fails when a variable of the configuration table is missing from
aigw.env(5).

The table is what `aigw config` prints (src/core/config.c: every variable,
the providers' keys and base URLs, and the variables of a named provider,
here one named MANCHECK that stands for <NAME>); each must be a term of
man/aigw.env.5.scd, a line that starts with it in bold. The programs are
those of the build (AIGW_BUILDDIR, as make check exports it), the page
that of the sources (AIGW_SRCDIR). Lists what is missing, exit status 1.
"""
import os
import re
import subprocess
import sys

NAMED = "MANCHECK"


def table(builddir):
    """The variable names `aigw config` prints, with NAMED as <NAME>."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           # Neither the host's settings nor the caller's: the defaults.
           "AIGW_ENV_FILE": "/nonexistent/aigw.env",
           f"AIGW_PROVIDER_{NAMED}_BASE_URL": "http://127.0.0.1:9/v1"}
    out = subprocess.run([os.path.join(builddir, "src", "aigw"), "config"], env=env,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    names = [line.split("=", 1)[0] for line in out.splitlines() if "=" in line]
    if len(names) < 20:
        sys.exit(f"check_man_env: aigw config printed only {len(names)} variables:\n{out}")
    return [n.replace(f"_{NAMED}_", "_<NAME>_") for n in names]


def documented(page):
    """The terms of the page: the bold names that start a line, unescaped."""
    with open(page, encoding="utf-8") as f:
        text = f.read().replace("\\_", "_")
    terms = set()
    for line in text.splitlines():
        if line.startswith("*"):
            terms.update(re.findall(r"\*([A-Z][A-Z0-9_<>]*)\*", line))
    return terms


def main():
    srcdir = os.environ.get("AIGW_SRCDIR", os.path.join(os.path.dirname(__file__), ".."))
    builddir = os.environ.get("AIGW_BUILDDIR", os.path.join(srcdir, "build"))
    page = os.path.join(srcdir, "man", "aigw.env.5.scd")
    terms = documented(page)
    names = table(builddir)
    missing = [n for n in names if n not in terms]
    if missing:
        print(f"{page} does not describe: {' '.join(missing)}", file=sys.stderr)
        return 1
    print(f"aigw.env(5) describes all {len(names)} variables aigw config shows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
