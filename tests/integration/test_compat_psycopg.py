"""Compatibility: psycopg 3 (Debian's python3-psycopg) through pgwarden's
transparent path with the read-only agent's policy (harness/compat.py).

compat_clients/psycopg_client.py runs once directly and once in the
intercepted cgroup and prints what it saw:
- server-side (named) cursors over customers (DECLARE / FETCH / CLOSE, in
  text and binary, a scrollable one, and WITH HOLD in autocommit), and
  stream() (single-row mode): the same rows, customers' masked columns
  masked;
- COPY ... TO STDOUT: what the policy says of copy_to (readonly-agent.yaml
  allows it: the same lines come, masked as test_compat_pg_dump.py checks;
  a policy that denies it gives a clean 42501 the driver raises as
  InsufficientPrivilege); either way the session goes on, idle;
- pipeline mode: several SELECTs, some prepared, answered as directly.
"""

import re
from pathlib import Path

import pytest

from harness import compat
from policy_clients.readonly_agent import policy_item_text

CLIENT = Path(__file__).resolve().parent / "compat_clients" / "psycopg_client.py"
CUSTOMER_COLUMNS = ["id", "name", "email", "ssn", "card_number", "phone", "notes", "profile"]
N_CUSTOMERS = 3000


@pytest.fixture(scope="module")
def env(request):
    e = compat.CompatEnv(request)
    yield e
    e.close()


@pytest.fixture(scope="module")
def runs(env):
    """(direct, via) documents of one run of the client each way."""
    # Its two connections go through pgwarden.
    return env.json_both(["/usr/bin/python3", str(CLIENT), compat.DB_HOST, str(env.port), env.db.app_user, compat.DB],
                         connections=2)


def test_named_cursors(runs):
    direct, via = (r["named_cursors"] for r in runs)
    for key in ("description", "binary_description"):
        assert via[key] == direct[key]
        assert [name for name, _ in direct[key]] == CUSTOMER_COLUMNS
    assert len(direct["rows"]) == N_CUSTOMERS
    masked = compat.check_customer_rows(direct["rows"], via["rows"], CUSTOMER_COLUMNS, where="text cursor")
    assert masked["email"] == masked["ssn"] == masked["card_number"] == N_CUSTOMERS, masked
    assert masked["notes"] > 0 and masked["profile"] > 0, masked
    assert masked["id"] == masked["name"] == masked["phone"] == 0, masked
    assert len(direct["binary_rows"]) == 60
    masked = compat.check_customer_rows(direct["binary_rows"], via["binary_rows"], CUSTOMER_COLUMNS,
                                        where="binary cursor")
    assert masked["email"] == masked["ssn"] == masked["card_number"] == 60, masked
    assert len(direct["scrolled"]) == 5
    assert via["scrolled"] == direct["scrolled"]


@pytest.mark.parametrize("kind", ["withhold", "stream"])
def test_autocommit_cursors(runs, kind):
    """A WITH HOLD named cursor and stream() (single-row mode), in autocommit."""
    direct, via = (r["autocommit"][kind] for r in runs)
    assert len(direct) == 25
    masked = compat.check_customer_rows(direct, via, ["id", "email", "ssn"], where=kind)
    assert masked == {"id": 0, "email": 25, "ssn": 25}, masked


def copy_to_denied():
    """What policies/readonly-agent.yaml says of copy_to."""
    item = policy_item_text()
    deny = re.search(r"^\s+deny:\s*\n((?:\s+(?:- .*|#.*)\n)+)", item, re.M)
    allow = re.search(r"^\s+allow:\s*\[([^\]]*)\]", item, re.M)
    denied = bool(deny) and re.search(r"^\s+- copy_to\b", deny.group(1), re.M) is not None
    allowed = bool(allow) and "copy_to" in [w.strip() for w in allow.group(1).split(",")]
    assert denied != allowed, "readonly-agent.yaml: copy_to should be in exactly one of allow and deny"
    return denied


def test_copy_to_stdout(runs):
    direct, via = (r["copy"] for r in runs)
    assert direct["table"]["lines"] == N_CUSTOMERS and direct["query"]["lines"] == 5, direct
    for form in ("table", "query"):
        d, v = direct[form], via[form]
        if copy_to_denied():
            assert v["error"] == "42501" and v["class"] == "InsufficientPrivilege", v
            assert v["message"].startswith("pgwarden: copy_to on ") and \
                v["message"].endswith(" denied by policy for readonly-agent"), v
        else:
            assert v["lines"] == d["lines"], v
        # The connection goes on: the next statement is answered, and no
        # transaction is left open.
        assert v["after"] == d["after"] and v["status"] == d["status"] == "IDLE", (d, v)


def test_pipeline(runs):
    direct, via = runs[0]["pipeline"], runs[1]["pipeline"]
    assert runs[0]["pipeline_status"] == runs[1]["pipeline_status"] == "IDLE"
    assert len(direct) == len(via) == 6
    for n, (d, v) in enumerate(zip(direct, via)):
        assert v["description"] == d["description"], n
        assert d["rows"], f"statement {n}: no rows directly"
        if n == 1:  # customers' masked columns
            columns = [name for name, _ in d["description"]]
            masked = compat.check_customer_rows(d["rows"], v["rows"], columns, where="pipeline")
            assert masked == {"id": 0, "name": 0, "email": 6, "ssn": 6, "card_number": 6}, masked
        else:
            assert v["rows"] == d["rows"], n
    assert direct[0]["rows"] == [[N_CUSTOMERS, N_CUSTOMERS]]
