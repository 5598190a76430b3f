"""`pgwarden sessions verify` on session recordings, as an operator runs it:
keys made by `openssl genpkey`, files written by the sample writer (the
library the engine uses, tests/unit/audit/recording_sample_writer), then
checked good, edited, cut, and with the wrong key. The file is also read here
by following docs/recording-format.md alone (records, hash chain, and a
signature checked with `openssl pkeyutl`), so the document stays true.

Needs only the built binaries and openssl: no PostgreSQL, no daemon.
"""

import hashlib
import json
import os
import struct
import subprocess
from pathlib import Path

import pytest

from harness.pgwarden import binary_path

OK, BAD, USAGE = 0, 1, 2
CHAIN = "hash chain broken (edited, deleted, reordered or inserted record)"


def sample_writer():
    """The writer from the build tree of the pgwarden under test (build/, or
    build-sanitize/ under scripts/test --sanitize), so the file is written by
    the same library build the verifier reads with."""
    build_dir = Path(binary_path()).resolve().parent
    path = os.environ.get("PGWARDEN_RECORDING_SAMPLE_WRITER",
                          str(build_dir / "tests" / "unit" / "audit" / "recording_sample_writer"))
    assert os.access(path, os.X_OK), \
        f"{path} is not built (cmake --build {build_dir} --target recording_sample_writer)"
    return path


def run(*args):
    return subprocess.run([*args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def verify(*args):
    return run(binary_path(), "sessions", "verify", *args)


def make_key(directory, name):
    key, pub = str(directory / f"{name}.key"), str(directory / f"{name}.pub")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key], check=True, capture_output=True)
    os.chmod(key, 0o600)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True, capture_output=True)
    return key, pub


def write_sample(key, directory, session, *flags):
    result = run(sample_writer(), "--key", key, "--dir", str(directory), "--session", session, *flags)
    assert result.returncode == 0, result
    return result.stdout.strip()


# The format, from docs/recording-format.md.
MAGIC = b"PGWREC 1\n"
BLOCK = struct.Struct("<4sB3xQIII")  # magic, flags, first record, record count, stored, raw
RECORD = struct.Struct("<BQI")       # type, monotonic ns, payload length


def parse(data):
    """(file id, blocks, records) of an uncompressed recording, checking the
    hash chain as the document describes it. A block: (offset, flags,
    records so far, chain head, signature); a record: (index, offset, size)."""
    assert data[:len(MAGIC)] == MAGIC
    file_id = data[9:41]
    head, off, blocks, records = file_id, 41, [], []
    while off < len(data):
        magic, flags, first, count, stored, raw = BLOCK.unpack_from(data, off)
        assert magic == b"PGWB" and flags & 1 == 0 and stored == raw and first == len(records)
        p = off + BLOCK.size
        for i in range(count):
            rtype, _, length = RECORD.unpack_from(data, p)
            end = p + RECORD.size + length
            assert hashlib.sha256(head + data[p:end]).digest() == data[end:end + 32], f"record {first + i}"
            head = data[end:end + 32]
            records.append((first + i, p, end + 32 - p))
            p = end + 32
        assert p == off + BLOCK.size + stored
        blocks.append((off, flags, len(records), head, data[p:p + 64]))
        off = p + 64
    return file_id, blocks, records


@pytest.fixture
def setup(tmp_path):
    key, pub = make_key(tmp_path, "recording")
    _, other_pub = make_key(tmp_path, "other")
    d = tmp_path / "recordings"
    d.mkdir()
    return tmp_path, key, pub, other_pub, d


def test_good_recordings_verify(setup):
    _, key, pub, _, d = setup
    compressed = write_sample(key, d, "1")
    plain = write_sample(key, d, "2", "--no-compress")
    result = verify("--dir", str(d), "--public-key", pub)
    assert result.returncode == OK, result
    assert result.stdout.splitlines() == [f"ok  101 records  {compressed}", f"ok  101 records  {plain}"]
    # By session id, and by file name.
    result = verify("2", "--dir", str(d), "--public-key", pub)
    assert (result.returncode, result.stdout) == (OK, f"ok  101 records  {plain}\n"), result
    result = verify(compressed, "--public-key", pub, "-j")
    assert result.returncode == OK, result
    [report] = json.loads(result.stdout)
    assert report["status"] == "ok" and report["records"] == 101 and report["session_id"] == "1"
    assert report["closed"] is True and "problem" not in report


