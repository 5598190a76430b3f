"""pgJDBC test programs: compile one Java file against Debian's driver jar
and run its class. Skips (with the reason) where javac or the jar is missing;
scripts/setup installs both."""

import contextlib
import os
import shutil
import subprocess
import tempfile

import pytest

JDBC_JAR = "/usr/share/java/postgresql.jar"


@contextlib.contextmanager
def compiled(java_file):
    """Yields the classpath holding the compiled class and the driver."""
    if shutil.which("javac") is None or not os.path.exists(JDBC_JAR):
        pytest.skip("javac or libpostgresql-jdbc-java missing (scripts/setup installs them)")
    out = tempfile.mkdtemp(prefix="pgwarden-jdbc-")
    try:
        r = subprocess.run(["javac", "-cp", JDBC_JAR, "-d", out, str(java_file)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        yield f"{out}:{JDBC_JAR}"
    finally:
        shutil.rmtree(out, ignore_errors=True)
