"""Policy denials in the extended query protocol, on raw sockets, compared
message for message with what PostgreSQL itself answers.

A pipeline Parse/Bind/Execute x 3 then Sync whose second Parse pgwarden
denies must get exactly the responses PostgreSQL gives when that Parse
fails on its own (a missing table, a syntax error): the first statement's
ParseComplete, BindComplete, DataRow, CommandComplete; one ErrorResponse;
nothing for the skipped messages; ReadyForQuery — and the first statement's
INSERT rolled back with the implicit transaction. The next Sync cycle works.
A statement whose Parse was denied can never be bound or executed later,
and nothing of it runs (a row it would touch keeps its tuple version, so
even a rolled-back DELETE would show).

Last, the whole readonly-agent corpus goes through Parse/Bind/Execute/Sync
with the same expectations as the simple-protocol run.
"""

import os
import struct

import pytest

from harness import Pgwarden
from harness.rawpg import Session, message, parse_fields, query
from policy_clients.readonly_agent import (POLICY_IDENTITY, DatabaseWatch, ReadonlyAgentPgwarden,
                                           create_corpus_database, fingerprint_diff, read_corpus,
                                           stop_cleanly, uid_identity)

DB = "pgw_policy_extended"
CORPUS_DB = "pgw_policy_corpus_ext"
SCRATCH = "public.pipeline_scratch"
IDENTITY = "scratch-writer"

INSERT = f"INSERT INTO {SCRATCH} (note) VALUES ($1) RETURNING note"
COUNT = f"SELECT count(*) FROM {SCRATCH}"
DENIED = f"DELETE FROM {SCRATCH}"                       # delete: not in the policy
DENIED_MESSAGE = f"pgwarden: delete on {SCRATCH} denied by policy for {IDENTITY}"
FAILS_AT_PARSE = {                                      # what the server refuses at Parse
    "missing_table": ("DELETE FROM no_such_table", "42P01"),
    "syntax_error": (f"DELET FROM {SCRATCH}", "42601"),
}


# ---- a minimal extended-protocol frontend ------------------------------------------

def parse(name, sql):
    return message(b"P", name.encode() + b"\0" + sql.encode() + b"\0" + struct.pack("!H", 0))


def bind(portal, statement, params=()):
    body = portal.encode() + b"\0" + statement.encode() + b"\0" + struct.pack("!HH", 0, len(params))
    for p in params:
        data = p.encode()
        body += struct.pack("!i", len(data)) + data
    return message(b"B", body + struct.pack("!H", 0))


def execute(portal=""):
    return message(b"E", portal.encode() + b"\0" + struct.pack("!I", 0))


def describe(kind, name):
    return message(b"D", kind + name.encode() + b"\0")


def sync():
    return message(b"S")


def decode(kind, payload):
    """A response as a comparable tuple: type, and what identifies it."""
    if kind == b"E":
        fields = parse_fields(payload)
        return ("ErrorResponse", fields["C"], fields["M"])
    if kind == b"C":
        return ("CommandComplete", payload.rstrip(b"\0").decode())
    if kind == b"Z":
        return ("ReadyForQuery", payload.decode())
    if kind == b"D":
        (n,) = struct.unpack("!H", payload[:2])
        pos, row = 2, []
        for _ in range(n):
            (length,) = struct.unpack("!i", payload[pos:pos + 4])
            pos += 4
            row.append(None if length < 0 else payload[pos:pos + length].decode())
            pos += max(length, 0)
        return ("DataRow", *row)
    names = {b"1": "ParseComplete", b"2": "BindComplete", b"3": "CloseComplete", b"n": "NoData",
             b"t": "ParameterDescription", b"T": "RowDescription", b"s": "PortalSuspended",
             b"I": "EmptyQueryResponse", b"N": "NoticeResponse", b"S": "ParameterStatus",
             b"G": "CopyInResponse", b"H": "CopyOutResponse", b"d": "CopyData", b"c": "CopyDone"}
    return (names.get(kind, kind.decode(errors="replace")),)


