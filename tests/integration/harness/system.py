"""Small OS helpers: the unprivileged test user, free ports, /proc readings."""

import glob
import os
import pwd
import socket
import subprocess
import tempfile
import time

TEST_USER = os.environ.get("PGWARDEN_TEST_USER", "pgwarden-test")


class RunAs:
    """How to run a command as the unprivileged user PostgreSQL needs.

    As root we create (once) and switch to TEST_USER; as anybody else we are
    already unprivileged and run commands unchanged."""

    def __init__(self):
        if os.geteuid() == 0:
            self.name = TEST_USER
            _ensure_user(TEST_USER)
            entry = pwd.getpwnam(TEST_USER)
            self.uid, self.gid = entry.pw_uid, entry.pw_gid
        else:
            entry = pwd.getpwuid(os.geteuid())
            self.name, self.uid, self.gid = entry.pw_name, entry.pw_uid, entry.pw_gid

    def argv(self, argv):
        """argv run as the user. setpriv execs in place (no parent process in
        between), so a signal sent to the child reaches the program itself."""
        if os.geteuid() == 0:
            return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups",
                    "--"] + list(argv)
        return list(argv)

    def chown(self, path):
        if os.geteuid() == 0:
            os.chown(path, self.uid, self.gid)


def _ensure_user(name):
    try:
        pwd.getpwnam(name)
        return
    except KeyError:
        pass
    for _ in range(5):  # useradd takes a lock; another run may hold it
        result = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", name],
            capture_output=True, text=True)
        try:
            pwd.getpwnam(name)
            return
        except KeyError:
            time.sleep(0.5)
    raise RuntimeError(f"cannot create user {name}: {result.stderr.strip()}")


def free_port(host="127.0.0.1"):
    """A TCP port nothing listens on right now (the usual bind-to-0 trick)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_accepts(host, port, timeout=0.2):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def proc_status_kb(pid, field):
    """A memory field (VmHWM, VmRSS, ...) of /proc/PID/status in kB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def orphaned_run_dirs(prefix):
    """Temp dirs named prefix* whose owner.pid names a test process that is
    gone (killed without cleaning up): what it started there is now nobody's."""
    for owner_file in glob.glob(os.path.join(tempfile.gettempdir(), prefix + "*", "owner.pid")):
        try:
            with open(owner_file) as f:
                owner = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if not pid_alive(owner):
            yield os.path.dirname(owner_file)
