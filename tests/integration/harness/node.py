"""node-postgres (npm `pg`) for the tests that drive it: installed once into
a cache directory, found by node through NODE_PATH. Skips (with the reason)
where node or npm is missing; scripts/setup installs both."""

import os
import shutil
import subprocess
import tempfile

import pytest

from .pgwarden import binary_path


def cache_dir(name):
    """Where installed test dependencies are kept between runs: next to
    the binary under test (the build tree), else a temp dir."""
    root = os.environ.get("PGWARDEN_TEST_CACHE") or os.path.join(os.path.dirname(binary_path()), "test-cache")
    try:
        os.makedirs(root, exist_ok=True)
        path = os.path.join(root, name)
        os.makedirs(path, exist_ok=True)
        return path
    except OSError:
        return tempfile.mkdtemp(prefix=f"pgwarden-{name}-")


def node_pg_modules():
    """NODE_PATH holding the npm `pg` package, installed once into the cache."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed (scripts/setup installs nodejs and npm)")
    prefix = cache_dir("node-pg")
    modules = os.path.join(prefix, "node_modules")
    if not os.path.exists(os.path.join(modules, "pg", "package.json")):
        result = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", prefix, "pg"],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"npm install pg failed:\n{result.stdout}\n{result.stderr}"
    return modules
