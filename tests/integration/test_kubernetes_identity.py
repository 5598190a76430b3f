"""Kubernetes identities end to end: pods resolved through an API server.

A fake API server (harness/fake_kube_api.py: HTTPS with a CA this test makes
with openssl, a bearer token checked on every request, PodList and watch
events in the real shapes, 410 Gone) describes the pods of node-a. Test
cgroups named as the kubelet names them, for containerd, CRI-O and docker
under the systemd and cgroupfs drivers, sit under the intercepted cgroup;
a client in each connects to the database's own address and real eBPF
programs bring it to pgwarden, which reads the pod uid from the cgroup path
and matches `k8s:` selectors against what the API server said.

Runs as root; skips where BPF is unavailable (fails under
PGWARDEN_REQUIRE_BPF=1), like test_intercept.py.
"""

import json
import re
import struct
import subprocess
import tempfile
import time

import pytest

from harness import intercept as ic
from harness.fake_kube_api import FakeKubeApi, container_id, make_tls_files, pod_object, pod_uid
from harness.pgwarden import Pgwarden

DB_HOST = "127.0.0.3"
DB_PORT = ic.db_port(DB_HOST)
NODE = "node-a"


bpf_privileges, db, client_script, rig = ic.module_fixtures(DB_HOST, DB_PORT)


@pytest.fixture
def api():
    with tempfile.TemporaryDirectory(prefix=f"{ic.NAME_PREFIX}kube-") as directory:
        server = FakeKubeApi(directory, node=NODE).start()
        yield server
        server.stop()


# ---- pods and their cgroups ----------------------------------------------

# The kubelet's cgroup names: (driver, runtime) -> segments below the root.
def kubelet_segments(layout, qos, uid, cid):
    u = uid.replace("-", "_")
    systemd_qos = [] if qos == "guaranteed" else [f"kubepods-{qos}.slice"]
    systemd_pod = f"kubepods-pod{u}.slice" if qos == "guaranteed" else f"kubepods-{qos}-pod{u}.slice"
    cgroupfs_qos = [] if qos == "guaranteed" else [qos]
    return {
        "systemd/containerd": ["kubepods.slice", *systemd_qos, systemd_pod, f"cri-containerd-{cid}.scope"],
        "systemd/crio": ["kubepods.slice", *systemd_qos, systemd_pod, f"crio-{cid}.scope"],
        "systemd/docker": ["kubepods.slice", *systemd_qos, systemd_pod, f"docker-{cid}.scope"],
        "cgroupfs/containerd": ["kubepods", *cgroupfs_qos, f"pod{uid}", cid],
        "cgroupfs/crio": ["kubepods", *cgroupfs_qos, f"pod{uid}", f"crio-{cid}"],
        "cgroupfs/docker": ["kubepods", *cgroupfs_qos, f"pod{uid}", cid],
    }[layout]


def nested_cgroup(parent, segments):
    """parent/seg1/seg2/...: existing levels are reused."""
    cg = parent
    for seg in segments:
        existing = [c for c in cg.children if c.path.rsplit("/", 1)[1] == seg]
        cg = existing[0] if existing else cg.child(seg)
    return cg


class Workload:
    """A pod in the fake API server and a cgroup on this host named as the
    kubelet would name its container's."""

    def __init__(self, rig, api, name, namespace, service_account, labels, layout,
                 qos="burstable", node=NODE, publish=True, uid=None):
        self.uid = uid or pod_uid()
        self.cid = container_id()
        self.name, self.namespace = name, namespace
        self.cgroup = nested_cgroup(rig.clients, kubelet_segments(layout, qos, self.uid, self.cid))
        self.pod = pod_object(name, namespace, self.uid, node, service_account, labels,
                              container=self.cid, runtime=layout.split("/")[1])
        if publish:
            api.add_pod(self.pod)


def start_pgwarden(rig, api, identities, policies, kubernetes=None):
    overrides = rig.config_overrides(identities=identities, policies=policies)
    overrides["kubernetes"] = dict(kubernetes or api.kubernetes_config())
    # The test's kubelet tree starts below the intercepted cgroup.
    overrides["kubernetes"].setdefault("cgroup_root", rig.clients.path)
    pw = Pgwarden(rig.db, overrides=overrides, listen_host="127.0.0.1")
    return rig.adopt(pw)


