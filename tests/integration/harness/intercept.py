"""Helpers for the transparent-interception tests (eBPF redirect).

What the tests need around a pgwarden that intercepts:
- whether this host can run them at all (root, BTF, cgroup v2, bpffs), and
  the skip-or-fail rule (`PGWARDEN_REQUIRE_BPF=1` turns a skip into a failure);
- cgroups of the test's own under the cgroup2 mount (found in /proc/mounts:
  hybrid hosts mount it at /sys/fs/cgroup/unified), and a way to start a
  client inside one, optionally as another uid and in a network namespace;
- a network namespace with a veth pair addressed in 169.254.0.0/16, for the
  "pod with its own loopback" case;
- bpftool readings, to see what pgwarden left in the kernel;
- the small client (`python3 intercept.py client ...`) that runs inside the
  test cgroup: raw sockets, getpeername(), a minimal PostgreSQL startup.

Everything made here is registered with the harness cleanup registry, so an
interrupted run still detaches and removes it; names carry the owning test
process's pid so the next run sweeps what a killed run left behind.

Run as a script, this file is only the client, and imports nothing but the
standard library (it may run as another uid, in another netns).
"""

import json
import os
import socket
import struct
import sys
import threading
import time

if __package__:  # imported as harness.intercept (the client needs none of this)
    import secrets
    import shutil
    import signal
    import subprocess
    import tempfile

    from . import cleanup
    from .pgwarden import binary_path
    from .system import pid_alive

NAME_PREFIX = "pgwtest-"
BPFFS_MOUNT = "/sys/fs/bpf"
VMLINUX_BTF = "/sys/kernel/btf/vmlinux"
REQUIRE_ENV = "PGWARDEN_REQUIRE_BPF"

_counter = 0
_counter_lock = threading.Lock()


def unique_name(kind=""):
    """pgwtest-<pid>-<kind><n>-<random>: unique per run, sweepable by pid."""
    global _counter
    with _counter_lock:
        _counter += 1
        n = _counter
    return f"{NAME_PREFIX}{os.getpid()}-{kind}{n}-{secrets.token_hex(3)}"


def _owner_pid(name):
    """The pid a unique_name() carries, or None for foreign names."""
    if not name.startswith(NAME_PREFIX):
        return None
    try:
        return int(name[len(NAME_PREFIX):].split("-", 1)[0])
    except ValueError:
        return None


def _run(argv, check=True, timeout=30):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): "
                           f"{result.stderr.strip() or result.stdout.strip()}")
    return result


# ---- can this host run the tests ----------------------------------------

def cgroup2_mount():
    """Mount point of the cgroup v2 hierarchy, from /proc/mounts (None if absent)."""
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3 and fields[2] == "cgroup2":
                return fields[1].replace("\\040", " ")
    return None


def _is_bpffs(path):
    with open("/proc/mounts") as f:
        return any(line.split()[1] == path and line.split()[2] == "bpf" for line in f)


