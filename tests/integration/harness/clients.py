"""Environment and wrappers for the real PostgreSQL clients the tests drive.

Clients talking to pgwarden never hold a password: no PGPASSWORD, and
PGPASSFILE points at a file that does not exist (libpq skips a missing
passfile silently, while /dev/null makes psql print a warning into every
output). Any PG* variable of the caller's shell is dropped so it cannot change
what a test measures.
"""

import os
import shutil
import subprocess
import tempfile

from . import cleanup

_no_pgpass_dir = tempfile.mkdtemp(prefix="pgwarden-nopgpass-")
cleanup.register(lambda: shutil.rmtree(_no_pgpass_dir, True))
NO_PGPASS = os.path.join(_no_pgpass_dir, "absent")


def client_env(extra=None, password=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGPASSFILE"] = NO_PGPASS
    env["PGCONNECT_TIMEOUT"] = "10"
    if password is not None:  # only for direct connections to the cluster
        env["PGPASSWORD"] = password
    env.update(extra or {})
    return env


def psql(conn_args, *args, input=None, env=None, timeout=120, check=False, text=True):
    """Run psql -X (no psqlrc) with conn_args (a list such as ['-h', h, '-p', p,
    '-U', u, '-d', d] or a single conninfo string)."""
    if isinstance(conn_args, str):
        conn_args = ["-d", conn_args]
    argv = ["psql", "-X", *conn_args, *args]
    stdin = None if input is not None else subprocess.DEVNULL
    return subprocess.run(argv, input=input, stdin=stdin, env=env or client_env(),
                          capture_output=True, timeout=timeout, check=check, text=text)


def conninfo(**kw):
    """libpq conninfo string from keywords, quoting values as libpq wants."""
    def quote(v):
        v = str(v)
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return " ".join(f"{k}={quote(v)}" for k, v in kw.items() if v is not None)
