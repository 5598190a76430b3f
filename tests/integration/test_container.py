"""deploy/Containerfile: the image, built without any registry, runs with the
DaemonSet's security context and transparently serves a psql in a test
cgroup on the host; with one capability fewer it fails at start naming it.

How, within a few minutes on 2 cores:
- the Debian 12 base is a root filesystem made by mmdebstrap from Debian's
  packages only (essential + the Containerfile's RUNTIME_PACKAGES, so the
  runtime stage installs nothing), cached under build/container-test/ keyed
  by that package list, and imported with buildah;
- the image is built from the Containerfile's own runtime and final stages
  (`buildah build`), with the build/pgwarden this checkout already built
  (under scripts/test --sanitize, build-release/pgwarden) standing in for
  the compile stage (`--build-context build=DIR`, so buildah
  skips that stage): compiling pgwarden again inside a container takes over
  ten minutes on 2 cores and proves nothing the build/ binary does not;
- it runs with `podman --runtime runc run --network=host --pid=host
  --cap-drop=ALL --cap-add=<the DaemonSet's list>` and the DaemonSet's host
  mounts (bpffs, the cgroup v2 root) plus the test's run directory (config,
  sockets, state), in the test rig's engine cgroup (--cgroup-parent), in a
  private cgroup namespace as the kubelet makes on cgroup v2 (and, once, the
  host's). containers.conf (CONTAINERS_CONF, the
  test's own) sets `default_ulimits = []`: this machine lacks
  CAP_SYS_RESOURCE, so the default rlimits cannot be raised; crun refuses
  the hybrid cgroup layout, runc does not.

Skips with the reason when mmdebstrap, buildah, podman or runc is missing
(scripts/setup --test installs them) or eBPF is unavailable; fails instead
under CI=true or PGWARDEN_REQUIRE_BPF=1.
"""

import hashlib
import os
import re
import shutil
import subprocess

import pytest

from harness import PgCluster
from harness import deploy
from harness import intercept as ic
from harness.pgwarden import REPO_ROOT, Pgwarden, PgwardenError, require_plain_binary

DB_HOST = "127.0.0.3"
DB_PORT = ic.db_port(DB_HOST)
CACHE = REPO_ROOT / "build" / "container-test"
IMAGE = f"localhost/pgwarden-test:{os.getpid()}"
TOOLS = ("mmdebstrap", "buildah", "podman", "runc")


def skip_or_fail(reason):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true)", pytrace=False)
    ic.skip_or_fail(reason)


def run(argv, timeout=300, **kw):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} failed ({result.returncode}):\n"
                             f"{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result


def runtime_packages():
    """The Containerfile's RUNTIME_PACKAGES default, as a list."""
    text = deploy.CONTAINERFILE.read_text()
    match = re.search(r'ARG RUNTIME_PACKAGES="([^"]*)"', text)
    assert match, "no RUNTIME_PACKAGES in the Containerfile"
    return match.group(1).replace("\\\n", " ").split()


@pytest.fixture(scope="module")
def container_env(tmp_path_factory):
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        skip_or_fail(f"{', '.join(missing)} not installed (scripts/setup --test)")
    reason = ic.bpf_unavailable_reason()
    if reason:
        ic.skip_or_fail(reason)
    conf = tmp_path_factory.mktemp("containers") / "containers.conf"
    conf.write_text("[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = \"runc\"\n")
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def debian_rootfs():
    """build/container-test/debian12-<key>.tar, made once per package list."""
    packages = sorted(runtime_packages())
    key = hashlib.sha256(" ".join(packages).encode()).hexdigest()[:16]
    tar = CACHE / f"debian12-{key}.tar"
    if not tar.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = tar.with_suffix(".partial")
        # The host's Debian mirrors when it has them in deb822 form (as
        # Debian 12 does), mmdebstrap's default mirror otherwise.
        sources = "/etc/apt/sources.list.d/debian.sources"
        mirror = ["-"] if os.path.exists(sources) else []
        with open(sources if mirror else os.devnull) as stdin:
            run(["mmdebstrap", "--variant=essential", "--include=" + ",".join(packages),
                 "bookworm", str(partial), *mirror], timeout=900, stdin=stdin)
        os.replace(partial, tar)
    return tar, key


@pytest.fixture(scope="module")
def image(container_env, tmp_path_factory):
    binary = require_plain_binary("the image")
    tar, key = debian_rootfs()
    env = container_env
    base = f"localhost/pgwarden-test-debian12:{key}"
    if subprocess.run(["buildah", "inspect", "--type", "image", base], capture_output=True,
                      env=env).returncode != 0:
        ctr = run(["buildah", "from", "scratch"], env=env).stdout.strip()
        try:
            run(["buildah", "add", ctr, str(tar), "/"], env=env)
            run(["buildah", "commit", "--quiet", ctr, base], env=env)
        finally:
            subprocess.run(["buildah", "rm", ctr], capture_output=True, env=env)
    # What the compile stage would leave: /out/usr/bin/pgwarden.
    context = tmp_path_factory.mktemp("binary-context")
    (context / "out" / "usr" / "bin").mkdir(parents=True)
    shutil.copy2(binary, context / "out" / "usr" / "bin" / "pgwarden")
    try:
        run(["buildah", "build", "--pull=never", "--layers=false", "-f", str(deploy.CONTAINERFILE),
             "--build-arg", f"DEBIAN={base}", "--build-context", f"build={context}",
             "-t", IMAGE, str(REPO_ROOT)], env=env, timeout=600)
        yield IMAGE
    finally:
        subprocess.run(["buildah", "rmi", "-f", IMAGE], capture_output=True, env=env)


