"""The compatibility suite's set-up (test_compat_*.py): a real client tool
runs twice against one database, once directly and once through pgwarden's
transparent path, and the two outputs are compared.

`CompatEnv` (one per test module) holds:
- a PgCluster on 127.0.0.3 (port 5432 unless something holds it) with the
  sample data, autovacuum off and everything vacuumed once set up, so sizes
  and statistics (`\\dt+`, `\\l+`) stay put between the two runs;
- an InterceptRig and a pgwarden intercepting connects from the rig's
  clients/ cgroup to that address, with the policy of
  policies/readonly-agent.yaml, read from the file (its mask rules show
  what masked columns look like to each tool);
- `via(argv)`: the tool inside clients/, with no password anywhere (eBPF
  sends it to pgwarden, which logs in upstream as app_owner);
  `direct(argv)`: the same argv from the test's own cgroup, with
  app_owner's password in PGPASSWORD (PostgreSQL asks for SCRAM).

Both log in as app_owner to the same database, so everything but the
masked values must come out the same. The policy's masks keep a
text's length in characters (`partial`, `email` and `redact` replace
characters by `*`), so `masked_like()` can check a masked value against the
direct one position by position, and `column_mask()` computes what a
column rule makes of a direct value.
"""

import json
import subprocess

import pytest

from . import PgCluster, client_env
from . import intercept as ic
from .system import free_port

DB_HOST = "127.0.0.3"
IDENTITY = "readonly-agent"
DB = "app"


def _start_cluster(**kw):
    """A cluster on DB_HOST: port 5432 when free (what a workload expects),
    else a free one (another test run on this host may hold it)."""
    for attempt in range(5):
        port = ic.db_port(DB_HOST) if attempt == 0 else free_port(DB_HOST)
        pg = PgCluster(host=DB_HOST, port=port, **kw)
        try:
            pg.start()
            return pg
        except RuntimeError as exc:
            pg.close()
            if "Address already in use" not in str(exc) or attempt == 4:
                raise
    raise AssertionError("unreachable")


