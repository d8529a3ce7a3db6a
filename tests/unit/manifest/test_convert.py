"""Pod manifests → domain configs, as kubelet converts them; bad input names its field."""

from __future__ import annotations

import pytest

from adapters.manifest.convert import (
    CONFIG_HASH,
    NodeFacts,
    PodPlan,
    oom_score_adj,
    plan_manifest,
    pod_uid,
)
from adapters.manifest.expand import expand
from adapters.manifest.load import ManifestError, parse_manifest
from adapters.manifest.quantity import byte_count, millicores
from domain.model import DNSConfig, NamespaceMode, Protocol

GiB = 1 << 30
NODE = NodeFacts(
    memory_capacity=4 * GiB,
    host_dns=DNSConfig(servers=("10.0.0.53",), searches=("lan",), options=("ndots:1",)),
    log_root="/logs",
)


def plans(text: str, source: str = "/etc/pods/web.yaml") -> list[PodPlan]:
    return plan_manifest(parse_manifest(text), source, NODE)


def pod(containers: str, spec: str = "", meta: str = "") -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata:
  name: web
{meta}
spec:
{spec}
  containers:
{containers}
"""


ONE = """  - name: app
    image: busybox:1.36
"""


def resources(text: str) -> object:
    (plan,) = plans(pod(ONE + text))
    return plan.container_config(plan.pod.spec.containers[0], 0, "", {}).resources


def test_quantities() -> None:
    assert millicores("500m") == 500
    assert millicores(2) == 2000
    assert millicores("0.25") == 250
    assert byte_count("64Mi") == 64 << 20
    assert byte_count("1G") == 10**9
    assert byte_count("129e6") == 129_000_000


def test_metadata_labels_and_uid() -> None:
    (plan,) = plans(pod(ONE, meta="  namespace: edge\n  labels: {app: web}"))
    sandbox = plan.sandbox
    assert plan.uid == pod_uid("/etc/pods/web.yaml", "edge", "web")
    assert plan.uid != pod_uid("/etc/pods/other.yaml", "edge", "web")
    assert sandbox.metadata.name == "web" and sandbox.metadata.namespace == "edge"
    assert sandbox.labels == {
        "app": "web",
        "io.kubernetes.pod.name": "web",
        "io.kubernetes.pod.namespace": "edge",
        "io.kubernetes.pod.uid": plan.uid,
    }
    assert sandbox.annotations[CONFIG_HASH] == plan.hash
    assert sandbox.hostname == "web"
    assert sandbox.log_directory == f"/logs/edge_web_{plan.uid}"
    config = plan.container_config(plan.pod.spec.containers[0], 2, "10.1.0.5", {})
    assert config.labels["io.kubernetes.container.name"] == "app"
    assert config.log_path == "app/2.log"
    assert config.metadata.attempt == 2


def test_guaranteed_resources() -> None:
    res = resources("    resources:\n      limits: {cpu: 500m, memory: 64Mi}\n")
    assert res.cpu_shares == 512
    assert res.cpu_quota == 50_000
    assert res.cpu_period == 100_000
    assert res.memory_limit_in_bytes == 64 << 20
    assert res.oom_score_adj == -997


def test_best_effort_resources() -> None:
    res = resources("")
    assert res.cpu_shares == 2
    assert res.cpu_quota == 0
    assert res.memory_limit_in_bytes == 0
    assert res.oom_score_adj == 1000


def test_burstable_oom_score_from_the_memory_request() -> None:
    res = resources("    resources:\n      requests: {cpu: 100m, memory: 1Gi}\n")
    assert res.cpu_shares == 102
    assert res.oom_score_adj == 1000 - (1000 * GiB) // (4 * GiB)


def test_oom_score_adj_bounds() -> None:
    assert oom_score_adj("Burstable", 0, GiB) == 999
    assert oom_score_adj("Burstable", GiB, GiB) == 3
    assert oom_score_adj("Guaranteed", GiB, GiB) == -997


def test_env_field_refs_and_expansion() -> None:
    (plan,) = plans(
        pod(
            ONE
            + """    env:
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: URL, value: "http://$(IP):8080/$(MISSING)$$(IP)"}
    command: [echo, "$(POD)"]
"""
        )
    )
    config = plan.container_config(plan.pod.spec.containers[0], 0, "10.1.0.5", {})
    assert {kv.key: kv.value for kv in config.envs} == {
        "POD": "web",
        "IP": "10.1.0.5",
        "URL": "http://10.1.0.5:8080/$(MISSING)$(IP)",
    }
    assert config.command == ("echo", "web")
    assert expand("$(A)$", {"A": "x"}) == "x$"


def test_namespaces_ports_dns_and_security() -> None:
    (plan,) = plans(
        pod(
            ONE
            + """    ports:
    - {containerPort: 80, hostPort: 8080, protocol: UDP}
    - {containerPort: 81}
    securityContext:
      runAsUser: 1000
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities: {add: [NET_ADMIN], drop: [ALL]}
      seccompProfile: {type: RuntimeDefault}
""",
            spec="""  hostIPC: true
  shareProcessNamespace: true
  securityContext: {runAsGroup: 3000, supplementalGroups: [5]}
  dnsConfig:
    nameservers: [1.1.1.1]
    options: [{name: ndots, value: "5"}, {name: edns0}]
