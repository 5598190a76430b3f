"""PgBouncer in session mode in front of a PgCluster, for comparisons.

pgbouncer refuses to run as root, so it runs as the cluster's unprivileged
user, with its files in a directory of the cluster's temp dir. Clients
authenticate with SCRAM against the role's SCRAM secret copied from
pg_authid into auth_file; pgbouncer then logs in to the server with the
client's SCRAM keys (it never holds the password)."""

import os
import signal
import subprocess
import time

from harness import cleanup
from harness.system import free_port, port_accepts


class PgBouncer:
    def __init__(self, cluster, databases, pool_size=16, host="127.0.0.1"):
        self.cluster = cluster
        self.databases = list(databases)
        self.pool_size = pool_size
        self.host = host
        self.port = free_port(host)
        self.dir = os.path.join(cluster.dir, "pgbouncer")
        self.proc = None
        self._token = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _write(self, name, text, mode=0o600):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        self.cluster.run_as.chown(path)
        return path

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        self.cluster.run_as.chown(self.dir)
        secret = self.cluster.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                                      [self.cluster.app_user])[0][0]
        userlist = self._write("userlist.txt", f'"{self.cluster.app_user}" "{secret}"\n')
        dbs = "".join(f"{db} = host={self.cluster.host} port={self.cluster.port} dbname={db}\n"
                      for db in self.databases)
        ini = self._write("pgbouncer.ini", f"""[databases]
{dbs}
[pgbouncer]
listen_addr = {self.host}
listen_port = {self.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {userlist}
pool_mode = session
default_pool_size = {self.pool_size}
max_client_conn = 200
ignore_startup_parameters = extra_float_digits
logfile = {os.path.join(self.dir, 'pgbouncer.log')}
pidfile = {os.path.join(self.dir, 'pgbouncer.pid')}
log_connections = 0
log_disconnections = 0
""")
        self.proc = subprocess.Popen(self.cluster.run_as.argv(["pgbouncer", ini]), cwd=self.dir,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self._token = cleanup.register(self.stop)
        deadline = time.monotonic() + 10
        while not port_accepts(self.host, self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not start:\n{self.log_text()[-2000:]}")
            time.sleep(0.05)
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            # The process is pgbouncer itself (setpriv execs): SIGTERM stops it.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._token is not None:
            cleanup.unregister(self._token)
            self._token = None

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "pgbouncer.log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""
