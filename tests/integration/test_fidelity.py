"""Fidelity: PostgreSQL's own regression suite through pgwarden.

The suite is the one of the installed server: src/test/regress of Debian's
postgresql-15 source package (`apt-get source` with a private deb-src
list, cached in /var/cache/pgwarden-tests; harness/regress_source.py),
with regress.so built from it against the server headers. Debian's own
pg_regress runs parallel_schedule, with its default parallelism:

1. directly, against a fresh cluster on 127.0.0.3 (port 5432 unless taken;
   SCRAM, with the password);
2. through pgwarden's transparent path, against another fresh cluster:
   pg_regress and every psql it starts run in a cgroup of the test's own,
   connect to 127.0.0.3:5432 with no password, and eBPF redirects them to
   pgwarden, which logs in as the same role. The policy allows every
   statement class and names every function of the built-in deny-list in
   `allow` (read from pgwarden's own sources, so it stays "everything"),
   and has no mask rule;
3. directly once more, only when a result file of run 2 differs from run 1:
   what also differs between two direct runs is the suite's own
   nondeterminism, and a file through pgwarden that equals either direct
   run counts as identical.

What it must show:
- every test that passes directly (in each direct run) passes through
  pgwarden;
- with no mask rule, every results/NAME.out through pgwarden equals the
  direct one byte for byte, errors and notices included.

app_owner is SUPERUSER in these clusters: the suite creates roles,
languages, tablespaces and C functions. Skips without BPF privileges (or
without the source package), fails instead under PGWARDEN_REQUIRE_BPF=1.
A failure prints each difference and keeps the diffs in a directory it names.
"""

import contextlib
import difflib
import os
import shutil
import tempfile
import time

import pytest

from harness import PgCluster, client_env
from harness import intercept as ic
from harness import policy_source, regress_run, regress_source
from harness.system import free_port

DB_HOST = "127.0.0.3"
IDENTITY = "regress"


@pytest.fixture(scope="module")
def suite():
    reason = ic.bpf_unavailable_reason()
    if reason:
        ic.skip_or_fail(reason)
    try:
        suite = regress_source.prepare()
    except regress_source.RegressSourceError as exc:
        ic.skip_or_fail(f"PostgreSQL's regression suite is not available: {exc}")
    only = os.environ.get("PGWARDEN_FIDELITY_TESTS")
    if only:
        # A developer's shortcut: these tests only, one after another (name
        # the ones they depend on too, test_setup first).
        schedule = os.path.join(tempfile.mkdtemp(prefix="pgwarden-fidelity-schedule-"), "schedule")
        with open(schedule, "w") as f:
            f.writelines(f"test: {name}\n" for name in only.split())
        suite.schedule = schedule
    return suite


@contextlib.contextmanager
def cluster():
    """A fresh cluster on 127.0.0.3: on port 5432 when it is free (what a
    workload expects), else on a free one. Other test runs on this host may
    take the port between the check and the start: then another one (the
    port shows in no result file)."""
    for attempt in range(5):
        port = ic.db_port(DB_HOST) if attempt == 0 else free_port(DB_HOST)
        pg = PgCluster(host=DB_HOST, port=port, sample_data=False, app_owner_superuser=True)
        try:
            pg.start()
            break
        except RuntimeError as exc:
            if "Address already in use" not in str(exc) or attempt == 4:
                raise
    try:
        yield pg
    finally:
        pg.close()


def allow_everything(pg):
    """Every statement class, and every deny-listed function by name (a
    prefix entry such as lo_* names every function of the server's own
    catalog that it covers), plus COPY's pseudo-functions."""
    names = {row[0] for row in pg.execute("SELECT DISTINCT proname FROM pg_proc")}
    functions = set(policy_source.pseudo_functions())
    for name, prefix in policy_source.denylist_entries():
        functions |= {n for n in names if n.startswith(name)} if prefix else {name}
    return policy_source.statement_classes() + [f"function:{f}" for f in sorted(functions)]