def cycle(session, *messages):
    """Send messages (ending with Sync or a Query) in one write; every
    response up to ReadyForQuery, decoded. A COPY that starts is failed."""
    session.send(b"".join(messages))
    out = []
    while True:
        kind, payload = session.read_message()
        out.append(decode(kind, payload))
        if kind == b"G":
            session.send(message(b"f", b"pgwarden test: no COPY data\0"))
        if kind == b"Z":
            return out


def shape(responses):
    """Responses with error SQLSTATEs and messages left out: what must be
    identical between pgwarden's denial and the server's own failure."""
    return [r[:1] if r[0] == "ErrorResponse" else r for r in responses]


# ---- fixtures ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def ext_db(cluster):
    cluster.drop_database(DB)
    cluster.create_database(DB)
    cluster.execute_app(f"CREATE TABLE {SCRATCH} (id serial PRIMARY KEY, note text NOT NULL)", dbname=DB)
    yield cluster
    cluster.drop_database(DB)


@pytest.fixture(scope="module")
def writer(ext_db):
    """An identity that may insert into (and read) the scratch table only."""
    pw = Pgwarden(upstream=ext_db, overrides={
        "default": "deny",
        "identities": [{"name": IDENTITY, "match": {"uid": [os.geteuid()]}}],
        "policies": [{"identity": IDENTITY, "allow": ["select", "insert", "transaction"],
                      "tables": {"allow": [SCRATCH]}, "unparseable": "deny"}],
    }).start()
    try:
        yield pw
    finally:
        stop_cleanly(pw)


def via_pgwarden(pw, dbname=DB):
    return Session(pw.config["unix_socket"], 0, user="agent", database=dbname)


def direct(cluster, dbname=DB):
    """app_owner on the cluster's own unix socket (trust), no pgwarden."""
    return Session(os.path.join(cluster.socket_dir, f".s.PGSQL.{cluster.port}"), 0,
                   user=cluster.app_user, database=dbname)


class Scratch:
    """The scratch table, read and reset directly. rows(): (ctid, xmin,
    xmax, note) of every row — a statement that ran, even one rolled back,
    changes the seed row's xmax or ctid."""

    def __init__(self, cluster):
        self.cluster = cluster

    def reset(self):
        self.cluster.execute(f"TRUNCATE {SCRATCH}; INSERT INTO {SCRATCH} (note) VALUES ('seed')", dbname=DB)
        return self.rows()

    def rows(self):
        return self.cluster.execute(f"SELECT ctid::text, xmin::text, xmax::text, note FROM {SCRATCH} "
                                    "ORDER BY id", dbname=DB)


@pytest.fixture
def scratch(ext_db):
    return Scratch(ext_db)


# ---- the pipeline --------------------------------------------------------------------

def pipeline(second, second_name=""):
    return [parse("", INSERT), bind("", "", ["first"]), execute(),
            parse(second_name, second), bind("", second_name), execute(),
            parse("", COUNT), bind("", ""), execute(),
            sync()]


SECOND_CYCLE = [parse("", INSERT), bind("", "", ["second"]), execute(),
                parse("", COUNT), bind("", ""), execute(), sync()]


