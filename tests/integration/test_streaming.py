"""COPY both ways, large results, bounded memory, and clients that vanish
mid-result."""

import hashlib
import secrets
import subprocess
import time

import pytest

from harness import client_env, psql
from harness.pgwarden import require_plain_binary
from harness.rawpg import Session, query

COPY_ROWS = 1_000_000
PEAK_RSS_LIMIT_KB = 64 * 1024
# ~1 KiB per row: 220,000 rows are a bit more than 200 MB on the wire.
BIG_ROWS = 220_000
BIG_SELECT = f"SELECT i, repeat(md5(i::text), 32) AS filler FROM generate_series(1, {BIG_ROWS}) i"


def copy_text_rows(n):
    """Deterministic COPY text-format data, already in the canonical form
    PostgreSQL writes back (escaped tabs and backslashes, \\N, bytea hex,
    numeric with its scale), so the round trip must be byte-identical."""
    parts = []
    for i in range(1, n + 1):
        v = (i * 7919) % 1_000_003
        note = "\\N" if i % 5 == 0 else f"nöte {i}"
        parts.append(f"{i}\trow {i} ünï\\tcode\\\\{i % 97}\t{v // 100}.{v % 100:02d}\t"
                     f"{'t' if i % 3 else 'f'}\t\\\\x{i:08x}\t{note}\n")
    return "".join(parts).encode()


@pytest.fixture(scope="module")
def copy_data():
    return copy_text_rows(COPY_ROWS)


CREATE_T = ("CREATE TABLE {t} (id int PRIMARY KEY, label text, amount numeric(12,2), "
            "flag bool, payload bytea, note text)")


def test_copy_round_trip_is_byte_identical(pgwarden, cluster, copy_data):
    table = "copy_rt_" + secrets.token_hex(4)
    args = pgwarden.psql_args()
    created = psql(args, "-c", CREATE_T.format(t=table))
    assert created.returncode == 0, created.stderr
    try:
        load = psql(args, "-v", "ON_ERROR_STOP=1", "-c", f"COPY {table} FROM STDIN",
                    input=copy_data, text=False, timeout=300)
        assert load.returncode == 0, load.stderr
        assert load.stdout.strip() == f"COPY {COPY_ROWS}".encode()

        dump = psql(args, "-v", "ON_ERROR_STOP=1",
                    "-c", f"COPY (SELECT * FROM {table} ORDER BY id) TO STDOUT",
                    text=False, timeout=300)
        assert dump.returncode == 0, dump.stderr
        assert len(dump.stdout) == len(copy_data)
        assert hashlib.sha256(dump.stdout).hexdigest() == hashlib.sha256(copy_data).hexdigest()

        # Binary COPY through pgwarden equals binary COPY straight from the server.
        sql = f"COPY (SELECT * FROM {table} ORDER BY id) TO STDOUT (FORMAT binary)"
        with pgwarden.connect() as via, cluster.connect_app() as direct:
            assert _copy_out_digest(via, sql) == _copy_out_digest(direct, sql)
    finally:
        cluster.execute_app(f"DROP TABLE IF EXISTS {table}")


def _copy_out_digest(conn, sql):
    digest, total = hashlib.sha256(), 0
    with conn.cursor() as cur, cur.copy(sql) as copy:
        for chunk in copy:
            digest.update(chunk)
            total += len(chunk)
    return total, digest.hexdigest()


def _expected_big_copy_bytes():
    return sum(len(str(i)) + 1 + 1024 + 1 for i in range(1, BIG_ROWS + 1))