class CompatEnv:
    """One module's database, rig and intercepting pgwarden.

    setup: a callable(cluster) run once the sample data is loaded and before
    the VACUUM (the module's own objects, made directly as their owner)."""

    def __init__(self, request, setup=None):
        # Imported here: policy_clients is the tests' package, not the harness's.
        from policy_clients.readonly_agent import ReadonlyAgentPgwarden

        reason = ic.bpf_unavailable_reason()
        if reason:
            ic.skip_or_fail(reason)
        self.request = request
        self.failed_before = request.session.testsfailed
        self.db = self.rig = self.script = None
        try:
            self.db = _start_cluster(settings={"autovacuum": "off"})
            if setup is not None:
                setup(self.db)
            self.db.execute("VACUUM ANALYZE", dbname=DB)
            self.port = self.db.port
            self.script = ic.ClientScript()
            self.rig = ic.InterceptRig(self.db, self.script, DB_HOST, self.port)
            identity = {"name": IDENTITY, "match": {"cgroup": self.rig.clients.path + "/**"}}
            self.pgwarden = ReadonlyAgentPgwarden(self.db, [identity])
            self.rig.adopt(self.pgwarden)
        except BaseException:
            self.close(check=False)
            raise

    # ---- running a tool both ways -------------------------------------------

    def direct_env(self, extra=None):
        return client_env(extra, password=self.db.app_password)

    def via_env(self, extra=None):
        return client_env(extra)

    def direct(self, argv, env_extra=None, timeout=120, **kw):
        """argv from the test's own cgroup, with the password (PGPASSWORD)."""
        return self._run(argv, self.direct_env(env_extra), timeout, **kw)

    def via(self, argv, env_extra=None, timeout=120, **kw):
        """argv inside the rig's clients/ cgroup, without any password."""
        return self._run(self.rig.clients.argv(argv), self.via_env(env_extra), timeout, **kw)

    def both(self, argv, env_extra=None, timeout=120, **kw):
        """(direct, via) results of argv."""
        return (self.direct(argv, env_extra, timeout, **kw), self.via(argv, env_extra, timeout, **kw))

    @staticmethod
    def _run(argv, env, timeout, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("encoding", "utf-8")
        kw.setdefault("errors", "surrogateescape")  # bytes as they came, comparable
        if "input" not in kw:
            kw.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run(argv, env=env, timeout=timeout, **kw)

    def psql_argv(self, *args):
        """psql -X as app_owner to the database's address (both ways)."""
        return ["psql", "-X", "-h", DB_HOST, "-p", str(self.port), "-U", self.db.app_user, "-d", DB, *args]

    def json_both(self, argv, env_extra=None, timeout=120, connections=None, exact=True):
        """Run a client program that prints one JSON document both ways;
        (direct, via) documents. Either failing fails the test with its output.
        connections: how many connects of the run through pgwarden eBPF
        redirected (at least that many when not exact); None: not checked."""
        before = self.redirected()
        direct, via = self.both(argv, env_extra, timeout)
        documents = self.parse_json(direct, "direct"), self.parse_json(via, "through pgwarden")
        if connections is not None:
            made = self.redirected() - before
            assert made == connections if exact else made >= connections, \
                f"{made} connects redirected, expected {'' if exact else 'at least '}{connections}"
        return documents

    def parse_json(self, result, how):
        assert result.returncode == 0, (f"{how}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
                                        + ("\n" + self.pgwarden.log_tail() if how != "direct" else ""))
        try:
            return json.loads(result.stdout)
        except ValueError:
            raise AssertionError(f"{how}: not JSON:\n{result.stdout}\n{result.stderr}") from None

    def redirected(self):
        return self.rig.status(self.pgwarden)["intercept"]["counters"]["connect_redirected"]

    # ---- teardown -----------------------------------------------------------

    def close(self, check=True):
        errors = []
        if self.rig is not None:
            failed = self.request.session.testsfailed > self.failed_before
            errors = self.rig.close(show_logs=failed)
            self.rig = None
        if self.script is not None:
            self.script.close()
            self.script = None
        if self.db is not None:
            self.db.close()
            self.db = None
        if errors and check:
            pytest.fail("teardown:\n" + "\n".join(errors), pytrace=False)


# ---- what masked values must look like ------------------------------------------

# The column rules of readonly-agent.yaml's mask list, as computed here from a direct
# value: public.customers.ssn with partial(last=4), .email with email
# (docs/configuration.md, "Mask functions").
def partial(value, first=0, last=0):
    """partial(first=N,last=M): letters, digits and non-ASCII characters
    masked with `*` but the first N and last M, punctuation kept; all of them
    masked when that would keep every one."""
    content = [i for i, c in enumerate(value) if c.isascii() and c.isalnum() or not c.isascii()]
    keep_any = first + last < len(content)
    keep = set(content[:first] + (content[len(content) - last:] if last else [])) if keep_any else set()
    return "".join(c if i not in set(content) or i in keep else "*" for i, c in enumerate(value))


def email(value):
    """email: the first character of the local part, `*` for the rest of
    it, the domain kept (one address assumed, as the sample data has)."""
    local, _, domain = value.rpartition("@")
    assert local, value
    masked = local[0] + "*" * (len(local) - 1) if len(local) >= 2 else "*"
    return masked + "@" + domain


COLUMN_MASKS = {"ssn": lambda v: partial(v, last=4), "email": email}


def column_mask(column, value):
    """What pgwarden must send for customers.<column> whose value is value
    (None: the column has no rule, it passes unchanged unless a detector
    finds something in it)."""
    if value is None or column not in COLUMN_MASKS:
        return None
    return COLUMN_MASKS[column](value)


def masked_like(direct, via):
    """via is direct with some characters (possibly none) replaced by `*`."""
    return (isinstance(direct, str) and isinstance(via, str) and len(direct) == len(via)
            and all(v == d or v == "*" for d, v in zip(direct, via)))


def json_masked_like(direct, via, where):
    """Decoded JSON through pgwarden against direct: the same shape, keys and
    non-string values, strings masked_like. Returns whether any differs."""
    assert type(via) is type(direct), f"{where}: {via!r} against direct {direct!r}"
    if isinstance(direct, dict):
        assert list(via) == list(direct), f"{where}: keys {list(via)} against {list(direct)}"
        return any([json_masked_like(direct[k], via[k], f"{where}.{k}") for k in direct])
    if isinstance(direct, list):
        assert len(via) == len(direct), f"{where}: {via!r} against direct {direct!r}"
        return any([json_masked_like(d, v, f"{where}[{i}]") for i, (d, v) in enumerate(zip(direct, via))])
    if isinstance(direct, str):
        assert masked_like(direct, via), f"{where}: {via!r} is not {direct!r} with characters masked"
        return via != direct
    assert via == direct, f"{where}: {via!r} against direct {direct!r}"
    return False


def digits(text):
    return "".join(c for c in text if c.isdigit())


def check_customer_value(column, direct, via, where):
    """One value of customers through pgwarden against the direct one:
    exact mask for a column rule; for other text, equal or the direct text
    with detected PII starred, and a card number (card_number, by the
    credit_card detector) never in clear. Returns whether it was masked."""
    expected = column_mask(column, direct)
    if expected is not None:
        assert via == expected, f"{where}: {column} {via!r}, expected the mask {expected!r} of {direct!r}"
        assert via != direct, f"{where}: {column} came through in clear: {via!r}"
        return True
    if isinstance(direct, (dict, list)):  # JSON as a driver decodes it: strings masked inside
        return json_masked_like(direct, via, f"{where}: {column}")
    if not isinstance(direct, str):
        assert via == direct, f"{where}: {column} {via!r} differs from direct {direct!r}"
        return False
    assert masked_like(direct, via), f"{where}: {column} {via!r} is not {direct!r} with some characters masked"
    if column == "card_number":
        assert digits(direct)[-8:] not in digits(via), f"{where}: card number in clear: {via!r}"
        assert via != direct
    return via != direct


def check_customer_rows(direct_rows, via_rows, columns, where="row"):
    """Rows of customers (lists in `columns` order), through pgwarden against
    direct: same count and order, unmasked columns equal, masked ones masked
    (check_customer_value). Returns {column: rows masked}."""
    assert len(via_rows) == len(direct_rows), f"{where}: {len(via_rows)} rows, direct {len(direct_rows)}"
    masked = {c: 0 for c in columns}
    for n, (d, v) in enumerate(zip(direct_rows, via_rows)):
        assert len(d) == len(v) == len(columns), (d, v, columns)
        for column, dv, vv in zip(columns, d, v):
            masked[column] += check_customer_value(column, dv, vv, f"{where} {n}")
    return masked