def kube_status(rig, pw):
    return rig.status(pw)["kubernetes"]


def wait_for(predicate, timeout=15, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def wait_synced(rig, pw, pods=None):
    def ready():
        st = kube_status(rig, pw)
        return st["connected"] and (pods is None or st["pods"] == pods)
    assert wait_for(ready), kube_status(rig, pw)


def served(report):
    return report["kind"] == "ready" and "query_error" not in report


def refusal(report):
    assert report["kind"] == "error", report
    fields = report["fields"]
    assert (fields["S"], fields["C"]) == ("FATAL", "28000"), fields
    return fields["M"]


BILLING = [{"name": "billing-agent",
            "match": {"k8s": {"serviceAccount": "billing-agent", "labels": {"app": "billing"}}}},
           {"name": "reports", "match": {"k8s": {"namespace": "analytics-*", "serviceAccount": "reporter"}}}]
BILLING_POLICIES = [{"identity": "billing-agent", "allow": ["select"]},
                    {"identity": "reports", "allow": ["set"]}]


# ---- the policy picks the right workload ----------------------------------

def test_service_account_and_label_pick_the_workload_in_every_cgroup_layout(rig, api, db):
    w = {
        "billing-containerd": Workload(rig, api, "billing-0", "billing", "billing-agent",
                                       {"app": "billing", "tier": "api"}, "systemd/containerd"),
        "billing-cgroupfs": Workload(rig, api, "billing-1", "billing", "billing-agent",
                                     {"app": "billing"}, "cgroupfs/containerd", qos="guaranteed"),
        "billing-docker": Workload(rig, api, "billing-2", "billing", "billing-agent",
                                   {"app": "billing"}, "cgroupfs/docker", qos="besteffort"),
        "billing-crio-systemd": Workload(rig, api, "billing-3", "billing", "billing-agent",
                                         {"app": "billing"}, "systemd/crio", qos="guaranteed"),
        # Right service account, wrong label; right label, wrong account.
        "other-label": Workload(rig, api, "worker-0", "billing", "billing-agent",
                                {"app": "worker"}, "systemd/crio"),
        "other-account": Workload(rig, api, "billing-debug", "billing", "default",
                                  {"app": "billing"}, "systemd/docker", qos="besteffort"),
        "reports": Workload(rig, api, "reporter-0", "analytics-eu", "reporter",
                            {"app": "reports"}, "cgroupfs/crio"),
        # A pod of another node, whose uid a workload here might claim.
        "elsewhere": Workload(rig, api, "billing-9", "billing", "billing-agent",
                              {"app": "billing"}, "systemd/containerd", node="node-b"),
    }
    pw = start_pgwarden(rig, api, BILLING, BILLING_POLICIES)
    wait_synced(rig, pw, pods=7)

    for key in ("billing-containerd", "billing-cgroupfs", "billing-docker", "billing-crio-systemd"):
        report = rig.probe(cgroup=w[key].cgroup)
        assert served(report), (key, report)
        assert report["rows"] == [[db.app_user]], (key, report)

    for key in ("other-label", "other-account"):
        message = refusal(rig.probe(cgroup=w[key].cgroup))
        assert f'pod "billing/{w[key].name}"' in message, message
        assert "no identity matches" in message, message

    # The second identity, by namespace glob: its policy refuses SELECT.
    report = rig.probe(cgroup=w["reports"].cgroup)
    assert report["kind"] == "ready", report
    assert report["query_error"]["C"] == "42501", report
    assert "reports" in report["query_error"]["M"], report

    # Not on this node's list: unknown, so no k8s selector can match.
    message = refusal(rig.probe(cgroup=w["elsewhere"].cgroup))
    assert f"pod {w['elsewhere'].uid} not resolved: pod unknown" in message, message

    opened = [line for line in pw.log_text().splitlines() if re.search(r"session \S+ opened", line)]
    assert any("identity=billing-agent" in line and 'pod "billing/billing-0"' in line
               and 'serviceAccount "billing-agent"' in line for line in opened), opened
    assert any("identity=reports" in line and 'pod "analytics-eu/reporter-0"' in line
               for line in opened), opened

    # What pgwarden asked: only this node's pods, always with the token.
    assert api.requests, "pgwarden never asked the API server"
    assert all(authorized for _, _, authorized in api.requests), api.requests
    assert all(query.get("fieldSelector") == f"spec.nodeName={NODE}" for _, query, _ in api.requests)
    assert api.requests_with("watch", "1"), api.requests
    st = kube_status(rig, pw)
    assert st["connected"] and st["pods"] == 7 and st["last_error"] == "", st
    assert st["node"] == NODE and st["api_server"] == api.url(), st


def test_a_cgroup_outside_the_kubelet_tree_cannot_claim_a_pod(rig, api, db):
    """A process with a cgroup subtree of its own (systemd delegation, a
    rootless container engine) makes kubepods/pod<victim uid>/ there: the uid
    is real, the API server knows it, and still it must not resolve."""
    victim = Workload(rig, api, "billing-0", "billing", "billing-agent", {"app": "billing"},
                      "cgroupfs/containerd")
    delegated = rig.clients.child("user.slice")
    pw = start_pgwarden(rig, api, BILLING, BILLING_POLICIES)
    wait_synced(rig, pw, pods=1)
    for layout in ("cgroupfs/containerd", "systemd/containerd"):
        forged = nested_cgroup(delegated, kubelet_segments(layout, "burstable", victim.uid, victim.cid))
        message = refusal(rig.probe(cgroup=forged))
        assert f"pod {victim.uid} not resolved: the cgroup is not in the kubelet's tree" in message, message
    assert served(rig.probe(cgroup=victim.cgroup))


def test_recording_header_names_namespace_pod_and_service_account(rig, api, db, tmp_path):
    pod = Workload(rig, api, "billing-0", "billing", "billing-agent", {"app": "billing"},
                   "systemd/containerd")
    overrides = rig.config_overrides(identities=BILLING, policies=BILLING_POLICIES)
    overrides["kubernetes"] = api.kubernetes_config(cgroup_root=rig.clients.path)
    pw = Pgwarden(rig.db, overrides=overrides, listen_host="127.0.0.1")
    key = tmp_path / "recording.key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True,
                   capture_output=True)
    key.chmod(0o600)
    (tmp_path / "rec").mkdir()
    pw.config["recording"] = {"dir": str(tmp_path / "rec"), "signing_key_file": str(key)}
    rig.adopt(pw)
    wait_synced(rig, pw, pods=1)
    assert served(rig.probe(cgroup=pod.cgroup))

    # The first block holds the header record (format: docs/recording-format.md).
    def header():
        files = sorted((tmp_path / "rec").glob("*.pgwrec"))
        if not files:
            return None
        data = files[0].read_bytes()
        block = data[9 + 32:]
        if len(block) < 28 or block[:4] != b"PGWB":
            return None
        flags = block[4]
        body_len = struct.unpack("<I", block[20:24])[0]
        body = block[28:28 + body_len]
        if len(body) < body_len:
            return None
        if flags & 1:
            body = subprocess.run(["zstd", "-dc"], input=body, capture_output=True, check=True).stdout
        length = struct.unpack("<I", body[9:13])[0]
        return json.loads(body[13:13 + length])
    head = wait_for(header, timeout=10)
    assert head is not None, list((tmp_path / "rec").glob("*"))
    who = head["identity"]
    assert (who["namespace"], who["pod"], who["serviceAccount"], who["pod_uid"]) == \
        ("billing", "billing-0", "billing-agent", pod.uid), who
    assert who["name"] == "billing-agent", who


