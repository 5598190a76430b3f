"""PostgreSQL's own regression suite, from the Debian source package of the
server that is installed, ready for Debian's pg_regress.

    suite = regress_source.prepare()   # a RegressSuite (cached)
    suite.inputdir                     # src/test/regress of that source
    suite.dlpath                       # regress.so, autoinc.so, refint.so

The source comes from `apt-get source postgresql-15=<installed version>`
with a private apt configuration: a deb-src list, package lists and archive
cache of its own in a temp dir, so the machine's /etc/apt and its package
lists are neither read for sources nor changed. `regress.so` is built from
src/test/regress/regress.c with the installed server headers
(postgresql-server-dev-15); autoinc.so and refint.so (contrib/spi, which
the triggers test loads from the same directory) are the installed
server's own.

When the archive no longer serves that version's source (the security
archive keeps only the newest; a mirror may lack it), the newest source it
does serve is used and RegressSuite.source_version says which.

The result is kept in CACHE_ROOT (/var/cache/pgwarden-tests, outside the
repository; PGWARDEN_TEST_CACHE overrides) under the exact package version,
and reused when present (remove it to fetch again); a version change
fetches the matching source. A file lock makes concurrent test runs wait
for one download.
"""

import fcntl
import os
import shutil
import subprocess
import tempfile

PG_MAJOR = "15"
PACKAGE = f"postgresql-{PG_MAJOR}"
PG_LIB = f"/usr/lib/postgresql/{PG_MAJOR}/lib"
PG_BIN = f"/usr/lib/postgresql/{PG_MAJOR}/bin"
PG_REGRESS = f"{PG_LIB}/pgxs/src/test/regress/pg_regress"
CACHE_ROOT = os.environ.get("PGWARDEN_TEST_CACHE", "/var/cache/pgwarden-tests")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# Files from the installed server the suite loads next to regress.so.
INSTALLED_MODULES = ("autoinc.so", "refint.so")


class RegressSourceError(RuntimeError):
    pass


class RegressSuite:
    """installed_version: the server's package version; source_version: the
    source the suite came from (the same unless the archive no longer
    serves it)."""

    def __init__(self, root, installed_version):
        self.root = root
        self.installed_version = installed_version
        with open(os.path.join(root, "complete")) as f:
            self.source_version = f.read().split()[1]
        self.inputdir = os.path.join(root, "regress")
        self.dlpath = os.path.join(root, "lib")
        self.schedule = os.path.join(self.inputdir, "parallel_schedule")
        self.pg_regress = PG_REGRESS

    def schedule_tests(self):
        """Test names of parallel_schedule, in order."""
        names = []
        with open(self.schedule) as f:
            for line in f:
                if line.startswith("test:"):
                    names.extend(line.split(":", 1)[1].split())
        return names


def installed_version():
    """(source package, source version) of the installed postgresql-15."""
    result = subprocess.run(["dpkg-query", "-W", "-f=${source:Package} ${source:Version}", PACKAGE],
                            capture_output=True, text=True)
    if result.returncode != 0 or not result.stdout.strip():
        raise RegressSourceError(f"{PACKAGE} is not installed (scripts/setup installs it)")
    name, version = result.stdout.split()
    return name, version