class Runs:
    """The runs of one session of this module, and where they are kept."""

    def __init__(self, suite):
        self.suite = suite
        self.dir = tempfile.mkdtemp(prefix=f"{ic.NAME_PREFIX}{os.getpid()}-regress-")
        os.chmod(self.dir, 0o755)  # the server writes into results/
        self.outdir = os.path.join(self.dir, "run")  # the same path for every run
        self.direct = []
        self.via = None
        self.pgwarden_log = ""
        self.redirected = 0

    def run_direct(self, name):
        with cluster() as pg:
            run = regress_run.run_schedule(self.suite, self.outdir, DB_HOST, pg.port, pg.app_user,
                                           client_env(password=pg.app_password))
        self.direct.append(run.keep(os.path.join(self.dir, name)))
        return run

    def run_through_pgwarden(self):
        with cluster() as pg:
            script = ic.ClientScript()
            rig = ic.InterceptRig(pg, script, DB_HOST, pg.port)
            errors = []
            try:
                identities = [{"name": IDENTITY, "match": {"cgroup": rig.clients.path + "/**", "uid": [0]}}]
                pw = rig.pgwarden(identities=identities,
                                  policies=[{"identity": IDENTITY, "allow": allow_everything(pg)}])
                run = regress_run.run_schedule(self.suite, self.outdir, DB_HOST, pg.port, pg.app_user,
                                               client_env(), wrap=rig.clients.argv)
                pw.check_not_exited()
                self.redirected = rig.status(pw)["intercept"]["counters"]["connect_redirected"]
                self.pgwarden_log = pw.log_text()
            finally:
                errors = rig.close()
                script.close()
            if errors:
                raise AssertionError("pgwarden's shutdown after the suite: " + "; ".join(errors))
        self.via = run.keep(os.path.join(self.dir, "pgwarden"))
        return run

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def runs(suite):
    runs = Runs(suite)
    try:
        runs.run_direct("direct1")
        runs.run_through_pgwarden()
        if differing_files(runs.direct[0], runs.via):
            runs.run_direct("direct2")
        yield runs
    finally:
        runs.close()


def differing_files(a, b):
    names = sorted(set(a.result_names()) | set(b.result_names()))
    return [n for n in names if a.result(n) != b.result(n)]


def unified(a_bytes, b_bytes, a_name, b_name):
    a = (a_bytes or b"").decode(errors="replace").splitlines(True)
    b = (b_bytes or b"").decode(errors="replace").splitlines(True)
    return "".join(difflib.unified_diff(a, b, a_name, b_name, n=2))


def report_dir():
    return tempfile.mkdtemp(prefix="pgwarden-fidelity-")


def test_every_test_that_passes_directly_passes_through_pgwarden(runs, capsys):
    passed_directly = set(runs.direct[0].passed())
    for again in runs.direct[1:]:
        passed_directly &= set(again.passed())
    lost = sorted(n for n in passed_directly if runs.via.status.get(n) != "ok")
    kept = len(passed_directly) - len(lost)
    total = len(runs.suite.schedule_tests())
    seconds = ", ".join(f"{r.outdir.rsplit('/', 1)[-1]} {r.seconds:.0f}s" for r in runs.direct + [runs.via])
    with capsys.disabled():
        print(f"\nfidelity: {kept}/{len(passed_directly)} of the tests that pass directly pass through "
              f"pgwarden ({total} in parallel_schedule; suite {runs.suite.source_version}, server "
              f"{runs.suite.installed_version}); {runs.redirected} connections redirected; {seconds}")
    assert runs.redirected >= total, "pg_regress's connections did not all go through pgwarden"
    if lost:
        out = report_dir()
        shutil.copy(os.path.join(runs.via.outdir, "regression.diffs"), out)
        with open(os.path.join(out, "pgwarden.log"), "w") as f:
            f.write(runs.pgwarden_log)
        excerpt = "".join(
            unified(runs.direct[0].result(n), runs.via.result(n), f"direct/{n}.out", f"pgwarden/{n}.out")[:1500]
            for n in lost[:6])
        pytest.fail(f"{len(lost)} of {len(passed_directly)} tests that pass directly fail through pgwarden: "
                    f"{lost} (regression.diffs and pgwarden's log in {out})\n{excerpt}", pytrace=False)


def test_results_through_pgwarden_equal_the_direct_ones_byte_for_byte(runs, capsys):
    """No mask rule: pgwarden must not change one byte of any result file,
    apart from what also differs between two direct runs."""
    direct1 = runs.direct[0]
    differing = differing_files(direct1, runs.via)
    unstable, excused = [], []
    if len(runs.direct) > 1:
        direct2 = runs.direct[1]
        unstable = differing_files(direct1, direct2)
        excused = [n for n in differing if runs.via.result(n) == direct2.result(n)]
    differing = [n for n in differing if n not in excused]
    names = set(direct1.result_names()) | set(runs.via.result_names())
    with capsys.disabled():
        print(f"\nfidelity: {len(names) - len(differing)}/{len(names)} result files byte-identical through "
              f"pgwarden" + (f"; differ between two direct runs: {unstable}" if unstable else ""))
    if not differing:
        return
    out = report_dir()
    excerpt = ""
    for n in differing:
        diff = unified(direct1.result(n), runs.via.result(n), f"direct/{n}.out", f"pgwarden/{n}.out")
        with open(os.path.join(out, n + ".diff"), "w") as f:
            f.write(diff)
        excerpt += diff[:1200] + ("\n[...]\n" if len(diff) > 1200 else "")
    pytest.fail(f"{len(differing)} result file(s) differ through pgwarden: {differing} "
                f"(diffs in {out})\n{excerpt}", pytrace=False)