# ---- pods come and go ------------------------------------------------------

def test_pod_deleted_and_recreated_under_a_new_uid_is_resolved_again(rig, api, db):
    first = Workload(rig, api, "billing-0", "billing", "billing-agent", {"app": "billing"},
                     "systemd/containerd")
    pw = start_pgwarden(rig, api, BILLING, BILLING_POLICIES)
    wait_synced(rig, pw, pods=1)
    assert served(rig.probe(cgroup=first.cgroup))

    # The StatefulSet replaces the pod: same name, new uid, new cgroup.
    api.delete_pod(first.uid)
    assert wait_for(lambda: kube_status(rig, pw)["pods"] == 0), kube_status(rig, pw)
    message = refusal(rig.probe(cgroup=first.cgroup))
    assert f"pod {first.uid} not resolved: pod unknown" in message, message

    second = Workload(rig, api, "billing-0", "billing", "billing-agent", {"app": "billing"},
                      "cgroupfs/containerd")
    assert second.uid != first.uid
    assert wait_for(lambda: served(rig.probe(cgroup=second.cgroup))), pw.log_tail()
    # The old uid stays unknown: a process left in its cgroup gets nothing.
    assert "pod unknown" in refusal(rig.probe(cgroup=first.cgroup))

    # A label change arrives as MODIFIED and takes effect for new sessions.
    api.modify_pod(second.uid, labels={"app": "retired"})
    assert wait_for(lambda: rig.probe(cgroup=second.cgroup)["kind"] == "error"), pw.log_tail()