@pytest.mark.parametrize("in_block", [False, True], ids=["implicit-transaction", "transaction-block"])
@pytest.mark.parametrize("second_name", ["", "s2"], ids=["unnamed", "named"])
def test_denied_parse_in_a_pipeline_answers_as_the_server_would(ext_db, writer, scratch, second_name,
                                                                 in_block):
    results = {}
    for label, connect, second in [("pgwarden", lambda: via_pgwarden(writer), DENIED)] + [
            (f"direct/{k}", lambda: direct(ext_db), sql) for k, (sql, _) in FAILS_AT_PARSE.items()]:
        seed = scratch.reset()
        with connect() as s:
            opened = cycle(s, query("BEGIN")) if in_block else None
            first = cycle(s, *pipeline(second, second_name))
            closed = cycle(s, query("ROLLBACK")) if in_block else None
            rows_after_failure = scratch.rows()
            then = cycle(s, *SECOND_CYCLE)
        results[label] = (first, then)
        # The INSERT before the failure was rolled back; the seed row untouched.
        assert rows_after_failure == seed, (label, rows_after_failure, seed)
        assert [r[3] for r in scratch.rows()] == ["seed", "second"], label
        if in_block:
            assert (opened[-1], closed[-1]) == (("ReadyForQuery", "T"), ("ReadyForQuery", "I")), (opened, closed)

    first, then = results["pgwarden"]
    status = "E" if in_block else "I"
    tag = "INSERT 0 1"
    assert shape(first) == [("ParseComplete",), ("BindComplete",), ("DataRow", "first"),
                            ("CommandComplete", tag), ("ErrorResponse",), ("ReadyForQuery", status)], first
    assert first[4][1:] == ("42501", DENIED_MESSAGE), first[4]
    for label, (sql, sqlstate) in FAILS_AT_PARSE.items():
        d_first, d_then = results[f"direct/{label}"]
        assert shape(first) == shape(d_first), (label, first, d_first)
        assert d_first[4][1] == sqlstate, d_first
        assert then == d_then, (label, then, d_then)
    assert then == [("ParseComplete",), ("BindComplete",), ("DataRow", "second"), ("CommandComplete", tag),
                    ("ParseComplete",), ("BindComplete",), ("DataRow", "2"), ("CommandComplete", "SELECT 1"),
                    ("ReadyForQuery", "I")], then


def test_a_statement_whose_parse_was_denied_never_runs(ext_db, writer, scratch):
    """Bind, Execute and Describe of the refused name fail (pgwarden's 42501
    or the server's 26000 "does not exist"), in later cycles and pipelined
    behind the Parse, and the row the DELETE would touch keeps its version."""
    seed = scratch.reset()
    answers = {}
    for label, connect, bad in [("pgwarden", lambda: via_pgwarden(writer), DENIED),
                                ("direct", lambda: direct(ext_db), FAILS_AT_PARSE["missing_table"][0])]:
        with connect() as s:
            answers[label] = [
                cycle(s, parse("refused", bad), sync()),
                cycle(s, bind("", "refused"), execute(), sync()),
                cycle(s, describe(b"S", "refused"), sync()),
                cycle(s, bind("p", "refused"), describe(b"P", "p"), execute("p"), sync()),
                # Parse pipelined with its Bind/Execute in one cycle.
                cycle(s, parse("refused2", bad), bind("", "refused2"), execute(), sync()),
                cycle(s, bind("", "refused2"), execute(), sync()),
                # Closing a name that does not exist is not an error for the server.
                cycle(s, message(b"C", b"Srefused\0"), sync()),
                cycle(s, query(COUNT)),
            ]
    for got, want in zip(answers["pgwarden"], answers["direct"]):
        assert shape(got) == shape(want), (got, want)
    errors = [r for c in answers["pgwarden"] for r in c if r[0] == "ErrorResponse"]
    assert len(errors) == 6, answers["pgwarden"]
    for e in errors:
        ok = (e[1] == "42501" and e[2].startswith("pgwarden: ")) or (e[1] == "26000" and "does not exist" in e[2])
        assert ok, e
    assert ("DataRow", "1") in answers["pgwarden"][-1], answers["pgwarden"][-1]
    assert scratch.rows() == seed


# Statements prepared in earlier cycles around a refused Parse, as cycles of
# messages given `bad`: the refused text (through pgwarden) or one the
# server cannot parse.
AROUND_A_REFUSED_PARSE = {
    # A failed Parse of a named statement leaves the unnamed one in place
    # (the server drops the unnamed statement only for an unnamed Parse).
    "unnamed_survives_named_refusal": lambda bad: [
        [parse("", COUNT), sync()], [parse("named", bad), sync()], [bind("", ""), execute(), sync()]],
    # An unnamed Parse drops the previous unnamed statement even when it fails.
    "unnamed_dropped_by_unnamed_refusal": lambda bad: [
        [parse("", COUNT), sync()], [parse("", bad), sync()], [bind("", ""), execute(), sync()]],
    # Re-parsing an existing name fails; the statement already there stays.
    "existing_name_survives_refusal": lambda bad: [
        [parse("x", COUNT), sync()], [parse("x", bad), sync()], [bind("", "x"), execute(), sync()]],
}


