"""deploy/kubernetes: `kubectl kustomize` renders it, every object validates
against the Kubernetes API schemas offline (npm kubernetes-models, installed
by `scripts/setup --test` from tests/deploy/k8s-schemas/package-lock.json),
and the DaemonSet has what the engine needs and nothing more: host PID and
network namespaces, the host's bpffs and cgroup v2 root, hostPaths for the
admin socket and state, exactly the three capabilities, probes running
`pgwarden status` on the config's admin socket, a termination grace above the
config's shutdown_grace, a surge-first rolling update, NODE_NAME from the
downward API. The ConfigMap's config passes `pgwarden policy check` once
the init container has put the node's IP in.

Skips when kubectl or node is missing, unless CI=true (then it fails).
"""

import os
import shutil
import subprocess

import pytest
import yaml

from harness import deploy
from harness.pgwarden import REPO_ROOT, binary_path

SCHEMAS = REPO_ROOT / "tests" / "deploy" / "k8s-schemas"


def tool_or_skip(name, hint):
    if shutil.which(name) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is missing ({hint})", pytrace=False)
        pytest.skip(f"{name} is not installed ({hint})")


@pytest.fixture(scope="module")
def rendered():
    tool_or_skip("kubectl", "scripts/setup --test installs Debian's kubernetes-client")
    result = subprocess.run(["kubectl", "kustomize", str(deploy.KUBERNETES_DIR)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def objects(rendered):
    return {(o["kind"], o["metadata"]["name"].rsplit("-", 1)[0] if o["kind"] == "ConfigMap"
             else o["metadata"]["name"]): o for o in yaml.safe_load_all(rendered) if o}


@pytest.fixture(scope="module")
def daemonset(objects):
    return objects[("DaemonSet", "pgwarden")]


@pytest.fixture(scope="module")
def pod(daemonset):
    return daemonset["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def engine(pod):
    (container,) = [c for c in pod["containers"] if c["name"] == "pgwarden"]
    return container


@pytest.fixture(scope="module")
def config(objects):
    return yaml.safe_load(objects[("ConfigMap", "pgwarden-config")]["data"]["pgwarden.yaml"])


def mounts(container, pod):
    """{mountPath: (volume, mount)} for a container."""
    volumes = {v["name"]: v for v in pod["volumes"]}
    return {m["mountPath"]: (volumes[m["name"]], m) for m in container["volumeMounts"]}


def test_every_object_validates_against_the_kubernetes_schemas(rendered, objects):
    tool_or_skip("node", "scripts/setup installs nodejs")
    if not (SCHEMAS / "node_modules" / "kubernetes-models").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail("kubernetes-models is not installed: scripts/setup --test", pytrace=False)
        pytest.skip(f"kubernetes-models is not installed (npm ci in {SCHEMAS}; scripts/setup --test)")
    result = subprocess.run(["node", str(SCHEMAS / "validate.mjs")], input=rendered,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("\nok ") + result.stdout.startswith("ok ") == len(objects), result.stdout
    # The validator does catch a wrong type (it is not a no-op).
    broken = rendered.replace("timeoutSeconds: 5", "timeoutSeconds: five", 1)
    result = subprocess.run(["node", str(SCHEMAS / "validate.mjs")], input=broken,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "invalid DaemonSet/pgwarden" in result.stdout, result.stdout


def test_objects_are_the_install(objects):
    assert set(objects) == {("Namespace", "pgwarden"), ("ServiceAccount", "pgwarden"),
                            ("ClusterRole", "pgwarden-read-pods"),
                            ("ClusterRoleBinding", "pgwarden-read-pods"),
                            ("ConfigMap", "pgwarden-config"), ("Secret", "pgwarden-secrets"),
                            ("DaemonSet", "pgwarden")}
    for (kind, _), obj in objects.items():
        if kind not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"]["namespace"] == "pgwarden", obj["metadata"]


def test_the_service_account_may_read_pods_and_nothing_else(objects, pod):
    assert pod["serviceAccountName"] == "pgwarden"
    assert pod.get("automountServiceAccountToken", True) is True  # the resolver's token and CA
    role = objects[("ClusterRole", "pgwarden-read-pods")]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"],
                              "verbs": ["get", "list", "watch"]}]
    binding = objects[("ClusterRoleBinding", "pgwarden-read-pods")]
    assert binding["roleRef"]["name"] == "pgwarden-read-pods"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "pgwarden",
                                    "namespace": "pgwarden"}]


def test_host_namespaces_and_only_the_three_capabilities(pod, engine):
    assert pod["hostPID"] is True       # every workload's /proc/PID, for identity
    assert pod["hostNetwork"] is True   # listens on the node's IP, which pods reach
    sc = engine["securityContext"]
    assert sc.get("privileged", False) is False
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert sorted(sc["capabilities"]["add"]) == sorted(deploy.ENGINE_CAPABILITIES)
    assert sc["runAsUser"] == 0 and sc["readOnlyRootFilesystem"] is True
    for init in pod.get("initContainers", []):
        assert init["securityContext"]["capabilities"] == {"drop": ["ALL"]}, init["name"]
        assert init["securityContext"]["allowPrivilegeEscalation"] is False


def test_host_mounts(pod, engine, config):
    m = mounts(engine, pod)
    bpffs, bpffs_mount = m["/sys/fs/bpf"]
    assert bpffs["hostPath"]["path"] == "/sys/fs/bpf" and not bpffs_mount.get("readOnly")
    assert config["intercept"]["bpffs"].startswith("/sys/fs/bpf/")
    cgroup, _ = m["/sys/fs/cgroup"]
    assert cgroup["hostPath"]["path"] == "/sys/fs/cgroup"
    run, _ = m[os.path.dirname(config["admin_socket"])]
    assert run["hostPath"]["path"] == "/run/pgwarden"
    state, _ = m[config["state_dir"]]
    assert state["hostPath"]["path"] == "/var/lib/pgwarden"
    secrets, secrets_mount = m["/etc/pgwarden/secrets"]
    assert secrets["secret"]["secretName"] == "pgwarden-secrets" and secrets_mount["readOnly"]
    assert secrets["secret"]["defaultMode"] == 0o400  # password and key files: owner only
    # Nothing else from the host: no /, no /etc, no docker or containerd socket.
    host_paths = {v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    assert host_paths == {"/sys/fs/bpf", "/sys/fs/cgroup", "/run/pgwarden", "/var/lib/pgwarden"}


def test_secret_keys_are_the_files_the_config_names(objects, config):
    keys = set(objects[("Secret", "pgwarden-secrets")]["stringData"])
    named = {u["password_file"] for u in config["upstreams"] if "password_file" in u}
    named.add(config["mask_hash_key_file"])
    assert {os.path.basename(p) for p in named} <= keys
    assert all(os.path.dirname(p) == "/etc/pgwarden/secrets" for p in named)
    for value in objects[("Secret", "pgwarden-secrets")]["stringData"].values():
        assert value.startswith("REPLACE-"), "the committed Secret holds placeholders only"


def test_probes_run_pgwarden_status_on_the_admin_socket(engine, config):
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        command = engine[probe]["exec"]["command"]
        assert command == ["/usr/bin/pgwarden", "status", "--admin-socket",
                           config["admin_socket"]], (probe, command)


def test_termination_drains_and_updates_surge_first(daemonset, pod, config):
    grace = config.get("shutdown_grace", "30s")
    assert grace.endswith("s")
    assert pod["terminationGracePeriodSeconds"] > int(grace[:-1])
    update = daemonset["spec"]["updateStrategy"]
    assert update["type"] == "RollingUpdate"
    assert update["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}


def test_node_name_and_resources(engine):
    env = {e["name"]: e for e in engine["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    for kind in ("requests", "limits"):
        assert set(engine["resources"][kind]) == {"cpu", "memory"}, kind


def test_the_rendered_config_passes_policy_check(tmp_path, pod, engine, objects):
    """The init container's own command puts the node's IP in; the result,
    with the Secret's files, is a config the engine accepts."""
    (init,) = pod["initContainers"]
    template = tmp_path / "template"
    rendered = tmp_path / "rendered"
    secrets = tmp_path / "secrets"
    for d in (template, rendered, secrets):
        d.mkdir()
    text = objects[("ConfigMap", "pgwarden-config")]["data"]["pgwarden.yaml"]
    (template / "pgwarden.yaml").write_text(text.replace("/etc/pgwarden/secrets", str(secrets)))
    for name, value in objects[("Secret", "pgwarden-secrets")]["stringData"].items():
        (secrets / name).write_text(value)
        (secrets / name).chmod(0o400)
    m = mounts(init, pod)
    template_dir = next(p for p, (v, _) in m.items() if "configMap" in v)
    rendered_dir = next(p for p, (v, _) in m.items() if "emptyDir" in v)
    script = init["command"][2].replace(template_dir, str(template)).replace(rendered_dir, str(rendered))
    env = {**os.environ, "HOST_IP": "10.11.12.13"}
    subprocess.run(init["command"][:2] + [script], env=env, check=True, timeout=20)
    out = (rendered / "pgwarden.yaml").read_text()
    assert "listen: 10.11.12.13:15432" in out and "${HOST_IP}" not in out
    # The engine reads the rendered file where the init container wrote it.
    # --stay-after-handover: the old pod idles after a rolling update hands the
    # pins over, instead of exiting and being restarted to take them back.
    assert engine["args"] == ["run", "--config", f"{rendered_dir}/pgwarden.yaml", "--stay-after-handover"]
    assert mounts(engine, pod)[rendered_dir][0]["name"] == m[rendered_dir][0]["name"]
    check = subprocess.run([binary_path(), "policy", "check", str(rendered / "pgwarden.yaml")],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "warning" not in check.stderr, check.stderr