def test_an_open_session_outlives_its_pods_deletion(rig, api, db):
    """Documented: a session keeps the identity it started with."""
    pod = Workload(rig, api, "billing-0", "billing", "billing-agent", {"app": "billing"},
                   "cgroupfs/containerd")
    pw = start_pgwarden(rig, api, BILLING, BILLING_POLICIES)
    wait_synced(rig, pw, pods=1)
    from harness.clients import client_env
    psql = subprocess.Popen(rig._wrap(rig.psql_argv("-At", "-c", "SELECT 1", "-c", "SELECT pg_sleep(2)",
                                                    "-c", "SELECT 2"), pod.cgroup, None, None),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=client_env(),
                            stdin=subprocess.DEVNULL)
    time.sleep(0.7)
    api.delete_pod(pod.uid)
    assert wait_for(lambda: kube_status(rig, pw)["pods"] == 0), kube_status(rig, pw)
    out, err = psql.communicate(timeout=30)
    assert psql.returncode == 0, err
    assert out.split() == ["1", "2"], (out, err)
    # A new session from the deleted pod's cgroup is refused.
    assert "pod unknown" in refusal(rig.probe(cgroup=pod.cgroup))


def test_410_gone_lists_again_and_sees_what_the_watch_missed(rig, api, db):
    pod = Workload(rig, api, "billing-0", "billing", "billing-agent", {"app": "pending"},
                   "systemd/crio")
    pw = start_pgwarden(rig, api, BILLING, BILLING_POLICIES)
    wait_synced(rig, pw, pods=1)
    assert rig.probe(cgroup=pod.cgroup)["kind"] == "error"
    lists_before = kube_status(rig, pw)["lists"]

    # etcd compacted: the change comes with no event, the open watch gets
    # ERROR 410, and only a new list shows the label.
    api.modify_pod(pod.uid, labels={"app": "billing"}, silently=True)
    api.compact()
    assert wait_for(lambda: kube_status(rig, pw)["lists"] > lists_before), kube_status(rig, pw)
    assert wait_for(lambda: served(rig.probe(cgroup=pod.cgroup))), pw.log_tail()
    assert "410 Gone" in pw.log_text()
    assert kube_status(rig, pw)["errors"] == 0, kube_status(rig, pw)


# ---- the API server down: refused with the reason, never let through ---------

def test_api_server_down_refuses_unresolved_pods_with_the_reason(rig, api, db):
    cached = Workload(rig, api, "billing-0", "billing", "billing-agent", {"app": "billing"},
                      "systemd/containerd")
    api.stop()  # down before pgwarden ever reached it
    # A catch-all for another cgroup: the refusal must come from the missing
    # pod data, not from an empty identity list.
    identities = BILLING + [{"name": "ops", "match": {"cgroup": rig.clients.path + "/ops"}}]
    pw = start_pgwarden(rig, api, identities, BILLING_POLICIES + [{"identity": "ops", "allow": ["select"]}])
    assert wait_for(lambda: kube_status(rig, pw)["errors"] > 0), kube_status(rig, pw)
    st = kube_status(rig, pw)
    assert not st["connected"] and st["last_error"], st
    message = refusal(rig.probe(cgroup=cached.cgroup))
    assert f"pod {cached.uid} not resolved: API server unreachable" in message, message

    # Back up: resolved after the retry.
    api.start()
    wait_synced(rig, pw, pods=1)
    assert wait_for(lambda: served(rig.probe(cgroup=cached.cgroup))), pw.log_tail()

    # Down again: the pod known before stays resolved; one the API server
    # never told about is refused, with the reason.
    newcomer = Workload(rig, api, "billing-1", "billing", "billing-agent", {"app": "billing"},
                        "cgroupfs/docker", publish=False)
    api.stop()
    assert wait_for(lambda: not kube_status(rig, pw)["connected"]), kube_status(rig, pw)
    assert served(rig.probe(cgroup=cached.cgroup))
    message = refusal(rig.probe(cgroup=newcomer.cgroup))
    assert f"pod {newcomer.uid} not resolved: API server unreachable" in message, message
    metrics = ic._run(["curl", "-sS", "--unix-socket", pw.config["admin_socket"],
                       "http://pgwarden/metrics"]).stdout
    assert "pgwarden_kubernetes_connected 0" in metrics, metrics
    assert "pgwarden_kubernetes_pods 1" in metrics, metrics


