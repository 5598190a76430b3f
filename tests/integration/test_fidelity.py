"""Fidelity against PostgreSQL's own regression scripts (issue 2, item 7).

Each script of ../shared/pg-regress/sql runs with psql in a fresh database,
directly and through pgwarden (and directly a second time when the two
differ); stdout and stderr go into one stream so that the order of errors
and notices relative to results counts too. What legitimately differs
between two direct runs is normalised, the rest must be identical.

app_owner is SUPERUSER in this test's own cluster: several scripts create
roles, languages or read server files, and both runs must log in as the
same role for the outputs to be comparable (pgwarden always logs in as
app_owner).
"""

import concurrent.futures
import difflib
import os
import re
import subprocess
import tempfile

import pytest

from harness import PgCluster, client_env
from harness.pgwarden import REPO_ROOT

PARALLEL = 2
REGRESS_ENV = {"PGTZ": "PST8PDT", "PGDATESTYLE": "Postgres, MDY"}


def shared_dir():
    return os.environ.get("PGWARDEN_SHARED", str(REPO_ROOT.parent / "shared"))


def sql_files():
    d = os.path.join(shared_dir(), "pg-regress", "sql")
    if not os.path.isdir(d):
        pytest.fail(f"regression scripts not found in {d} (set PGWARDEN_SHARED)")
    return d, sorted(f for f in os.listdir(d) if f.endswith(".sql"))


def copy_data_ranges(script_text):
    """(first, last) line numbers of each COPY ... FROM stdin statement and its
    data up to the `\\.` line. A NOTICE raised while psql is still sending the
    data (a BEFORE STATEMENT trigger) carries whatever line psql had read when
    it arrived: that differs between two direct runs, so inside such a range
    the line number is replaced by the COPY statement's."""
    lines = script_text.splitlines()
    ranges = []
    for i, line in enumerate(lines):
        if re.match(r"\s*\\?copy\b", line, re.I) and re.search(r"\bfrom\s+stdin\b", line, re.I):
            for j in range(i + 1, len(lines)):
                if lines[j].strip() == "\\.":
                    ranges.append((i + 1, j + 1))
                    break
                if re.match(r"\s*\\?copy\b", lines[j], re.I):
                    break  # this COPY failed before reading data; no data block
    return ranges


def normalise(output, dbname, script_name, ranges):
    def line_prefix(m):
        n = int(m.group(2))
        for first, last in ranges:
            if first <= n <= last:
                n = first
                break
        return f"psql:{script_name}:{n}:"

    output = output.replace(dbname, "<DBNAME>")
    output = re.sub(r"psql:([^:\n]*?" + re.escape(script_name) + r"):(\d+):", line_prefix, output)
    output = re.sub(r"RI_ConstraintTrigger_([ac])_\d+", r"RI_ConstraintTrigger_\1_<OID>", output)
    output = re.sub(r"^Time: [\d.]+ ms.*$", "Time: <T> ms", output, flags=re.M)
    return output


class Runner:
    def __init__(self, cluster, sql_dir):
        self.cluster = cluster
        self.sql_dir = sql_dir

    def run_all(self, tag, conn_args, env, files):
        def one(name):
            try:
                return name, attempt(name)
            except Exception as exc:  # noqa: BLE001 - one script's trouble must name it
                return name, f"HARNESS ERROR running {name} ({tag}): {exc!r}"

        def attempt(name):
            dbname = f"fid_{tag}_{name[:-4]}"
            self.cluster.create_database(dbname, strategy="FILE_COPY")
            result = subprocess.run(
                ["psql", "-X", "-a", "-q", "-v", "ON_ERROR_STOP=0", *conn_args, "-d", dbname,
                 "-f", name],
                cwd=self.sql_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, timeout=300)
            with open(os.path.join(self.sql_dir, name), errors="replace") as f:
                ranges = copy_data_ranges(f.read())
            text = result.stdout.decode(errors="replace")
            return normalise(text, dbname, name, ranges)

        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
            return dict(pool.map(one, files))


@pytest.fixture(scope="module")
def fidelity_cluster():
    with PgCluster(sample_data=False, app_owner_superuser=True) as pg:
        yield pg


def test_regression_scripts_identical_through_pgwarden(fidelity_cluster, make_pgwarden, capsys):
    sql_dir, files = sql_files()
    pg = fidelity_cluster
    runner = Runner(pg, sql_dir)
    direct_args = ["-h", pg.host, "-p", str(pg.port), "-U", pg.app_user]
    direct_env = client_env(REGRESS_ENV, password=pg.app_password)
    pw = make_pgwarden(upstream=pg)
    via_args = ["-h", pw.host, "-p", str(pw.port), "-U", "regress"]

    direct = runner.run_all("d1", direct_args, direct_env, files)
    via = runner.run_all("pw", via_args, client_env(REGRESS_ENV), files)
    pw.check_not_exited()
    # A script whose output through pgwarden differs runs directly once more:
    # if the two direct runs differ as well, the script is not deterministic
    # in a way the normalisation misses, and pgwarden's run counts as
    # identical when it matches either direct run.
    differing = [f for f in files if via[f] != direct[f]]
    unstable = []
    if differing:
        again = runner.run_all("d2", direct_args, direct_env, differing)
        unstable = [f for f in differing if again[f] != direct[f]]
        differing = [f for f in differing if via[f] != again[f]]

    report_dir = tempfile.mkdtemp(prefix="pgwarden-fidelity-")
    for f in differing:
        with open(os.path.join(report_dir, f + ".diff"), "w") as out:
            out.writelines(difflib.unified_diff(direct[f].splitlines(True),
                                                via[f].splitlines(True),
                                                f"direct/{f}", f"pgwarden/{f}"))
    identical = len(files) - len(differing)
    with capsys.disabled():
        print(f"\nfidelity: {identical}/{len(files)} identical"
              + (f" (diffs in {report_dir})" if differing else "")
              + (f"; nondeterministic directly: {unstable}" if unstable else ""))
    if not differing:
        os.rmdir(report_dir)
    excerpt = ""
    for f in differing[:3]:
        with open(os.path.join(report_dir, f + ".diff")) as d:
            excerpt += "".join(d.readlines()[:30])
    assert not differing, f"{len(differing)} script(s) differ: {differing}\n{excerpt}"
