"""A minimal PostgreSQL frontend on a raw socket.

libpq hides what the tests must check at startup (the SQLSTATE of a FATAL
during connection) and refuses to send malformed bytes, so these tests speak
the protocol by hand: build messages, send arbitrary bytes, read and decode
the backend's answer."""

import socket
import struct
import time

PROTOCOL_3_0 = 196608
SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102


def startup_message(user, database="app", protocol=PROTOCOL_3_0, **params):
    body = struct.pack("!I", protocol)
    for key, value in {"user": user, "database": database, **params}.items():
        body += key.encode() + b"\0" + str(value).encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def ssl_request():
    return struct.pack("!II", 8, SSL_REQUEST_CODE)


def gssenc_request():
    return struct.pack("!II", 8, GSSENC_REQUEST_CODE)


def message(kind, payload=b""):
    return kind + struct.pack("!I", len(payload) + 4) + payload


def query(sql):
    return message(b"Q", sql.encode() + b"\0")


def terminate():
    return message(b"X")


def parse_fields(payload):
    """ErrorResponse/NoticeResponse body -> {'S': 'FATAL', 'C': '28P01', 'M': ...}."""
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode(errors="replace")
    return fields


class RawConnection:
    def __init__(self, host, port, timeout=5.0):
        family = socket.AF_UNIX if host.startswith("/") else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(host if family == socket.AF_UNIX else (host, port))
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed by peer")
            self.buf += chunk

    def read_byte(self):
        self._fill(1)
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def read_message(self):
        """(kind, payload) of the next backend message; EOFError at close."""
        self._fill(5)
        kind = self.buf[:1]
        (length,) = struct.unpack("!I", self.buf[1:5])
        self._fill(1 + length)
        payload = self.buf[5:1 + length]
        self.buf = self.buf[1 + length:]
        return kind, payload

    def read_until(self, kinds, limit=1000):
        """Read messages until one whose kind is in kinds; returns all read."""
        seen = []
        for _ in range(limit):
            kind, payload = self.read_message()
            seen.append((kind, payload))
            if kind in kinds:
                return seen
        raise AssertionError(f"no {kinds} within {limit} messages")

    def closed_within(self, seconds):
        """True when the peer closes (EOF or reset) within seconds; any bytes
        it sends first (such as an ErrorResponse) are kept in self.buf."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False

    def buffered_errors(self):
        """ErrorResponse fields among the complete messages in self.buf."""
        errors, data = [], self.buf
        while len(data) >= 5:
            (length,) = struct.unpack("!I", data[1:5])
            if len(data) < 1 + length:
                break
            if data[:1] == b"E":
                errors.append(parse_fields(data[5:1 + length]))
            data = data[1 + length:]
        return errors


class Session(RawConnection):
    """A raw connection that completed startup (no password) and can run
    simple queries; `status` holds the ParameterStatus values received."""

    def __init__(self, host, port, user="alice", database="app", timeout=5.0, **params):
        super().__init__(host, port, timeout)
        self.send(startup_message(user, database, **params))
        self.status = {}
        self.backend_key = None
        while True:
            kind, payload = self.read_message()
            if kind == b"E":
                self.close()
                raise StartupError(parse_fields(payload))
            if kind == b"S":
                key, value = payload.split(b"\0")[:2]
                self.status[key.decode()] = value.decode()
            elif kind == b"K":
                self.backend_key = payload
            elif kind == b"Z":
                return

    def simple_query(self, sql):
        """Rows (lists of text or None) and the ErrorResponse fields, if any."""
        self.send(query(sql))
        rows, error = [], None
        while True:
            kind, payload = self.read_message()
            if kind == b"D":
                (n,) = struct.unpack("!H", payload[:2])
                pos, row = 2, []
                for _ in range(n):
                    (length,) = struct.unpack("!i", payload[pos:pos + 4])
                    pos += 4
                    if length < 0:
                        row.append(None)
                    else:
                        row.append(payload[pos:pos + length].decode())
                        pos += length
                rows.append(row)
            elif kind == b"E":
                error = parse_fields(payload)
            elif kind == b"Z":
                return rows, error


class StartupError(Exception):
    def __init__(self, fields):
        super().__init__(fields.get("M", repr(fields)))
        self.fields = fields


def try_startup(host, port, user="alice", database="app", timeout=5.0, **params):
    """Send a StartupMessage without any password. Returns ('ready', params)
    when the session reached ReadyForQuery, ('error', fields) for an
    ErrorResponse, or ('auth', code) when the server asks for a password."""
    with RawConnection(host, port, timeout) as conn:
        conn.send(startup_message(user, database, **params))
        status = {}
        while True:
            kind, payload = conn.read_message()
            if kind == b"E":
                return "error", parse_fields(payload)
            if kind == b"R":
                (code,) = struct.unpack("!I", payload[:4])
                if code != 0:
                    return "auth", code
            elif kind == b"S":
                key, value = payload.split(b"\0")[:2]
                status[key.decode()] = value.decode()
            elif kind == b"Z":
                conn.send(terminate())
                return "ready", status
