"""Fixtures for pgwarden's integration tests.

`cluster` is one PostgreSQL with the sample data for the whole run;
`pgwarden` is a daemon in front of it for one test, stopped with SIGTERM at
the end (a non-zero exit fails the test); `make_pgwarden` builds daemons with
other configs. When a test fails, the tails of the logs of the daemons it used
are printed with the report.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from harness import PgCluster, Pgwarden  # noqa: E402
from harness.clients import NO_PGPASS  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _client_environment():
    """In-process clients (psycopg) see the same environment as psql: no
    password from anywhere, no PG* settings from the caller's shell."""
    saved = dict(os.environ)
    for key in list(os.environ):
        # pgwarden's own settings (PGWARDEN_*) are not libpq's and stay.
        if key.startswith("PG") and not key.startswith("PGWARDEN_"):
            del os.environ[key]
    os.environ["PGPASSFILE"] = NO_PGPASS
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def cluster():
    with PgCluster() as pg:
        yield pg


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


@pytest.fixture
def make_pgwarden(request, cluster):
    """make_pgwarden(**kw) -> a started Pgwarden (kw as for Pgwarden; upstream
    defaults to the session cluster; start=False returns it unstarted)."""
    made = []

    def make(start=True, **kw):
        kw.setdefault("upstream", cluster)
        pw = Pgwarden(**kw)
        made.append(pw)
        return pw.start() if start else pw

    yield make

    failed = getattr(request.node, "rep_call", None)
    errors = []
    for pw in made:
        if failed is not None and failed.failed:
            print(pw.log_tail(80))
        try:
            pw.check_not_exited()
            if pw.alive():
                pw.stop()
        except AssertionError as exc:
            errors.append(str(exc))
        finally:
            pw.close()
    if errors:
        pytest.fail("clean shutdown failed:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def pgwarden(make_pgwarden):
    return make_pgwarden()
