"""A small Kubernetes API server for the pod-identity tests: HTTPS with a
certificate from a test CA (made with openssl here), a bearer token checked on
every request, and GET /api/v1/pods answered in the real shapes:

- a list: a v1 PodList (`metadata.resourceVersion`, `items`), paged with
  `limit` / `continue` as the real server does;
- a watch (`watch=1`): HTTP 200 with chunked newline-delimited JSON events
  `{"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": ...}`, every
  event after the requested resourceVersion, then new ones as the test makes
  them, until `timeoutSeconds`;
- a resourceVersion older than what the server keeps ("compacted"): a watch
  answers with an ERROR event holding a Status of code 410 (Gone), as etcd
  compaction makes the real one do;
- a wrong or missing token: 401 with a Status.

Only pods whose spec.nodeName equals the fieldSelector's node are returned,
and every request is kept in `requests` so a test can check what pgwarden
asked for. The test changes pods with add_pod / modify_pod / delete_pod
(each emits the event) and can stop() the server (open watches end, new
connects are refused) and start() it again on the same port.
"""

import copy
import json
import os
import secrets
import socket
import ssl
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def make_tls_files(directory):
    """A test CA and a server certificate for 127.0.0.1 it signed.
    Returns (ca_cert, server_cert, server_key) paths."""
    ca_key, ca_cert = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.crt")
    key, csr, cert = (os.path.join(directory, n) for n in ("server.key", "server.csr", "server.crt"))
    ext = os.path.join(directory, "server.ext")

    def run(*argv):
        subprocess.run(["openssl", *argv], check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", ca_key, "-out", ca_cert, "-days", "2", "-subj", "/CN=pgwarden test kubernetes CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=kube-apiserver")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc\n"
                "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext)
    return ca_cert, cert, key


def pod_uid():
    return str(uuid.uuid4())


def container_id():
    return secrets.token_hex(32)


def pod_object(name, namespace, uid, node, service_account="default", labels=None,
               container="0" * 64, runtime="containerd"):
    """A v1 Pod as the API server returns it (the fields that matter here
    and the usual neighbours)."""
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "resourceVersion": "0",
            "creationTimestamp": "2026-12-06T23:00:00Z",
            "labels": dict(labels or {}),
            "annotations": {"kubernetes.io/config.seen": "2026-12-06T23:00:00Z"},
            "ownerReferences": [],
        },
        "spec": {
            "nodeName": node,
            "serviceAccountName": service_account,
            "serviceAccount": service_account,
            "containers": [{"name": "app", "image": "debian:12", "resources": {}}],
            "restartPolicy": "Always",
        },
        "status": {
            "phase": "Running",
            "podIP": "10.244.0.17",
            "containerStatuses": [{"name": "app", "ready": True,
                                   "containerID": f"{runtime}://{container}"}],
        },
    }


