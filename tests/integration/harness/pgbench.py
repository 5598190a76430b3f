"""Running pgbench and reading its summary (PostgreSQL 15's output format)."""

import re
import subprocess

from .clients import client_env


def run(host, port, user, dbname, args, env=None, timeout=600):
    argv = ["pgbench", "-h", str(host), "-p", str(port), "-U", user, *args, dbname]
    return subprocess.run(argv, env=env or client_env(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)


def parse_summary(out):
    """processed, failed, tps and latency_ms of a finished run."""
    def grab(pattern):
        m = re.search(pattern, out, re.M)
        if not m:
            raise ValueError(f"pgbench output lacks {pattern!r}:\n{out}")
        return m.group(1)
    return {
        "processed": int(grab(r"^number of transactions actually processed: (\d+)")),
        "failed": int(grab(r"^number of failed transactions: (\d+)")),
        "tps": float(grab(r"^tps = ([\d.]+)")),
        "latency_ms": float(grab(r"^latency average = ([\d.]+) ms")),
    }
