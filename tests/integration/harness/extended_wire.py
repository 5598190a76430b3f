"""Extended-query protocol messages, built by hand for what drivers never
send (portals fetched a few rows at a time and interleaved, statements
replaced under a bound portal, Execute without any Describe), and a reader
that collects every backend message up to ReadyForQuery."""

import struct

from .rawpg import message, parse_fields

SYNC = message(b"S")
FLUSH = message(b"H")


def _cstr(text):
    return text.encode() + b"\0"


def parse(name, sql, param_oids=()):
    return message(b"P", _cstr(name) + _cstr(sql) + struct.pack("!H", len(param_oids))
                   + b"".join(struct.pack("!I", oid) for oid in param_oids))


def bind(portal, statement, params=(), result_formats=()):
    """params: text-format values (bytes); result_formats: 0 text, 1 binary
    (none: all text; one: for every column; else one per column)."""
    body = _cstr(portal) + _cstr(statement) + struct.pack("!HH", 0, len(params))
    for value in params:
        body += struct.pack("!i", len(value)) + value
    body += struct.pack("!H", len(result_formats)) + b"".join(struct.pack("!H", f) for f in result_formats)
    return message(b"B", body)


def describe(kind, name):
    """kind: b"S" (statement) or b"P" (portal)."""
    return message(b"D", kind + _cstr(name))


def execute(portal, max_rows=0):
    return message(b"E", _cstr(portal) + struct.pack("!i", max_rows))


def close(kind, name):
    return message(b"C", kind + _cstr(name))


def exchange(session, messages):
    """Send the messages at once; [(kind, payload)] up to ReadyForQuery."""
    session.send(b"".join(messages))
    received = []
    while True:
        kind, payload = session.read_message()
        received.append((kind, payload))
        if kind == b"Z":
            return received


def data_rows(received):
    """The DataRow fields (bytes or None) in the order received."""
    rows = []
    for kind, payload in received:
        if kind != b"D":
            continue
        (count,) = struct.unpack("!H", payload[:2])
        pos, row = 2, []
        for _ in range(count):
            (length,) = struct.unpack("!i", payload[pos:pos + 4])
            pos += 4
            row.append(None if length < 0 else payload[pos:pos + length])
            pos += max(length, 0)
        rows.append(row)
    return rows


def errors(received):
    return [parse_fields(payload) for kind, payload in received if kind == b"E"]