def test_wrong_token_never_resolves_and_never_lets_through(rig, api, db, tmp_path):
    pod = Workload(rig, api, "billing-0", "billing", "billing-agent", {"app": "billing"},
                   "systemd/containerd")
    wrong_token = tmp_path / "token"
    wrong_token.write_text("not-the-token\n")
    pw = start_pgwarden(rig, api, BILLING, BILLING_POLICIES,
                        kubernetes=api.kubernetes_config(token_file=str(wrong_token)))
    assert wait_for(lambda: "401" in kube_status(rig, pw)["last_error"]), kube_status(rig, pw)
    assert "API server unreachable" in refusal(rig.probe(cgroup=pod.cgroup))
    assert api.requests and not any(authorized for _, _, authorized in api.requests)


def test_api_server_with_a_certificate_of_another_ca_is_not_trusted(rig, api, db, tmp_path):
    # pgwarden does not talk to it, so it never sends it the token.
    other_ca, _, _ = make_tls_files(str(tmp_path))
    pod = Workload(rig, api, "billing-0", "billing", "billing-agent", {"app": "billing"},
                   "cgroupfs/crio")
    pw = start_pgwarden(rig, api, BILLING, BILLING_POLICIES,
                        kubernetes=api.kubernetes_config(ca_file=other_ca))
    assert wait_for(lambda: kube_status(rig, pw)["errors"] > 0), kube_status(rig, pw)
    assert "API server unreachable" in refusal(rig.probe(cgroup=pod.cgroup))
    assert api.requests == [], api.requests
    assert api.token not in pw.log_text()


# ---- where the resolver finds the API server and the node ---------------------

def test_without_an_api_server_or_a_node_name_pgwarden_does_not_start(db, api, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("NODE_NAME", raising=False)
    # k8s selectors and no kubernetes section, outside a pod: nothing could
    # ever resolve, so it says so instead of refusing every pod later.
    pw = Pgwarden(db, overrides={"identities": BILLING, "policies": BILLING_POLICIES})
    try:
        with pytest.raises(AssertionError) as exc:
            pw.start()
        assert "no API server to resolve pods through" in str(exc.value), str(exc.value)
    finally:
        pw.close()
    pw = Pgwarden(db, overrides={"identities": BILLING, "policies": BILLING_POLICIES,
                                 "kubernetes": {"api_server": api.url(), "ca_file": api.ca_file,
                                                "token_file": api.token_file}})
    try:
        with pytest.raises(AssertionError) as exc:
            pw.start()
        assert "no node name" in str(exc.value) and "NODE_NAME" in str(exc.value), str(exc.value)
    finally:
        pw.close()


def test_in_cluster_defaults_and_node_name_from_the_environment(rig, api, db, monkeypatch):
    pod = Workload(rig, api, "billing-0", "billing", "billing-agent", {"app": "billing"},
                   "systemd/docker")
    Workload(rig, api, "other-node", "billing", "billing-agent", {"app": "billing"},
             "systemd/docker", node="node-b")
    # What a pod gets from the kubelet: KUBERNETES_SERVICE_HOST/PORT, and the
    # node name from the downward API in an environment variable.
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(api.port))
    monkeypatch.setenv("PGW_TEST_NODE", NODE)
    pw = start_pgwarden(rig, api, BILLING, BILLING_POLICIES,
                        kubernetes={"token_file": api.token_file, "ca_file": api.ca_file,
                                    "node_name_env": "PGW_TEST_NODE"})
    wait_synced(rig, pw, pods=1)
    st = kube_status(rig, pw)
    assert st["api_server"] == f"https://127.0.0.1:{api.port}" and st["node"] == NODE, st
    assert served(rig.probe(cgroup=pod.cgroup))