""",
        )
    )
    sandbox = plan.sandbox
    assert sandbox.security.namespace_options.ipc == NamespaceMode.NODE
    assert sandbox.security.namespace_options.pid == NamespaceMode.POD
    assert [(p.container_port, p.host_port, p.protocol) for p in sandbox.port_mappings] == [
        (80, 8080, Protocol.UDP)
    ]
    assert sandbox.dns_config == DNSConfig(
        servers=("10.0.0.53", "1.1.1.1"), searches=("lan",), options=("ndots:5", "edns0")
    )
    sec = plan.container_config(plan.pod.spec.containers[0], 0, "", {}).security
    assert (sec.run_as_user, sec.run_as_group, sec.supplemental_groups) == (1000, 3000, (5,))
    assert sec.readonly_rootfs and sec.no_new_privs
    assert sec.capabilities.add == ("NET_ADMIN",) and sec.capabilities.drop == ("ALL",)
    assert sec.seccomp.kind == "RuntimeDefault"


def test_volumes_mounts_and_files() -> None:
    text = (
        pod(
            ONE
            + """    volumeMounts:
    - {name: conf, mountPath: /etc/app, readOnly: true}
    - {name: data, mountPath: /data, subPath: sub}
""",
            spec="""  volumes:
  - {name: conf, configMap: {name: conf, items: [{key: a, path: dir/a.txt}]}}
  - {name: data, emptyDir: {medium: Memory}}
  - {name: tok, secret: {secretName: tok, defaultMode: 0400}}
""",
        )
        + """---
apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data: {a: hello, b: unused}
---
apiVersion: v1
kind: Secret
metadata: {name: tok}
data: {token: c2VjcmV0}
stringData: {plain: text}
"""
    )
    (plan,) = plans(text)
    conf, data, tok = plan.volumes
    assert [(f.path, f.content) for f in conf.files] == [("dir/a.txt", b"hello")]
    assert data.kind == "emptyDir" and data.memory
    assert {f.path: (f.content, f.mode) for f in tok.files} == {
        "token": (b"secret", 0o400),
        "plain": (b"text", 0o400),
    }
    config = plan.container_config(
        plan.pod.spec.containers[0], 0, "", {"conf": "/v/conf", "data": "/v/data", "tok": "/t"}
    )
    assert [(m.container_path, m.host_path, m.readonly) for m in config.mounts] == [
        ("/etc/app", "/v/conf", True),
        ("/data", "/v/data/sub", False),
    ]


def test_the_hash_follows_the_config_maps_it_uses() -> None:
    base = pod(ONE, spec="  volumes: [{name: c, configMap: {name: c}}]")
    cm = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: '%s'}\n"
    (one,) = plans(base + cm % "1")
    (two,) = plans(base + cm % "2")
    assert one.uid == two.uid
    assert one.hash != two.hash


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (pod(ONE + "    livenessProbe: {}\n"), "spec.containers[0].livenessProbe: not supported"),
        (pod("  - name: app\n"), "spec.containers[0].image: required"),
        (pod(ONE, spec="  nodeName: n1"), "spec.nodeName: not supported"),
        (pod(ONE + "    ports: [{containerPort: 0}]\n"),
         "spec.containers[0].ports[0].containerPort"),
        (pod(ONE + "    volumeMounts: [{name: x, mountPath: /x}]\n"),
         "spec.containers[0].volumeMounts[0].name: no volume named 'x'"),
        (pod(ONE + "    resources: {requests: {cpu: 2}, limits: {cpu: 1}}\n"),
         "spec.containers[0].resources.requests.cpu: must be less than or equal"),
        (pod(ONE + "    resources: {limits: {cpu: lots}}\n"),
         "spec.containers[0].resources.limits"),
        (pod(ONE + "    resources: {limits: {nvidia.com/gpu: 1}}\n"),
         "spec.containers[0].resources.limits.nvidia.com/gpu"),
        (pod(ONE + "  - name: app\n    image: busybox\n"),
         "spec.containers[1].name: container name 'app' is used twice"),
        (pod(ONE, spec="  volumes: [{name: v, configMap: {name: nope}}]"),
         "spec.volumes[0].configMap.name: no ConfigMap 'nope' in this file"),
        (pod(ONE, spec="  volumes: [{name: v}]"),
         "spec.volumes[0]: exactly one of emptyDir, hostPath, configMap, secret"),
        (pod(ONE, spec="  volumes: [{name: v, nfs: {server: x}}]"),
         "spec.volumes[0].nfs: not supported"),
        (pod(ONE + "    env: [{name: X, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]\n"),
         "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath"),
        (pod(ONE + "    securityContext: {runAsNonRoot: true, runAsUser: 0}\n"),
         "spec.containers[0].securityContext.runAsNonRoot: runAsUser is 0"),
        (pod(ONE.replace("app", "App")), "spec.containers[0].name: 'App' is not a DNS label"),
        ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
         "kind 'Deployment' is not supported"),
        ("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b}]}\n",
         "apiVersion: required"),
        ("a: [", "not valid YAML"),
    ],
)  # fmt: skip
def test_bad_manifests_name_the_field(text: str, message: str) -> None:
    with pytest.raises(ManifestError) as err:
        plans(text)
    assert message in str(err.value)
