"""Running Debian's pg_regress with PostgreSQL's parallel_schedule against a
cluster the harness started, and reading what it left.

    run = run_schedule(suite, "/tmp/.../run", host, port, "app_owner", env,
                       wrap=cgroup.argv)
    run.status["boolean"]          # "ok" / "FAILED" / "ignored"
    run.result("boolean")          # results/boolean.out, bytes
    run.seconds

Every run writes into the same output directory path (pg_regress puts its
absolute path into the environment of every test, and a few error messages
print it), so keep() moves a finished run aside under another name before
the next one starts.
"""

import os
import re
import shutil
import subprocess
import time

from .system import RunAs

# "test name ... ok 12 ms", "     name ... FAILED 3 ms", "name ... failed (ignored)"
STATUS_LINE = re.compile(r"^(?:test\s+)?\s*(\S+)\s+\.\.\.\s+(ok|FAILED|failed \(ignored\)|ignored)\b",
                         re.M)
# pg_regress sets PGTZ, PGDATESTYLE and the database's settings itself; the
# locale of psql's own messages is fixed here (env comes from client_env(),
# which drops every PG* variable of the caller).
REGRESS_ENV = {"LC_ALL": "C", "LANG": "C"}


class RegressRun:
    def __init__(self, outdir, returncode, stdout, stderr, seconds):
        self.outdir = outdir
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds
        self.status = dict(STATUS_LINE.findall(stdout))

    @property
    def results_dir(self):
        return os.path.join(self.outdir, "results")

    def result_names(self):
        """Tests that left a results/NAME.out."""
        return sorted(f[:-4] for f in os.listdir(self.results_dir) if f.endswith(".out"))

    def result(self, name):
        try:
            with open(os.path.join(self.results_dir, name + ".out"), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def passed(self):
        return sorted(n for n, s in self.status.items() if s == "ok")

    def keep(self, new_outdir):
        """Moves this run's output to new_outdir (and follows it)."""
        shutil.rmtree(new_outdir, ignore_errors=True)
        os.rename(self.outdir, new_outdir)
        self.outdir = new_outdir
        return self


def prepare_outdir(outdir):
    """A fresh output directory: results/ must be writable by the server
    (COPY TO a file) as well as by pg_regress."""
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(os.path.join(outdir, "results"))
    run_as = RunAs()
    for path in (outdir, os.path.join(outdir, "results")):
        os.chmod(path, 0o777)
        run_as.chown(path)


def run_schedule(suite, outdir, host, port, user, env, wrap=None, timeout=1800):
    """pg_regress --schedule=parallel_schedule with its default parallelism;
    wrap(argv) -> argv runs it elsewhere (a cgroup)."""
    prepare_outdir(outdir)
    argv = [suite.pg_regress,
            f"--inputdir={suite.inputdir}",
            f"--outputdir={outdir}",
            f"--dlpath={suite.dlpath}",
            f"--schedule={suite.schedule}",
            f"--host={host}", f"--port={port}", f"--user={user}"]
    if wrap is not None:
        argv = wrap(argv)
    started = time.monotonic()
    result = subprocess.run(argv, env={**env, **REGRESS_ENV}, cwd=outdir, capture_output=True,
                            text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    run = RegressRun(outdir, result.returncode, result.stdout, result.stderr,
                     time.monotonic() - started)
    # 0: all passed, 1: some failed; anything else means it could not run.
    if result.returncode not in (0, 1) or not run.status:
        raise RuntimeError(f"pg_regress could not run ({result.returncode}):\n"
                           f"{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return run