@pytest.fixture(scope="module")
def db(container_env):
    with PgCluster(host=DB_HOST, port=DB_PORT, sample_data=False) as pg:
        yield pg


@pytest.fixture
def rig(request, db):
    script = ic.ClientScript()
    rig = ic.InterceptRig(db, script, DB_HOST, DB_PORT)
    yield rig
    failed = getattr(request.node, "rep_call", None)
    errors = rig.close(show_logs=failed is not None and failed.failed)
    script.close()
    if errors:
        pytest.fail("teardown:\n" + "\n".join(errors), pytrace=False)


def containerized(rig, image, env, capabilities, cgroupns="private"):
    """A Pgwarden of the rig's whose process is `podman run` of the image.
    cgroupns: private is what the kubelet gives a container on cgroup v2
    (the engine sees itself at "/" and resolves workloads' cgroup ids
    through the host's hierarchy mounted over its own)."""
    pw = rig.adopt(Pgwarden(rig.db, overrides=rig.config_overrides()), start=False)
    pw.config["state_dir"] = os.path.join(pw.dir, "state")
    cgroup_mount = ic.cgroup2_mount()
    name = os.path.basename(pw.dir)
    argv = ["env", f"CONTAINERS_CONF={env['CONTAINERS_CONF']}",
            "podman", "--runtime", "runc", "run", "--rm", "--name", name,
            "--network=host", "--pid=host", f"--cgroupns={cgroupns}",
            "--cgroup-parent", rig.engine_cg.path,
            "--security-opt", "seccomp=unconfined", "--security-opt", "no-new-privileges",
            "--read-only", "--cap-drop=ALL", "--cap-add=" + ",".join(capabilities),
            "-v", "/sys/fs/bpf:/sys/fs/bpf", "-v", f"{cgroup_mount}:{cgroup_mount}",
            "-v", f"{pw.dir}:{pw.dir}", image, "run", "--config", pw.config_path]
    deploy.wrap_engine(rig, pw, [], argv=argv)
    return pw, name


@pytest.mark.parametrize("cgroupns", ["private", "host"])
def test_image_serves_a_psql_in_a_test_cgroup_with_the_daemonsets_capabilities(rig, db, image,
                                                                                container_env,
                                                                                cgroupns):
    pw, name = containerized(rig, image, container_env, deploy.ENGINE_CAPABILITIES, cgroupns)
    rig.start(pw)
    pid = run(["podman", "inspect", "-f", "{{.State.Pid}}", name], env=container_env).stdout.strip()
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    assert int(status["CapEff"], 16) == (1 << 39) | (1 << 38) | (1 << 12), status["CapEff"]
    assert open(f"/proc/{pid}/comm").read().strip() == "pgwarden"

    served = rig.psql("-At", "-c", "SELECT current_user")
    assert served.returncode == 0, served.stderr + pw.log_tail()
    assert served.stdout.strip() == db.app_user
    lines = [line for line in pw.log_text().splitlines() if "opened: identity=agent" in line]
    assert len(lines) == 1 and 'comm "psql"' in lines[0], pw.log_tail()
    assert rig.status(pw)["intercept"]["counters"]["connect_redirected"] == 1
    # The image is only the binary and its libraries: no shell to exec.
    shell = subprocess.run(["podman", "exec", name, "/bin/sh", "-c", "true"], capture_output=True,
                           text=True, env=container_env, timeout=60)
    assert shell.returncode != 0


@pytest.mark.parametrize("missing", deploy.ENGINE_CAPABILITIES)
def test_one_capability_fewer_fails_at_start_naming_it(rig, image, container_env, missing):
    pw, _ = containerized(rig, image, container_env,
                          [c for c in deploy.ENGINE_CAPABILITIES if c != missing])
    with pytest.raises(PgwardenError, match="exited with 1 before serving"):
        rig.start(pw)
    assert f"pgwarden: intercept needs CAP_{missing} (" in pw.log_text(), pw.log_tail()
    assert "libbpf" not in pw.log_text()


def test_image_holds_only_the_binary_its_libraries_and_ca_certificates(image, container_env):
    ctr = run(["buildah", "from", "--pull-never", image], env=container_env).stdout.strip()
    try:
        root = run(["buildah", "mount", ctr], env=container_env).stdout.strip()
        files = sorted(os.path.relpath(os.path.join(d, f), root)
                       for d, _, names in os.walk(root) for f in names)
    finally:
        subprocess.run(["buildah", "rm", ctr], capture_output=True, env=container_env)
    libraries = [f for f in files if re.search(r"\.so(\.[0-9.]+)?$", f)]
    rest = sorted(set(files) - set(libraries))
    assert rest == ["etc/group", "etc/passwd", "etc/ssl/certs/ca-certificates.crt",
                    "usr/bin/pgwarden"], rest
    assert all(f.startswith(("lib/", "lib64/", "usr/lib/")) for f in libraries), libraries
    assert not any(re.search(r"/(bash|sh|dash|apt|dpkg)$", f) for f in files)
