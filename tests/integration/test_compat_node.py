"""Compatibility: node-postgres (npm `pg`, installed by harness/node.py)
through pgwarden's transparent path with the read-only agent's policy
(harness/compat.py).

node-postgres turns its `statement_timeout`, `lock_timeout` and
`idle_in_transaction_session_timeout` options into startup parameters
(compat_clients/node_settings.js reports the parameters it builds, so the
test reads how the installed version sends each). Through pgwarden the
client must connect and `SHOW` must return the values it asked for, as it
does directly: startup settings are judged by the policy's `set` rule, which
readonly-agent.yaml allows. (Until pgwarden does so, it refuses every
startup setting but the few that shape presentation, docs/configuration.md
"Startup settings", and test_timeouts_as_startup_parameters fails with that
refusal.)

A startup `role` must be refused with 42501, however it comes: `-c role=...`
in `options`, or a `role` startup parameter of its own. Directly the server
accepts both (app_owner is a member of the role), so the refusal is
pgwarden's: the policy denies the `role` class.
"""

import json
from pathlib import Path

import pytest

from harness import compat, node

CLIENT = Path(__file__).resolve().parent / "compat_clients" / "node_settings.js"
ROLE = "compat_reader"
# Milliseconds, distinct from every default; SHOW prints them as "<n>ms".
TIMEOUTS = {"statement_timeout": 4321, "lock_timeout": 1234, "idle_in_transaction_session_timeout": 98765}


def create_role(db):
    db.execute(f"CREATE ROLE {ROLE} NOLOGIN")
    db.execute(f"GRANT {ROLE} TO {db.app_user}")


@pytest.fixture(scope="module")
def env(request):
    e = compat.CompatEnv(request, setup=create_role)
    yield e
    e.close()


@pytest.fixture(scope="module")
def node_pg():
    return node.node_pg_modules()


def run_node(env, node_pg, config, connections=None):
    argv = ["node", str(CLIENT), compat.DB_HOST, str(env.port), env.db.app_user, compat.DB, json.dumps(config)]
    return env.json_both(argv, env_extra={"NODE_PATH": node_pg}, timeout=60, connections=connections)


def test_timeouts_as_startup_parameters(env, node_pg):
    direct, via = run_node(env, node_pg, TIMEOUTS, connections=1)
    assert via["startup"] == direct["startup"]
    sent = {name for name in TIMEOUTS if name in direct["startup"]}
    # The two node-postgres has always sent at startup; lock_timeout too in
    # the versions that know it (8.x): whichever way, the value must arrive.
    assert {"statement_timeout", "idle_in_transaction_session_timeout"} <= sent, direct["startup"]
    for name in sent:
        assert direct["startup"][name] == str(TIMEOUTS[name])
    assert direct["connect"] == "ok", direct
    assert direct["show"] == {name: f"{value}ms" if name in sent else direct["show"][name]
                              for name, value in TIMEOUTS.items()}, direct
    assert via["connect"] == "ok", f"{via}\n{env.pgwarden.log_tail(10)}"
    assert via["show"] == direct["show"], via
    assert via["current_user"] == direct["current_user"] == env.db.app_user


def assert_role_refused(result, how):
    code, message = result
    assert code == "42501", f"{how}: {code} {message}"
    assert message.startswith("pgwarden: ") and "role" in message, f"{how}: {message}"


def test_startup_role_in_options_is_refused(env, node_pg):
    direct, via = run_node(env, node_pg, {"options": f"-c role={ROLE}"})
    assert direct["startup"]["options"] == via["startup"]["options"] == f"-c role={ROLE}"
    # Directly the server takes it: the session runs as the role.
    assert direct["connect"] == "ok" and direct["current_user"] == ROLE, direct
    assert direct["show"] == {"role": ROLE}, direct
    assert isinstance(via["connect"], dict), f"connected through pgwarden as {via.get('current_user')}"
    assert_role_refused((via["connect"]["error"], via["connect"]["message"]), "options -c role")


def test_startup_role_parameter_is_refused(env):
    """A `role` startup parameter (no driver sends one; the harness's raw
    client does), through the path."""
    report = env.rig.probe(user=env.db.app_user, database=compat.DB, params={"role": ROLE},
                           sql="SELECT current_user")
    assert report["kind"] == "error", report
    fields = report["fields"]
    assert fields["S"] == "FATAL", fields
    assert_role_refused((fields["C"], fields["M"]), "startup parameter role")
    # The same raw client with no role connects, as app_owner.
    report = env.rig.probe(user=env.db.app_user, database=compat.DB, sql="SELECT current_user")
    assert report["kind"] == "ready" and report["rows"] == [[env.db.app_user]], report
