"""Who the client is comes from the kernel (SO_PEERCRED on the unix socket),
never from what it says in its StartupMessage."""

import os

import psycopg
import pytest

from harness import psql
from harness.rawpg import try_startup


@pytest.fixture
def uid_only_pgwarden(make_pgwarden):
    """default: deny, with one identity: processes of our uid on the unix socket."""
    return make_pgwarden(overrides={
        "default": "deny",
        "identities": [{"name": "local-tests", "match": {"uid": [os.geteuid()]}}],
        "policies": [{"identity": "local-tests", "allow": ["select"]}],
    })


def test_unix_socket_peer_uid_admits(uid_only_pgwarden):
    pw = uid_only_pgwarden
    kind, status = try_startup(pw.config["unix_socket"], 0, user="claims-to-be-anyone")
    assert kind == "ready", status
    result = psql(pw.psql_args(unix=True), "-At", "-c", "SELECT current_user")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "app_owner"


def test_tcp_client_without_kernel_identity_is_refused(uid_only_pgwarden):
    """Explicit TCP clients carry no uid, so the uid rule cannot match them,
    whatever user name they send."""
    pw = uid_only_pgwarden
    kind, fields = try_startup(pw.host, pw.port, user="root")
    assert kind == "error", fields
    assert (fields["S"], fields["C"]) == ("FATAL", "28000"), fields
    assert fields["M"].startswith("pgwarden:"), fields


def test_comm_rule_uses_the_kernel_process_name(make_pgwarden):
    pw = make_pgwarden(overrides={
        "default": "deny",
        "identities": [{"name": "psql-only", "match": {"comm": ["psql"]}}],
        "policies": [{"identity": "psql-only", "allow": ["select"]}],
    })
    allowed = psql(pw.psql_args(unix=True), "-At", "-c", "SELECT 1")
    assert allowed.returncode == 0, allowed.stderr
    # This test process (python3) says application_name=psql; that changes nothing.
    with pytest.raises(psycopg.OperationalError) as info:
        pw.connect(unix=True, application_name="psql")
    assert "pgwarden:" in str(info.value)
    kind, fields = try_startup(pw.config["unix_socket"], 0, user="psql", application_name="psql")
    assert kind == "error" and fields["C"] == "28000", fields
    # The refusal names what did not match.
    assert "python" in fields["M"] or "comm" in fields["M"], fields


def test_identity_without_a_policy_is_refused(make_pgwarden):
    """A workload that matches an identity is held to that identity's policy;
    with none for the upstream it is refused, never let through unchecked."""
    pw = make_pgwarden(overrides={
        "default": "allow",
        "identities": [{"name": "no-policy", "match": {"uid": [os.geteuid()]}}],
    })
    kind, fields = try_startup(pw.config["unix_socket"], 0, user="anyone")
    assert kind == "error", fields
    assert (fields["S"], fields["C"]) == ("FATAL", "28000"), fields
    assert "no policy" in fields["M"] and "no-policy" in fields["M"], fields
