"""Test certificates made with the openssl CLI: a CA, leaves it signs (with
the SANs a test needs), an expired leaf, and a second CA to play the wrong
one. For both legs: pgwarden's client-facing certificate and PostgreSQL's
server certificate (pass `owner` so the server, which runs as the test user,
may read its key: PostgreSQL wants the key mode 0600 and its own).

    ca = TestCA(tmp_path / "ca")
    leaf = ca.issue("pgwarden", sans=["127.0.0.1", "localhost"])
    leaf.cert, leaf.key, ca.cert       # paths (str)
    ca.issue("old", expired=True)
    TestCA(tmp_path / "other", "wrong CA")   # a CA nobody trusts
"""

import ipaddress
import os
import shutil
import subprocess
from pathlib import Path


def _openssl(*args, cwd=None):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, cwd=cwd, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {r.stderr}")
    return r.stdout


def _san_entry(name):
    try:
        ipaddress.ip_address(name)
        return f"IP:{name}"
    except ValueError:
        return f"DNS:{name}"


class Leaf:
    def __init__(self, cert, key, name):
        self.cert = str(cert)
        self.key = str(key)
        self.name = name

    def give_to(self, user):
        """chown both files to `user` (key stays 0600): PostgreSQL's own certificate."""
        for p in (self.cert, self.key):
            shutil.chown(p, user=user)


class TestCA:
    __test__ = False  # not a pytest class

    def __init__(self, directory, name="pgwarden test CA"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.key = str(self.dir / "ca.key")
        self.cert = str(self.dir / "ca.pem")
        self._serial = 1
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", self.key, "-out", self.cert, "-days", "30", "-subj", f"/CN={name}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        os.chmod(self.cert, 0o644)

    def issue(self, name, sans=("127.0.0.1", "localhost"), expired=False, days=30, owner=None):
        """A leaf certificate for CN=`name` with these SANs (IP or DNS names),
        signed by this CA; `expired`: its validity ended yesterday."""
        stem = self.dir / name.replace("/", "_")
        key, csr, cert, ext = (f"{stem}.key", f"{stem}.csr", f"{stem}.pem", f"{stem}.ext")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n")
            f.write("keyUsage=critical,digitalSignature,keyEncipherment\n")
            f.write("extendedKeyUsage=serverAuth,clientAuth\n")
            if sans:
                f.write("subjectAltName=" + ",".join(_san_entry(s) for s in sans) + "\n")
        self._serial += 1
        _openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
                 "-set_serial", str(self._serial * 1000 + os.getpid() % 1000),
                 "-days", "-1" if expired else str(days), "-extfile", ext, "-out", cert)
        os.chmod(key, 0o600)
        os.chmod(cert, 0o644)
        os.unlink(csr)
        leaf = Leaf(cert, key, name)
        if owner is not None:
            leaf.give_to(owner)
        return leaf


def fingerprint(cert_path):
    """SHA-256 fingerprint of a PEM certificate ("AB:CD:..."), to tell two apart."""
    out = _openssl("x509", "-in", str(cert_path), "-noout", "-fingerprint", "-sha256")
    return out.strip().split("=", 1)[1]