def bpf_unavailable_reason():
    """Why eBPF interception cannot be tested here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (CAP_BPF, CAP_NET_ADMIN, cgroup writes)"
    if not os.path.exists(VMLINUX_BTF):
        return f"kernel has no BTF ({VMLINUX_BTF} missing): the CO-RE programs cannot load"
    if cgroup2_mount() is None:
        return "no cgroup v2 hierarchy mounted (see /proc/mounts)"
    if not _is_bpffs(BPFFS_MOUNT):
        os.makedirs(BPFFS_MOUNT, exist_ok=True)
        mounted = _run(["mount", "-t", "bpf", "bpf", BPFFS_MOUNT], check=False)
        if mounted.returncode != 0:
            return f"bpffs is not mountable at {BPFFS_MOUNT}: {mounted.stderr.strip()}"
    if shutil.which("bpftool") is None:
        return "bpftool is not installed (the tests read the kernel's state with it)"
    return None


# Read at import (test collection): conftest's session fixture later drops
# every PG* variable from the environment, this one included.
_REQUIRED_AT_IMPORT = os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def bpf_required():
    return _REQUIRED_AT_IMPORT or os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def skip_or_fail(reason):
    """Skip the test, unless PGWARDEN_REQUIRE_BPF=1 says it must run."""
    import pytest
    if bpf_required():
        pytest.fail(f"{REQUIRE_ENV}=1 but: {reason}", pytrace=False)
    pytest.skip(reason)


# ---- cgroups ------------------------------------------------------------

class TestCgroup:
    """A cgroup v2 directory the test created: `path` as /proc/PID/cgroup shows
    it ("/pgwtest-123-cg1-abcdef"), `fs_path` on the mounted hierarchy.
    Children are made with child(); remove() removes the whole subtree."""

    __test__ = False  # not a pytest test class

    def __init__(self, path, mount, parent=None):
        self.path = path
        self.mount = mount
        self.fs_path = mount + path
        self.parent = parent
        self.children = []
        os.mkdir(self.fs_path)
        self._token = cleanup.register(self.remove) if parent is None else None

    @classmethod
    def create(cls):
        mount = cgroup2_mount()
        if mount is None:
            raise RuntimeError("no cgroup2 mount")
        sweep_stale()
        return cls("/" + unique_name("cg"), mount)

    def child(self, name):
        cg = TestCgroup(f"{self.path}/{name}", self.mount, parent=self)
        self.children.append(cg)
        return cg

    def argv(self, argv):
        """argv started inside this cgroup: the shell moves itself in, then
        execs, so the command and everything it forks belong to the cgroup."""
        return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', self.fs_path, *argv]

    def remove(self):
        """Kill what is left inside, move it out, rmdir (children first).
        Idempotent; retries while the kernel finishes tearing processes down."""
        for cg in self.children:
            cg.remove()
        _remove_cgroup_dir(self.fs_path, self.mount)
        if self._token is not None:
            cleanup.unregister(self._token)
            self._token = None


def _remove_cgroup_dir(fs_path, mount):
    if not os.path.isdir(fs_path):
        return
    # Children first (a sweep finds trees it did not build).
    for entry in os.scandir(fs_path):
        if entry.is_dir(follow_symlinks=False):
            _remove_cgroup_dir(entry.path, mount)
    deadline = time.monotonic() + 5
    while True:
        try:
            with open(os.path.join(fs_path, "cgroup.procs")) as f:
                pids = [int(line) for line in f if line.strip()]
        except FileNotFoundError:
            return
        for pid in pids:
            # Test clients only ever live here; out of the cgroup first so a
            # process stuck in exit cannot keep the directory busy.
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                with open(os.path.join(mount, "cgroup.procs"), "w") as f:
                    f.write(str(pid))
            except OSError:
                pass
        try:
            os.rmdir(fs_path)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def as_user(uid, gid, argv):
    """argv run with another uid/gid (setpriv execs in place: comm stays the
    program's own, and the process stays in the cgroup it was put in)."""
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--", *argv]


# ---- network namespace + veth -------------------------------------------

class NetnsVeth:
    """A named network namespace with one veth pair to the test's namespace:
    host_ip on host_if here, ns_ip on ns_if there (a /30 in 169.254.0.0/16),
    loopback up inside. argv() runs a command inside via nsenter, which does
    not remount /sys the way `ip netns exec` does (so put the process in its
    cgroup first: cgroup.argv(netns.argv(cmd)))."""

    def __init__(self):
        sweep_stale()
        self.name = unique_name("ns")
        suffix = f"{os.getpid() % 1000000}-{_next_counter() % 100}"  # <= 15 chars in all
        self.host_if, self.ns_if = f"pgwh{suffix}", f"pgwn{suffix}"
        self.host_ip, self.ns_ip = _free_link_local_pair()
        self._token = cleanup.register(self.remove)
        try:
            _run(["ip", "netns", "add", self.name])
            _run(["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if,
                  "netns", self.name])
            _run(["ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if])
            _run(["ip", "link", "set", self.host_if, "up"])
            for cmd in (["addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if],
                        ["link", "set", self.ns_if, "up"], ["link", "set", "lo", "up"]):
                _run(["ip", "-n", self.name, *cmd])
        except Exception:
            self.remove()
            raise

    def argv(self, argv):
        return ["nsenter", f"--net=/run/netns/{self.name}", "--", *argv]

    def remove(self):
        _run(["ip", "link", "del", self.host_if], check=False)
        _run(["ip", "netns", "del", self.name], check=False)
        if self._token is not None:
            cleanup.unregister(self._token)
            self._token = None


def _next_counter():
    global _counter
    with _counter_lock:
        _counter += 1
        return _counter


def _free_link_local_pair():
    """169.254.<k>.1 / .2 for a /30 no interface uses yet."""
    used = _run(["ip", "-4", "-o", "addr", "show"]).stdout
    start = os.getpid() % 200
    for i in range(200):
        third = 20 + (start + i) % 200
        if f"169.254.{third}." not in used:
            return f"169.254.{third}.1", f"169.254.{third}.2"
    raise RuntimeError("no free 169.254.x.0/30 subnet")


def netns_names():
    result = _run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


# ---- pins ---------------------------------------------------------------

def new_pin_dir():
    """A pin directory path for one test (not created: pgwarden does that),
    and the cleanup registry token that removes it."""
    path = os.path.join(BPFFS_MOUNT, unique_name("pins"))
    return path, cleanup.register(lambda: remove_pin_dir(path))


def remove_pin_dir(path):
    """Unpin everything under path: links whose last reference was the pin
    are detached by the kernel, maps freed once no program holds them."""
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
        if os.path.isdir(path):  # bpffs refuses nothing we made; say so if it did
            raise RuntimeError(f"could not remove pin dir {path}")


def sweep_stale():
    """Remove what killed earlier runs of these tests left: pin dirs, cgroups,
    network namespaces and temp dirs named pgwtest-<pid>-... whose pid is gone."""
    def stale(name):
        pid = _owner_pid(name)
        return pid is not None and not pid_alive(pid)

    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        if stale(name) and os.path.isdir(os.path.join(tmp, name)):
            shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)

    if os.path.isdir(BPFFS_MOUNT):
        for name in os.listdir(BPFFS_MOUNT):
            if stale(name):
                shutil.rmtree(os.path.join(BPFFS_MOUNT, name), ignore_errors=True)
    mount = cgroup2_mount()
    if mount:
        for name in os.listdir(mount):
            if stale(name) and os.path.isdir(os.path.join(mount, name)):
                try:
                    _remove_cgroup_dir(os.path.join(mount, name), mount)
                except OSError as exc:
                    print(f"intercept harness: stale cgroup {name}: {exc}", flush=True)
    for name in netns_names():
        if stale(name):
            _run(["ip", "netns", "del", name], check=False)


# ---- bpftool ------------------------------------------------------------

def bpftool_json(*args):
    result = _run(["bpftool", "-j", *args])
    return json.loads(result.stdout or "null")


def live_ids(kind):
    """Ids of every loaded prog / map / link (kind as bpftool names it)."""
    return {entry["id"] for entry in bpftool_json(kind, "show") or []}


def cgroup_tree_under(mount, prefix_fs_path):
    """`bpftool cgroup tree` entries for cgroups at or below prefix_fs_path."""
    tree = bpftool_json("cgroup", "tree", mount) or []
    return [entry for entry in tree
            if str(entry.get("cgroup", "")).startswith(prefix_fs_path)]


# ---- pgwarden -----------------------------------------------------------

def intercept_config(cgroup_path, pin_dir, ports, fail="closed", fast_path=True,
                     heartbeat_timeout="1s"):
    return {"cgroup": cgroup_path, "ports": list(ports), "fail": fail, "bpffs": pin_dir,
            "fast_path": fast_path, "heartbeat_timeout": heartbeat_timeout}


def status(admin_socket, binary=None):
    """`pgwarden status -j` as a dict."""
    result = _run([binary or binary_path(), "status", "-j", "--admin-socket", admin_socket])
    return json.loads(result.stdout)


def map_entries(st, name):
    for m in st["intercept"]["maps"]:
        if m["name"] == name:
            return m.get("entries")
    raise KeyError(f"map {name} not in status: {[m['name'] for m in st['intercept']['maps']]}")


def db_port(host):
    """The port of the "remote" database: 5432 as a workload expects, unless
    something else already listens there (a developer's own PostgreSQL), then
    a free one; PGWARDEN_INTERCEPT_DB_PORT forces one."""
    forced = os.environ.get("PGWARDEN_INTERCEPT_DB_PORT")
    if forced:
        return int(forced)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, 5432))
        return 5432
    except OSError:
        from .system import free_port
        return free_port(host)


class InterceptRig:
    """One test's interception set-up, all of it the test's own:

        /pgwtest-<pid>-...            root test cgroup
            engine/                   pgwarden runs here (so sockops attaches here,
                                      not at a cgroup the test did not create)
            clients/                  intercept.cgroup; clients run here or below

    a pin directory under /sys/fs/bpf, and network namespaces on demand.
    close() stops every daemon with SIGTERM, then removes pins, namespaces
    and cgroups whatever happened; it returns the SIGTERM failures."""

    def __init__(self, db, client_script, db_host, db_port):
        self.db = db
        self.client_script = client_script
        self.db_host = db_host
        self.db_port = db_port
        self.root = TestCgroup.create()
        self.engine_cg = self.root.child("engine")
        self.clients = self.root.child("clients")
        self.pin_dir, self._pin_token = new_pin_dir()
        self.daemons = []
        self.namespaces = []
        self.dir = tempfile.mkdtemp(prefix=f"{NAME_PREFIX}{os.getpid()}-rig-")
        self._wrappers = {}
        self.engine_wrapper = self.wrapper_for(binary_path())

    def wrapper_for(self, binary):
        """A script that enters engine/ and execs `binary`, one per binary (a
        test may run an uninstrumented engine in a sanitized run)."""
        if binary not in self._wrappers:
            path = os.path.join(self.dir, f"pgwarden-in-cgroup-{len(self._wrappers)}")
            with open(path, "w") as f:
                f.write("#!/bin/sh\n"
                        f"echo $$ > '{self.engine_cg.fs_path}/cgroup.procs' || exit 97\n"
                        f"exec '{binary}' \"$@\"\n")
            os.chmod(path, 0o755)
            self._wrappers[binary] = path
        return self._wrappers[binary]

    # ---- the daemon --------------------------------------------------

    def config_overrides(self, fail="closed", fast_path=True, heartbeat_timeout="1s",
                         identities=None, default="deny", policies=None, intercept_cgroup=None):
        if identities is None:
            identities = [{"name": "agent", "match": {"cgroup": self.clients.path + "/**",
                                                      "uid": [0]}}]
        if policies is None:
            # Transport tests: what psql, pgbench and COPY need, nothing more.
            policies = [{"identity": rule["name"], "allow": ["select", "copy_to", "set", "transaction"]}
                        for rule in identities]
        return {
            "intercept": intercept_config(intercept_cgroup or self.clients.path, self.pin_dir,
                                          [self.db_port], fail=fail, fast_path=fast_path,
                                          heartbeat_timeout=heartbeat_timeout),
            "identities": identities,
            "policies": policies,
            "default": default,
        }

    def pgwarden(self, listen_host="127.0.0.1", start=True, binary=None, **kw):
        """A Pgwarden that intercepts connects from clients/ to the database's
        port, serving the database's IPv4 and [::1] address."""
        from .pgwarden import Pgwarden
        pw = Pgwarden(self.db, overrides=self.config_overrides(**kw), listen_host=listen_host, binary=binary)
        return self.adopt(pw, start=start)

    def adopt(self, pw, start=True, **intercept_kw):
        """Make a Pgwarden built elsewhere (e.g. with a policy file's text)
        intercept as pgwarden() would: it runs in engine/, gets this rig's
        `intercept` section unless its config has one (intercept_kw as for
        intercept_config), the upstream match, and is stopped by close()."""
        pw.binary = self.wrapper_for(pw.binary)
        if "intercept" not in pw.config:
            pw.config["intercept"] = intercept_config(self.clients.path, self.pin_dir,
                                                      [self.db_port], **intercept_kw)
        pw.config["upstreams"][0]["match"] = [f"{self.db_host}:{self.db_port}",
                                              f"[::1]:{self.db_port}"]
        self.daemons.append(pw)
        if start:
            self.start(pw)
        return pw

    def start(self, pw):
        from .pgwarden import PgwardenError
        try:
            pw.start()
        except PgwardenError as exc:
            if "built without eBPF" in str(exc):
                skip_or_fail("pgwarden was built without eBPF (-DPGWARDEN_BPF=OFF)")
            raise
        # The engine listens before it attaches (so redirected connects find
        # a listener at once): the port answering does not mean intercepting.
        deadline = time.monotonic() + 10
        last = None
        while time.monotonic() < deadline:
            pw.check_not_exited()
            try:
                last = self.status(pw)["intercept"]
                if last.get("enabled") and last.get("programs") and last.get("engine_alive"):
                    return pw
            except (RuntimeError, ValueError, KeyError) as exc:
                last = exc
            time.sleep(0.02)
        raise PgwardenError(f"pgwarden serves but does not intercept: {last}\n{pw.log_tail()}")

    def status(self, pw):
        return status(pw.config["admin_socket"])

    # ---- clients -----------------------------------------------------

    def new_netns(self):
        ns = NetnsVeth()
        self.namespaces.append(ns)
        return ns

    def _wrap(self, argv, cgroup, uid, netns):
        if uid is not None:
            import pwd
            gid = pwd.getpwuid(uid).pw_gid
            argv = as_user(uid, gid, argv)
        if netns is not None:
            argv = netns.argv(argv)
        # cgroup first, then the namespace (and the uid last of all).
        return (cgroup or self.clients).argv(argv)

    def probe(self, host=None, family="inet", sql="SELECT current_user", cgroup=None, uid=None,
              netns=None, user="root", database="app", port=None, source=None, params=None,
              timeout=60):
        """Run the client's probe inside a cgroup (default clients/); returns
        its report. source: bind to this address before connecting; params:
        more startup parameters ({name: value}) after user and database."""
        options = [f"--source={source}"] if source else []
        options += [f"--param={name}={value}" for name, value in (params or {}).items()]
        argv = self.client_script.argv("probe", *options, family, host or self.db_host,
                                       port or self.db_port, user, database, sql)
        result = subprocess.run(self._wrap(argv, cgroup, uid, netns), capture_output=True,
                                text=True, timeout=timeout)
        return parse_client_output(result)

    def many(self, count, threads, seconds, full_every=1, family="inet", host=None, cgroup=None):
        argv = self.client_script.argv("many", family, host or self.db_host, self.db_port,
                                       "root", "app", count, threads, seconds, full_every)
        result = subprocess.run(self._wrap(argv, cgroup, None, None), capture_output=True,
                                text=True, timeout=seconds + 60)
        return parse_client_output(result)

    def psql_argv(self, *args, host=None):
        return ["psql", "-X", "-h", host or self.db_host, "-p", str(self.db_port), "-d", "app",
                *args]

    def psql(self, *args, host=None, cgroup=None, uid=None, netns=None, timeout=60, **kw):
        """psql without any password, inside a cgroup (default clients/)."""
        from .clients import client_env
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("env", client_env())
        kw.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run(self._wrap(self.psql_argv(*args, host=host), cgroup, uid, netns),
                              timeout=timeout, **kw)

    # ---- teardown ----------------------------------------------------

    def close(self, show_logs=False):
        errors = []
        for pw in self.daemons:
            if show_logs:
                print(pw.log_tail(60))
            try:
                if pw.alive():
                    pw.stop()  # SIGTERM: must exit 0, detached and unpinned
                else:
                    pw.check_not_exited()  # killed by the test, or crashed on its own?
            except AssertionError as exc:
                errors.append(str(exc))
            finally:
                pw.close()
        for step in ([lambda: remove_pin_dir(self.pin_dir)] +
                     [ns.remove for ns in self.namespaces] + [self.root.remove]):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - clean up the rest regardless
                errors.append(f"cleanup: {exc!r}")
        cleanup.unregister(self._pin_token)
        shutil.rmtree(self.dir, ignore_errors=True)
        return errors


# ---- the client (runs inside the test cgroup) ----------------------------

class ClientScript:
    """A copy of this file any uid can read and run as the client."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix=f"{NAME_PREFIX}{os.getpid()}-client-")
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "pgw_client.py")
        shutil.copyfile(__file__, self.path)
        os.chmod(self.path, 0o644)
        self._token = cleanup.register(self.close)

    def argv(self, *args):
        # The system python: readable by any uid (a pyenv one may not be).
        python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
        return [python, self.path, "client", *map(str, args)]

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        cleanup.unregister(self._token)


def parse_client_output(result):
    """The client prints one JSON line; anything else is a harness failure."""
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise AssertionError(f"client failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return json.loads(lines[-1])


PROTOCOL_3_0 = 196608


def _startup(user, database, params=()):
    body = struct.pack("!I", PROTOCOL_3_0)
    for key, value in (("user", user), ("database", database), *params):
        body += key.encode() + b"\0" + value.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def _query(sql):
    payload = sql.encode() + b"\0"
    return b"Q" + struct.pack("!I", len(payload) + 4) + payload


def _fields(payload):
    return {chr(p[0]): p[1:].decode(errors="replace") for p in payload.split(b"\0") if p}


class _Conn:
    def __init__(self, family, host, port, timeout, source=None, bound=None):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source:
            # A source address of the test's own makes this client's packets
            # recognisable in PostgreSQL's log, whatever else runs on the host.
            self.sock.bind((source, 0) if family == socket.AF_INET else (source, 0, 0, 0))
            if bound is not None:
                bound["local"] = _addr(self.sock.getsockname())
        target = (host, port) if family == socket.AF_INET else (host, port, 0, 0)
        self.sock.connect(target)
        self.buf = b""

    def read_message(self):
        while True:
            if len(self.buf) >= 5:
                length = struct.unpack("!I", self.buf[1:5])[0]
                if len(self.buf) >= 1 + length:
                    kind, payload = self.buf[:1], self.buf[5:1 + length]
                    self.buf = self.buf[1 + length:]
                    return kind, payload
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed by peer")
            self.buf += chunk

    def until_ready(self):
        """Read to ReadyForQuery: ("ready", None), ("error", fields) or
        ("auth", {"code": n}) when asked for a password."""
        while True:
            kind, payload = self.read_message()
            if kind == b"E":
                return "error", _fields(payload)
            if kind == b"R" and struct.unpack("!I", payload[:4])[0] != 0:
                # A password request: the server itself answered, not pgwarden.
                return "auth", {"code": struct.unpack("!I", payload[:4])[0]}
            if kind == b"Z":
                return "ready", None

    def close(self):
        self.sock.close()


def _addr(sockaddr):
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def client_probe(family, host, port, user, database, sql, source=None, params=()):
    """One session: connect (from `source` if given), report both socket
    addresses, log in (params: more startup parameters), run sql."""
    fam = socket.AF_INET6 if family == "inet6" else socket.AF_INET
    out = {"pid": os.getpid(), "uid": os.getuid()}
    started = time.monotonic()
    try:
        conn = _Conn(fam, host, port, 10, source=source, bound=out)
    except OSError as exc:
        out.update(kind="connect_error", errno=exc.errno, error=str(exc),
                   connect_ms=round((time.monotonic() - started) * 1000, 1))
        return out
    out["connect_ms"] = round((time.monotonic() - started) * 1000, 1)
    try:
        out["peer"] = _addr(conn.sock.getpeername())
        out["local"] = _addr(conn.sock.getsockname())
        conn.sock.sendall(_startup(user, database, params))
        kind, fields = conn.until_ready()
        out["kind"] = kind
        if fields:
            out["fields"] = fields
        if kind == "ready" and sql:
            conn.sock.sendall(_query(sql))
            rows = []
            while True:
                k, payload = conn.read_message()
                if k == b"D":
                    n = struct.unpack("!H", payload[:2])[0]
                    pos, row = 2, []
                    for _ in range(n):
                        ln = struct.unpack("!i", payload[pos:pos + 4])[0]
                        pos += 4
                        row.append(None if ln < 0 else payload[pos:pos + ln].decode())
                        pos += max(ln, 0)
                    rows.append(row)
                elif k == b"E":
                    out["query_error"] = _fields(payload)
                elif k == b"Z":
                    break
            out["rows"] = rows
        conn.sock.sendall(b"X\0\0\0\4")
    except (OSError, EOFError) as exc:
        out.update(kind=out.get("kind", "io_error"), error=str(exc))
    finally:
        conn.close()
    return out


SSL_REQUEST = struct.pack("!II", 8, 80877103)


def client_many(family, host, port, user, database, count, threads, seconds, full_every):
    """count short connections over `threads` threads, stopping at the
    deadline; reports failures. Every full_every-th one is a whole session
    (startup to ReadyForQuery, Terminate: an upstream login each); the others
    are the shortest complete exchange, SSLRequest answered with 'N' (bytes
    both ways through the redirect and the engine, no upstream). Each waits
    for the engine to close its end, so the connection is over on both sides."""
    fam = socket.AF_INET6 if family == "inet6" else socket.AF_INET
    lock = threading.Lock()
    state = {"next": 0, "ok": 0, "full": 0, "failures": [], "failed": 0}
    deadline = time.monotonic() + seconds
    startup = _startup(user, database)

    def drain(conn):
        while conn.sock.recv(4096):
            pass

    def full():
        conn = _Conn(fam, host, port, 10)
        try:
            conn.sock.sendall(startup)
            kind, fields = conn.until_ready()
            if kind != "ready":
                raise RuntimeError(f"{kind}: {fields}")
            conn.sock.sendall(b"X\0\0\0\4")
            drain(conn)
        finally:
            conn.close()

    def short():
        conn = _Conn(fam, host, port, 10)
        try:
            conn.sock.sendall(SSL_REQUEST)
            answer = conn.sock.recv(1)
            if answer != b"N":
                raise RuntimeError(f"SSLRequest answered {answer!r}")
            conn.sock.shutdown(socket.SHUT_WR)  # the client gives up: the engine closes
            drain(conn)
        finally:
            conn.close()

    def worker():
        while time.monotonic() < deadline:
            with lock:
                if state["next"] >= count:
                    return
                n = state["next"]
                state["next"] += 1
            whole = full_every > 0 and n % full_every == 0
            try:
                full() if whole else short()
                with lock:
                    state["ok"] += 1
                    state["full"] += whole
            except Exception as exc:  # noqa: BLE001 - every failure is counted
                with lock:
                    state["failed"] += 1
                    if len(state["failures"]) < 10:
                        state["failures"].append(repr(exc))

    started = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return {"ok": state["ok"], "full": state["full"], "failed": state["failed"],
            "failures": state["failures"], "attempted": state["next"],
            "seconds": round(time.monotonic() - started, 2)}


def client_main(argv):
    """client probe [--source=ADDR] [--param=NAME=VALUE ...] FAMILY HOST PORT USER DB [SQL]
       client many FAMILY HOST PORT USER DB COUNT THREADS SECONDS FULL_EVERY"""
    source, params = None, []
    while len(argv) > 1 and argv[1].startswith(("--source=", "--param=")):
        option, value = argv.pop(1)[2:].split("=", 1)
        if option == "source":
            source = value
        else:
            params.append(tuple(value.split("=", 1)))
    mode, family, host, port, user, database, *rest = argv
    if mode == "probe":
        out = client_probe(family, host, int(port), user, database, rest[0] if rest else "",
                           source, params)
    elif mode == "many":
        count, threads, seconds, full_every = int(rest[0]), int(rest[1]), float(rest[2]), int(rest[3])
        out = client_many(family, host, int(port), user, database, count, threads, seconds,
                          full_every)
    else:
        raise SystemExit(f"unknown client mode {mode}")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "client":
        client_main(sys.argv[2:])
    else:
        raise SystemExit(__doc__)


def module_fixtures(db_host, db_port, setup_sql=None, autouse=True, settings=None, sample_data=False):
    """The fixtures every eBPF test module uses, made once here:
    bpf_privileges (skips, or fails under PGWARDEN_REQUIRE_BPF, without BPF;
    autouse unless told otherwise), db (a throwaway cluster on
    db_host:db_port, `setup_sql` run in database app), client_script and rig
    (an InterceptRig, closed after each test, logs shown when it failed).
    settings and sample_data are PgCluster's (e.g. a higher max_connections).

        bpf_privileges, db, client_script, rig = ic.module_fixtures(DB_HOST, DB_PORT)
    """
    import pytest
    from .cluster import PgCluster

    @pytest.fixture(scope="module", autouse=autouse, name="bpf_privileges")
    def bpf_privileges():
        reason = bpf_unavailable_reason()
        if reason:
            skip_or_fail(reason)

    @pytest.fixture(scope="module", name="db")
    def db(bpf_privileges):
        with PgCluster(host=db_host, port=db_port, sample_data=sample_data, settings=settings) as pg:
            if setup_sql:
                pg.execute_app(setup_sql, dbname="app")
            yield pg

    @pytest.fixture(scope="module", name="client_script")
    def client_script(bpf_privileges):
        script = ClientScript()
        yield script
        script.close()

    @pytest.fixture(name="rig")
    def rig(request, db, client_script):
        made = InterceptRig(db, client_script, db_host, db_port)
        yield made
        failed = getattr(request.node, "rep_call", None)
        errors = made.close(show_logs=failed is not None and failed.failed)
        if errors:
            pytest.fail("teardown:\n" + "\n".join(errors), pytrace=False)

    return bpf_privileges, db, client_script, rig