def why_unavailable():
    """A reason the suite cannot be prepared on this host, or None."""
    for path, what in ((PG_REGRESS, "Debian's pg_regress (postgresql-server-dev-15)"),
                       (f"{PG_BIN}/pg_config", "pg_config (postgresql-server-dev-15)")):
        if not os.path.exists(path):
            return f"{what} is missing: {path}"
    for tool in ("apt-get", "dpkg-source", "cc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/setup installs dpkg-dev and build-essential)"
    return None


def prepare():
    """The cached suite for the installed server, fetching and building it
    when the cache does not hold this version yet."""
    reason = why_unavailable()
    if reason:
        raise RegressSourceError(reason)
    source, version = installed_version()
    root = os.path.join(CACHE_ROOT, f"{source}_{version}")
    os.makedirs(CACHE_ROOT, mode=0o755, exist_ok=True)
    with open(os.path.join(CACHE_ROOT, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _complete(root):
            _build(root, source, version)
    return RegressSuite(root, version)


def _complete(root):
    return os.path.exists(os.path.join(root, "complete"))


def _build(root, source, version):
    shutil.rmtree(root, ignore_errors=True)
    staging = tempfile.mkdtemp(prefix=f".{source}_{version}.", dir=CACHE_ROOT)
    try:
        tree, source_version = _fetch_source(staging, source, version)
        regress = os.path.join(staging, "out", "regress")
        shutil.copytree(os.path.join(tree, "src", "test", "regress"), regress, symlinks=True)
        lib = os.path.join(staging, "out", "lib")
        os.makedirs(lib)
        _build_regress_so(os.path.join(regress, "regress.c"), os.path.join(lib, "regress.so"))
        for module in INSTALLED_MODULES:
            os.symlink(os.path.join(PG_LIB, module), os.path.join(lib, module))
        with open(os.path.join(staging, "out", "complete"), "w") as f:
            f.write(f"{source} {source_version}\n")
        # The server runs as an unprivileged user: it reads data files and
        # loads regress.so from here.
        for dirpath, dirnames, filenames in os.walk(os.path.join(staging, "out")):
            os.chmod(dirpath, 0o755)
            for name in filenames:
                path = os.path.join(dirpath, name)
                if not os.path.islink(path):
                    os.chmod(path, os.stat(path).st_mode | 0o444)
        os.rename(os.path.join(staging, "out"), root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _os_codename():
    with open("/etc/os-release") as f:
        for line in f:
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    raise RegressSourceError("no VERSION_CODENAME in /etc/os-release")


def _sources_list():
    """deb-src entries of the suite's own: Debian's archive and its security
    archive for this release (PGWARDEN_DEB_SRC replaces them, one
    sources.list line per line, e.g. for a local mirror)."""
    override = os.environ.get("PGWARDEN_DEB_SRC")
    if override:
        return override.strip() + "\n"
    codename = _os_codename()
    signed = f"[signed-by={KEYRING}]"
    return (f"deb-src {signed} http://deb.debian.org/debian {codename} main\n"
            f"deb-src {signed} http://deb.debian.org/debian {codename}-updates main\n"
            f"deb-src {signed} http://deb.debian.org/debian-security {codename}-security main\n")


def _fetch_source(staging, source, version):
    """Unpacks the source of `version` (or, when the archive no longer
    serves it, the newest version it does serve) into staging/tree;
    returns (tree, the version unpacked)."""
    apt = os.path.join(staging, "apt")
    for sub in ("etc/sources.list.d", "etc/preferences.d", "lists/partial", "archives/partial"):
        os.makedirs(os.path.join(apt, sub))
    with open(os.path.join(apt, "etc", "sources.list"), "w") as f:
        f.write(_sources_list())
    options = [
        "-o", f"Dir::Etc::SourceList={apt}/etc/sources.list",
        "-o", f"Dir::Etc::SourceParts={apt}/etc/sources.list.d",
        "-o", f"Dir::Etc::PreferencesParts={apt}/etc/preferences.d",
        "-o", f"Dir::State::Lists={apt}/lists",
        "-o", f"Dir::Cache={apt}/cache",
        "-o", f"Dir::Cache::Archives={apt}/archives",
        "-o", "Debug::NoLocking=1",  # our own lists dir: no lock shared with the system's apt
        "-q",
    ]
    _run(["apt-get", *options, "update"], staging, "apt-get update (private deb-src list)")
    download = os.path.join(staging, "download")
    failures = []
    # The security archive drops a version's source once a newer one is out
    # (and a mirror may not carry it): the suite of the same major version
    # is the next best thing, and the test says which one it ran.
    for candidate in [version] + [v for v in _offered_versions(options, source) if v != version]:
        shutil.rmtree(download, ignore_errors=True)
        os.makedirs(download)
        got = subprocess.run(["apt-get", *options, "source", "--download-only", f"{source}={candidate}"],
                             cwd=download, capture_output=True, text=True, timeout=900)
        if got.returncode == 0:
            break
        failures.append(f"{candidate}: " + " ".join(line for line in got.stderr.splitlines()
                                                     if line.startswith("E:"))[:300])
    else:
        raise RegressSourceError(f"apt-get source {source} failed for every version offered:\n"
                                 + "\n".join(failures))
    dscs = [f for f in os.listdir(download) if f.endswith(".dsc")]
    if len(dscs) != 1:
        raise RegressSourceError(f"apt-get source left {dscs or 'no .dsc'} in {download}")
    tree = os.path.join(staging, "tree")
    # apt checked the files against the archive's signed index; dpkg-source
    # checks them against the .dsc (its own signature check only warns
    # without debian-keyring).
    _run(["dpkg-source", "-x", dscs[0], tree], download, "dpkg-source -x")
    return tree, candidate


def _offered_versions(options, source):
    """Versions of `source` the private lists offer, newest first."""
    shown = subprocess.run(["apt-cache", *options, "showsrc", source], capture_output=True,
                           text=True, timeout=120)
    versions = sorted({line.split(":", 1)[1].strip() for line in shown.stdout.splitlines()
                       if line.startswith("Version:")}, key=_DebVersion, reverse=True)
    return versions


class _DebVersion:
    """Orders Debian version strings the way dpkg does (dpkg --compare-versions)."""

    def __init__(self, text):
        self.text = text

    def __lt__(self, other):
        return subprocess.run(["dpkg", "--compare-versions", self.text, "lt", other.text]).returncode == 0


def _build_regress_so(source_c, target):
    pg_config = f"{PG_BIN}/pg_config"

    def config(flag):
        return subprocess.run([pg_config, flag], capture_output=True, text=True,
                              check=True).stdout.split()

    include = config("--includedir-server")
    argv = ["cc", *config("--cflags"), *config("--cflags_sl"), "-I", include[0],
            "-shared", "-o", target, source_c]
    _run(argv, os.path.dirname(source_c), "building regress.so")


def _run(argv, cwd, what):
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=900,
                            env={**os.environ, "LC_ALL": "C"})
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-20:]
        raise RegressSourceError(f"{what} failed ({result.returncode}):\n" + "\n".join(tail))
    return result
