"""What the deploy tests share: where deploy/ is, the capability list every
install grants (the DaemonSet, the systemd unit, the container test), how a
systemd unit file reads, and how to start an InterceptRig's engine through a
wrapper (capabilities limited, a sandbox, a container) instead of directly.
"""

import os
import shlex

from .pgwarden import REPO_ROOT, binary_path

DEPLOY = REPO_ROOT / "deploy"
KUBERNETES_DIR = DEPLOY / "kubernetes"
SYSTEMD_UNIT = DEPLOY / "systemd" / "pgwarden.service"
CONTAINERFILE = DEPLOY / "Containerfile"

# The capabilities interception needs (README, "Privileges"), as Kubernetes
# and podman spell them; CAP_<name> for systemd and the engine's messages.
ENGINE_CAPABILITIES = ("BPF", "NET_ADMIN", "PERFMON")


def parse_unit(path):
    """A systemd unit as {section: {key: [values...]}} (keys repeat)."""
    sections, current = {}, None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                current = sections.setdefault(line[1:-1], {})
                continue
            key, _, value = line.partition("=")
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def capability_names(values):
    """CapabilityBoundingSet= / AmbientCapabilities= values -> {"BPF", ...}."""
    names = set()
    for value in values:
        names.update(word.removeprefix("CAP_") for word in value.split())
    return names


def setpriv_argv(capabilities, no_new_privs=False):
    """setpriv limiting a root process's capabilities to `capabilities` as a
    bounding set plus ambient set does (what systemd and the container runtime
    do): root keeps exactly these after exec."""
    caps = ",".join("+" + c.lower() for c in capabilities)
    argv = ["setpriv", "--inh-caps=-all" + ("," + caps if caps else ""),
            "--ambient-caps=-all" + ("," + caps if caps else ""),
            "--bounding-set=-all" + ("," + caps if caps else "")]
    if no_new_privs:
        argv.append("--no-new-privs")
    return argv + ["--"]


def wrap_engine(rig, pw, argv_prefix, argv=None):
    """After rig.adopt(pw, start=False): make pw start as `argv_prefix + argv` inside the rig's engine cgroup
    (argv defaults to the binary and the arguments Pgwarden passes). The
    wrapper script replaces the rig's own."""
    path = os.path.join(rig.dir, f"engine-{len(rig.daemons)}")
    if argv is None:
        tail = shlex.quote(binary_path()) + ' "$@"'
    else:
        tail = " ".join(shlex.quote(a) for a in argv)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                f"echo $$ > {shlex.quote(rig.engine_cg.fs_path + '/cgroup.procs')} || exit 97\n"
                f"exec {' '.join(shlex.quote(a) for a in argv_prefix)} {tail}\n")
    os.chmod(path, 0o755)
    pw.binary = path
    return path