def status_object(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class FakeKubeApi:
    def __init__(self, directory, node="node-a"):
        self.node = node
        self.token = secrets.token_urlsafe(32)
        self.token_file = os.path.join(directory, "token")
        with open(self.token_file, "w") as f:
            f.write(self.token + "\n")
        os.chmod(self.token_file, 0o600)
        self.ca_file, self._cert, self._key = make_tls_files(directory)
        self.port = None
        self.requests = []          # (path, query dict, authorized)
        self._cond = threading.Condition()
        self._pods = {}             # uid -> pod object
        self._events = []           # (rv, type, object)
        self._rv = 100
        self._oldest_rv = 100       # watches from before this get 410
        self._server = None
        self._thread = None
        self._stopping = False

    # ---- what the test changes --------------------------------------

    def _emit(self, kind, pod):
        self._rv += 1
        pod["metadata"]["resourceVersion"] = str(self._rv)
        self._events.append((self._rv, kind, copy.deepcopy(pod)))
        self._cond.notify_all()

    def add_pod(self, pod):
        with self._cond:
            self._pods[pod["metadata"]["uid"]] = pod
            self._emit("ADDED", pod)
        return pod

    def modify_pod(self, uid, labels=None, silently=False):
        """New labels; silently: no event (only a new list shows it)."""
        with self._cond:
            pod = self._pods[uid]
            if labels is not None:
                pod["metadata"]["labels"] = dict(labels)
            if silently:
                self._rv += 1
                pod["metadata"]["resourceVersion"] = str(self._rv)
            else:
                self._emit("MODIFIED", pod)

    def delete_pod(self, uid):
        with self._cond:
            pod = self._pods.pop(uid)
            self._emit("DELETED", pod)

    def compact(self):
        """Forget every event so far: a watch resuming from an older
        resourceVersion gets 410 Gone, and open watches are told so."""
        with self._cond:
            self._rv += 1
            self._oldest_rv = self._rv
            self._events.clear()
            self._cond.notify_all()

    def requests_with(self, key, value=None):
        with self._cond:
            return [r for r in self.requests
                    if key in r[1] and (value is None or r[1][key] == value)]

    # ---- serving ----------------------------------------------------

    def url(self):
        return f"https://127.0.0.1:{self.port}"

    def start(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send_json(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802 - http.server's name
                url = urlparse(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                authorized = self.headers.get("Authorization") == f"Bearer {api.token}"
                with api._cond:
                    api.requests.append((url.path, query, authorized))
                if not authorized:
                    self.send_json(401, status_object(401, "Unauthorized", "Unauthorized"))
                    return
                if url.path != "/api/v1/pods":
                    self.send_json(404, status_object(404, "NotFound", "the server could not find "
                                                      "the requested resource"))
                    return
                node = None
                selector = query.get("fieldSelector", "")
                if selector.startswith("spec.nodeName="):
                    node = selector.split("=", 1)[1]
                if query.get("watch") in ("1", "true"):
                    self.watch(node, query)
                else:
                    self.list(node, query)

            def pods_on(self, node):
                return [copy.deepcopy(p) for p in api._pods.values()
                        if node is None or p["spec"]["nodeName"] == node]

            def list(self, node, query):
                with api._cond:
                    items = sorted(self.pods_on(node), key=lambda p: p["metadata"]["uid"])
                    rv = str(api._rv)
                start = int(query.get("continue") or 0)
                limit = int(query.get("limit") or 0) or len(items) or 1
                page = items[start:start + limit]
                meta = {"resourceVersion": rv}
                if start + limit < len(items):
                    meta["continue"] = str(start + limit)
                self.send_json(200, {"kind": "PodList", "apiVersion": "v1", "metadata": meta,
                                     "items": page})

            def chunk(self, obj):
                data = (json.dumps(obj) + "\n").encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def watch(self, node, query):
                since = int(query.get("resourceVersion") or 0)
                deadline = time.monotonic() + min(int(query.get("timeoutSeconds") or 300), 300)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                bookmark_at = time.monotonic() + 1
                try:
                    while True:
                        with api._cond:
                            gone = since < api._oldest_rv
                            pending = [] if gone else [
                                (rv, kind, obj) for rv, kind, obj in api._events
                                if rv > since and (node is None or obj["spec"]["nodeName"] == node)]
                            stopping = api._stopping
                            if not pending and not gone and not stopping:
                                api._cond.wait(timeout=0.2)
                        if gone:
                            self.chunk({"type": "ERROR", "object": status_object(
                                410, "Expired", f"too old resource version: {since} "
                                f"({api._oldest_rv})")})
                            break
                        for rv, kind, obj in pending:
                            self.chunk({"type": kind, "object": obj})
                            since = max(since, rv)
                        if stopping or time.monotonic() > deadline:
                            break
                        if query.get("allowWatchBookmarks") == "true" and \
                                time.monotonic() > bookmark_at:
                            # The last version sent: a newer one could pass
                            # over an event that is not sent yet.
                            self.chunk({"type": "BOOKMARK", "object": {
                                "kind": "Pod", "apiVersion": "v1",
                                "metadata": {"resourceVersion": str(since)}}})
                            bookmark_at = time.monotonic() + 1
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass
                self.close_connection = True

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self._cert, self._key)
        with self._cond:
            self._stopping = False
        self._server = Server(("127.0.0.1", self.port or 0), Handler)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Open watches end, new connects are refused."""
        if self._server is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._server = None
        time.sleep(0.3)  # the handler threads finish their last chunk

    def kubernetes_config(self, **extra):
        return {"api_server": self.url(), "token_file": self.token_file, "ca_file": self.ca_file,
                "node_name": self.node, **extra}


def port_is_closed(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0