@pytest.mark.parametrize("scenario", AROUND_A_REFUSED_PARSE)
def test_prepared_statements_around_a_refused_parse(ext_db, writer, scratch, scenario):
    seed = scratch.reset()
    answers = {}
    for label, connect, bad in [("pgwarden", lambda: via_pgwarden(writer), DENIED),
                                ("direct", lambda: direct(ext_db), FAILS_AT_PARSE["missing_table"][0])]:
        with connect() as s:
            answers[label] = [cycle(s, *c) for c in AROUND_A_REFUSED_PARSE[scenario](bad)]
    assert [shape(c) for c in answers["pgwarden"]] == [shape(c) for c in answers["direct"]], answers
    assert scratch.rows() == seed


# ---- the corpus through Parse ----------------------------------------------------------

@pytest.fixture(scope="module")
def corpus_agent(cluster):
    create_corpus_database(cluster, CORPUS_DB)
    pw = ReadonlyAgentPgwarden(cluster, [uid_identity()]).start()
    try:
        yield pw
    finally:
        try:
            stop_cleanly(pw)
        finally:
            cluster.drop_database(CORPUS_DB)


def test_readonly_agent_corpus_through_parse(cluster, corpus_agent):
    """Each line as one unnamed Parse/Bind/Execute/Sync in a fresh session:
    allowed lines are not refused by pgwarden (the server may refuse, e.g. a
    string of several statements cannot be prepared); denied lines get the
    TSV's message; the session then answers a simple Query (in UTF8). A fingerprint
    of the database every 20 lines and at the end."""
    lines = read_corpus()
    watch = DatabaseWatch(cluster, CORPUS_DB)
    failures = []
    try:
        before = watch.fingerprint()
        for i, c in enumerate(lines, 1):
            with via_pgwarden(corpus_agent, CORPUS_DB) as s:
                got = cycle(s, parse("", c.sql), bind("", ""), execute(), sync())
                # A line may leave a client_encoding in which masking refuses
                # every read (SET client_encoding = 'SJIS'): back to UTF8 first.
                cycle(s, query("SET client_encoding = 'UTF8'"))
                after = cycle(s, query("SELECT 1"))
            errors = [r for r in got if r[0] == "ErrorResponse"]
            problem = ""
            if c.action == "allow":
                if errors and errors[0][2].startswith("pgwarden"):
                    problem = f"refused by pgwarden: {errors[0]}"
            elif not errors:
                problem = f"ran: {got}"
            else:
                sqlstate, text = errors[0][1:]
                if c.expect not in text:
                    problem = f"{sqlstate} {text!r} does not name {c.expect!r}"
                elif sqlstate != "42601" and not (sqlstate == "42501" and text.startswith("pgwarden: ")
                                                  and text.endswith(f" for {POLICY_IDENTITY}")):
                    problem = f"{sqlstate} {text!r} is not pgwarden's policy message"
                elif shape(got) != [("ErrorResponse",), ("ReadyForQuery", "I")]:
                    problem = f"responses {got}"
            if ("DataRow", "1") not in after:
                problem += f" then SELECT 1 got {after}"
            if i % 20 == 0 or i == len(lines):
                now = watch.fingerprint()
                diff = fingerprint_diff(before, now)
                if diff:
                    problem += f" the database changed in lines up to here:\n{diff}"
                    before = now
            if problem:
                failures.append(f"{c.where()} [{c.action}] {problem}")
    finally:
        watch.close()
    assert not failures, f"{len(failures)} of {len(lines)} lines:\n" + "\n".join(failures)
