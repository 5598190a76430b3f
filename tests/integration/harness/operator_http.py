"""HTTP for the operator tests: pgwarden's admin socket (unix), console and
metrics listeners (TCP), raw bytes to either, a webhook receiver, and
Prometheus text read into numbers.

    reply = unix_request(pw.config["admin_socket"], "GET", "/v1/status")
    reply = tcp_request("127.0.0.1:9187", "POST", "/v1/approvals/n1-1/deny",
                        {"reason": "no"}, headers={"Authorization": "Bearer " + token})
    raw = raw_exchange(unix_connector(path), b"GARBAGE\\r\\n\\r\\n")
    with WebhookReceiver(fail_first=3) as hook: ...   # hook.url, hook.wait_for(2)
    m = parse_metrics(text); m.value("pgwarden_decisions_total", decision="allow")
"""

import http.client
import json
import re
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .system import free_port


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-cased names
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Reply({self.status}, {self.body[:300]!r})"


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket (Host: localhost, as curl sends)."""

    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.unix_path)
        except OSError:
            s.close()
            raise
        self.sock = s


def _exchange(conn, method, path, body=None, headers=None):
    headers = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode()
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def unix_request(sock_path, method, path, body=None, headers=None, timeout=10):
    """One request to the admin socket. body: bytes/str as is, else JSON."""
    return _exchange(UnixHTTPConnection(sock_path, timeout), method, path, body, headers)


def tcp_request(address, method, path, body=None, headers=None, timeout=10):
    """One request to a TCP listener given as "host:port"."""
    host, port = address.rsplit(":", 1)
    return _exchange(http.client.HTTPConnection(host, int(port), timeout=timeout), method, path, body, headers)


def unix_connector(path):
    def connect(timeout):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(path)
        return s
    return connect


def tcp_connector(address):
    host, port = address.rsplit(":", 1)
    return lambda timeout: socket.create_connection((host, int(port)), timeout=timeout)


def raw_exchange(connect, data, timeout=5.0):
    """Sends raw bytes and reads until the server closes (or timeout): what
    came back, possibly b"" when the server only closed."""
    s = connect(timeout)
    out = b""
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking it all: read the answer
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    return out


def raw_status(raw):
    """The status code of a raw HTTP answer, or None when there is none."""
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", raw)
    return int(m.group(1)) if m else None


def curl_unix(sock_path, path, method="GET", data=None, timeout=10):
    """curl --unix-socket: (status, body) of one request."""
    argv = ["curl", "-sS", "--max-time", str(timeout), "--unix-socket", sock_path, "-X", method,
            "-o", "-", "-w", "\n%{http_code}", f"http://localhost{path}"]
    if data is not None:
        argv += ["-H", "Content-Type: application/json", "--data-binary", data]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 5)
    if r.returncode != 0:
        raise AssertionError(f"curl failed ({r.returncode}): {r.stderr}")
    body, _, code = r.stdout.rpartition("\n")
    return int(code), body


def have_curl():
    return shutil.which("curl") is not None


# ---- Prometheus text --------------------------------------------------------------------

_SAMPLE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Metrics:
    def __init__(self, samples, text):
        self.samples = samples  # {(name, ((label, value), ...)): float}
        self.text = text

    def value(self, name, **labels):
        """The sample with exactly these labels (KeyError if absent)."""
        key = (name, tuple(sorted(labels.items())))
        if key not in self.samples:
            raise KeyError(f"no sample {name}{labels} in /metrics:\n{self.text}")
        return self.samples[key]

    def get(self, name, default=0.0, **labels):
        return self.samples.get((name, tuple(sorted(labels.items()))), default)


def _unescape(value):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def parse_metrics(text):
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise AssertionError(f"not a Prometheus sample line: {line!r}")
        name, labels, value = m.groups()
        pairs = tuple(sorted((k, _unescape(v)) for k, v in _LABEL.findall(labels or "")))
        samples[(name, pairs)] = float(value)
    return Metrics(samples, text)


# ---- a webhook receiver -------------------------------------------------------------------

class WebhookReceiver:
    """A local HTTP server taking pgwarden's approval.notify POSTs.

    port: where to listen (default: a free one; a port chosen earlier when
    the receiver starts later than pgwarden first tries it). fail_first: the
    first N POSTs are answered fail_status (the payload is not taken).
    `payloads` are the JSON bodies answered 2xx, in order; `attempts` every
    POST with the status it got."""

    def __init__(self, port=None, fail_first=0, fail_status=500):
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.payloads = []
        self.attempts = []
        self.cond = threading.Condition()
        self.server = None
        self.thread = None

    @property
    def url(self):
        return f"http://{self.host}:{self.port}/hooks/pgwarden"

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with receiver.cond:
                    failing = len(receiver.attempts) < receiver.fail_first
                    status = receiver.fail_status if failing else 200
                    receiver.attempts.append((status, self.path, self.headers.get("Content-Type"), body))
                    if not failing:
                        receiver.payloads.append(json.loads(body))
                    receiver.cond.notify_all()
                answer = b'{"ok": false}' if failing else b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def wait_for(self, count, timeout=15.0):
        """The first `count` accepted payloads once they are in."""
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.payloads) >= count, timeout):
                raise AssertionError(f"webhook: expected {count} payload(s) within {timeout}s, got "
                                     f"{len(self.payloads)}: {[p.get('event') for p in self.payloads]} "
                                     f"after {len(self.attempts)} attempt(s)")
            return list(self.payloads[:count])