def test_the_document_describes_the_file(setup):
    """Records, chain and signatures as docs/recording-format.md says, the
    signature checked by openssl, not by pgwarden."""
    tmp, key, pub, _, d = setup
    path = write_sample(key, d, "3", "--no-compress")
    data = open(path, "rb").read()
    file_id, blocks, records = parse(data)
    assert len(records) == 101 and blocks[-1][1] == 2  # the last block is the close
    header = json.loads(data[records[0][1] + 13:records[0][1] + records[0][2] - 32])
    assert header["session_id"] == "3" and header["recording_format"] == 1
    for off, flags, count, head, signature in (blocks[0], blocks[-1]):
        kind = b"\x02" if flags & 2 else b"\x01"
        message = b"pgwarden recording v1 signature" + kind + file_id + struct.pack("<Q", count) + head
        (tmp / "msg").write_bytes(message)
        (tmp / "sig").write_bytes(signature)
        checked = run("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin",
                      "-in", str(tmp / "msg"), "-sigfile", str(tmp / "sig"))
        assert checked.returncode == 0 and "Signature Verified Successfully" in checked.stdout, checked
    # The fingerprint the header names: SHA-256 of the raw public key.
    raw = subprocess.run(["openssl", "pkey", "-pubin", "-in", pub, "-outform", "DER"],
                         capture_output=True, check=True).stdout[-32:]
    assert header["key_fingerprint"] == "sha256:" + hashlib.sha256(raw).hexdigest()


def edited(data, tmp, name):
    out = tmp / name
    out.write_bytes(data)
    return str(out)


def test_tampered_files_name_the_first_bad_record(setup):
    tmp, key, pub, _, d = setup
    path = write_sample(key, d, "4", "--no-compress")
    data = open(path, "rb").read()
    _, _, records = parse(data)
    r = {i: (off, size) for i, off, size in records}

    b = bytearray(data)
    b[r[57][0] + 15] ^= 0x20  # a payload byte
    payload = edited(bytes(b), tmp, "payload.pgwrec")
    deleted = edited(data[:r[30][0]] + data[r[30][0] + r[30][1]:], tmp, "deleted.pgwrec")
    (o20, s20), (o21, s21) = r[20], r[21]
    swapped = edited(data[:o20] + data[o21:o21 + s21] + data[o20:o20 + s20] + data[o21 + s21:], tmp,
                     "swapped.pgwrec")
    inserted = edited(data[:r[40][0]] + data[r[5][0]:r[5][0] + r[5][1]] + data[r[40][0]:], tmp,
                      "inserted.pgwrec")
    cut = edited(data[:r[80][0] + 4], tmp, "cut.pgwrec")
    # Block boundaries of the sample: 0 | 1..37 | 38..74 | 75..99 | 100 | 101 | ...
    expected = {
        payload: f"record 57: {CHAIN}",
        deleted: f"record 30: {CHAIN}",
        swapped: f"record 20: {CHAIN}",
        inserted: f"record 40: {CHAIN}",
        cut: "file ends inside a block after record 79 without a close signature: truncated "
             "(records up to 74 are signed, the 5 after them are not)",
    }
    result = verify(*expected, "--public-key", pub)
    assert result.returncode == BAD, result
    assert result.stdout.splitlines() == [f"BAD  {f}: {problem}" for f, problem in expected.items()]

    result = verify(payload, "--public-key", pub, "-j")
    [report] = json.loads(result.stdout)
    assert report["status"] == "bad" and report["first_bad_record"] == {"index": 57, "offset": r[57][0]}
    assert report["records"] == 38 and report["last_good_record"] == 37


def test_wrong_key_and_a_mixed_directory(setup):
    _, key, pub, other_pub, d = setup
    good = write_sample(key, d, "5")
    unclosed = write_sample(key, d, "6", "--no-close")
    result = verify(good, "--public-key", other_pub)
    assert result.returncode == BAD, result
    assert result.stdout.startswith(f"BAD  {good}: signature at record 0 does not verify with this public key "
                                    "(the header names key sha256:"), result.stdout
    result = verify("--dir", str(d), "--public-key", pub)
    assert result.returncode == BAD, result
    assert result.stdout.splitlines() == [
        f"ok  101 records  {good}",
        f"BAD  {unclosed}: file ends after record 100 without a close signature: truncated, or the writer "
        "stopped (records up to 100 are signed)"]
    result = verify("7", "--dir", str(d), "--public-key", pub)
    assert (result.returncode, result.stdout) == (BAD, f"BAD  7: no recording of session 7 in {d}\n"), result


def test_usage_errors_and_key_files(setup):
    tmp, key, pub, _, d = setup
    for args in (["--dir", str(d)], ["--public-key", pub], ["--dir", str(tmp / "none"), "--public-key", pub],
                 ["--dir", str(d), "--public-key", key]):
        result = verify(*args)
        assert result.returncode == USAGE and result.stdout == "", (args, result)
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("pgwarden sessions verify: ")
    assert verify("--dir", str(d), "--public-key", pub).stdout == f"no recordings in {d}\n"
    # The writer refuses a signing key others may read.
    os.chmod(key, 0o644)
    result = run(sample_writer(), "--key", key, "--dir", str(d), "--session", "8")
    assert result.returncode == 1 and "is accessible to others (mode 0644): chmod 600 it" in result.stderr, result