def test_large_results_stream_in_bounded_memory(make_pgwarden):
    # Memory is measured on an uninstrumented engine (under scripts/test
    # --sanitize, the Release one; other tests stream big results under ASan).
    pgwarden = make_pgwarden(binary=require_plain_binary("peak RSS while streaming"))
    # 1. Row by row with psycopg (single-row mode, binary results).
    received = 0
    with pgwarden.connect() as conn, conn.cursor(binary=True) as cur:
        for i, filler in cur.stream(BIG_SELECT):
            received += len(filler) + 4
    assert received >= 200_000_000

    # 2. A slow reader: psql's COPY output sits unread for a while, so every
    # buffer in the path fills up; pgwarden must stop reading the server
    # rather than hold the rest of the result in memory.
    proc = subprocess.Popen(["psql", "-X", *pgwarden.psql_args(), "-c",
                             f"COPY ({BIG_SELECT}) TO STDOUT"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=client_env(),
                            stdin=subprocess.DEVNULL)
    time.sleep(3)
    rss_while_stalled = pgwarden.rss_kb()
    total = 0
    while chunk := proc.stdout.read(1 << 20):
        total += len(chunk)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert total == _expected_big_copy_bytes()

    peak = pgwarden.peak_rss_kb()
    print(f"pgwarden VmHWM after {received + total} bytes streamed: {peak} kB "
          f"(VmRSS while the reader stalled: {rss_while_stalled} kB)")
    assert peak < PEAK_RSS_LIMIT_KB


@pytest.mark.parametrize("stall", [False, True], ids=["reading", "stalled"])
def test_client_killed_mid_result_leaves_no_backend(pgwarden, cluster, stall):
    app = "pgw-disconnect-" + secrets.token_hex(4)
    # generate_series in the target list streams; in FROM it would first
    # materialise all its rows.
    endless = ("COPY (SELECT i, repeat('y', 1000) FROM "
               "(SELECT generate_series(1, 1000000000) AS i) s) TO STDOUT")
    proc = subprocess.Popen(["psql", "-X", *pgwarden.psql_args(), "-c", endless],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=client_env({"PGAPPNAME": app}), stdin=subprocess.DEVNULL)
    try:
        got = 0
        while got < 10 << 20:
            chunk = proc.stdout.read(1 << 16)
            assert chunk, f"the result stopped before 10 MB: {proc.stderr.read()}"
            got += len(chunk)
        assert cluster.backend_count(application_name=app) == 1
        if stall:
            time.sleep(1)  # buffers fill; pgwarden is blocked writing to the client
    finally:
        proc.kill()
        proc.wait()
    left = cluster.wait_backends(0, timeout=5, application_name=app)
    assert left == 0, f"{left} upstream backend(s) still there 5 s after the client died"


def test_driver_abandoning_a_stream_cancels_and_stays_usable(pgwarden, cluster):
    """Leaving cursor.stream() early makes psycopg cancel the query and drain
    what was already sent; the session must come back usable, and closing it
    must end its backend."""
    app = "pgw-abandon-" + secrets.token_hex(4)
    with pgwarden.connect(application_name=app, autocommit=True) as conn:
        rows = 0
        with conn.cursor() as cur:
            for _row in cur.stream("SELECT generate_series(1, 100000000), repeat('z', 500)"):
                rows += 1
                if rows == 50_000:
                    assert cluster.backend_count(application_name=app) == 1
                    break
        assert conn.execute("SELECT 41 + 1").fetchone()[0] == 42
    assert cluster.wait_backends(0, timeout=5, application_name=app) == 0


def test_client_gone_while_statement_runs_closes_the_session(pgwarden):
    """A client that vanishes while the server is busy (no bytes flowing)
    must not leave its session and upstream socket open in pgwarden."""
    with pgwarden.connect() as warm:
        warm.execute("SELECT 1")
    time.sleep(0.2)
    baseline = pgwarden.fd_count()
    session = Session(pgwarden.host, pgwarden.port)
    session.send(query("SELECT pg_sleep(4)"))
    time.sleep(0.3)
    assert pgwarden.fd_count() >= baseline + 2  # client and upstream sockets
    session.close()
    deadline = time.monotonic() + 1.5
    while pgwarden.fd_count() > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pgwarden.fd_count() <= baseline, \
        "pgwarden keeps the session of a departed client until the server speaks again"
