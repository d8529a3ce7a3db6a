"""Hypothesis over generated manifests: valid ones convert; an unsupported field or a bad
value anywhere gives an error naming that field's path."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.manifest.convert import CONTAINER_NAME, POD_UID, NodeFacts, plan_manifest
from adapters.manifest.load import ManifestError, parse_manifest

NODE = NodeFacts(memory_capacity=8 << 30)
label = st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
cpu = st.one_of(st.integers(1, 4000).map(lambda m: f"{m}m"), st.integers(1, 4))
memory = st.one_of(st.integers(1, 512).map(lambda m: f"{m}Mi"), st.integers(1 << 20, 1 << 30))


@st.composite
def resources(draw: st.DrawFn) -> dict[str, Any]:
    limits = draw(st.fixed_dictionaries({}, optional={"cpu": cpu, "memory": memory}))
    requests = {k: v for k, v in limits.items() if draw(st.booleans())}
    return {"limits": limits, "requests": requests}


@st.composite
def containers(draw: st.DrawFn, names: list[str], volumes: list[str]) -> list[dict[str, Any]]:
    out = []
    for name in names:
        c: dict[str, Any] = {"name": name, "image": draw(st.sampled_from(["busybox", "a/b:1"]))}
        if draw(st.booleans()):
            c["command"] = draw(st.lists(st.text("abc$() ", max_size=8), max_size=3))
        if draw(st.booleans()):
            c["env"] = [
                {"name": n.upper().replace("-", "_"), "value": draw(st.text("xy$()", max_size=6))}
                for n in draw(st.lists(label, max_size=3, unique=True))
            ]
        if draw(st.booleans()):
            c["ports"] = [
                {
                    "containerPort": draw(st.integers(1, 65535)),
                    "hostPort": draw(st.integers(0, 65535)),
                }
            ]
        if draw(st.booleans()):
            c["resources"] = draw(resources())
        if volumes and draw(st.booleans()):
            chosen = draw(st.lists(st.sampled_from(volumes), unique=True, min_size=1))
            c["volumeMounts"] = [{"name": v, "mountPath": f"/mnt/{v}"} for v in chosen]
        if draw(st.booleans()):
            c["securityContext"] = {
                "runAsUser": draw(st.integers(1, 65535)),
                "readOnlyRootFilesystem": draw(st.booleans()),
                "capabilities": {"drop": ["ALL"]},
            }
        out.append(c)
    return out


@st.composite
def volume(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """emptyDir, hostPath, or a configMap/secret volume of the ConfigMap/Secret `shared`."""
    kind = draw(st.sampled_from(["emptyDir", "hostPath", "configMap", "secret"]))
    if kind == "emptyDir":
        return {"name": name, "emptyDir": {"medium": draw(st.sampled_from(["", "Memory"]))}}
    if kind == "hostPath":
        kinds = ["", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"]
        return {
            "name": name,
            "hostPath": {"path": f"/srv/{name}", "type": draw(st.sampled_from(kinds))},
        }
    items = draw(st.lists(st.sampled_from(["a", "b"]), unique=True, max_size=2))
    source: dict[str, Any] = {"items": [{"key": k, "path": f"sub/{k}"} for k in items]}
    if kind == "configMap":
        return {"name": name, "configMap": {"name": "shared", **source}}
    return {"name": name, "secret": {"secretName": "shared", **source}}


SHARED = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"},
     "data": {"a": "1"}, "binaryData": {"b": "Mg=="}},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shared"},
     "data": {"a": "MQ=="}, "stringData": {"b": "2"}},
]  # fmt: skip


@st.composite
def pods(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(label, min_size=1, max_size=5, unique=True))
    split = draw(st.integers(0, len(names) - 1))
    volumes = draw(st.lists(label, max_size=3, unique=True))
    spec: dict[str, Any] = {
        "restartPolicy": draw(st.sampled_from(["Always", "OnFailure", "Never"])),
        "containers": draw(containers(names[split:], volumes)),
        "volumes": [draw(volume(v)) for v in volumes],
    }
    if draw(st.booleans()):
        spec["securityContext"] = {
            "runAsUser": draw(st.integers(1, 65535)),
            "supplementalGroups": draw(st.lists(st.integers(0, 65535), max_size=2)),
            "seccompProfile": {"type": draw(st.sampled_from(["RuntimeDefault", "Unconfined"]))},
        }
    if draw(st.booleans()):
        spec["dnsPolicy"] = draw(st.sampled_from(["ClusterFirst", "Default", "None"]))
        spec["dnsConfig"] = {
            "nameservers": ["10.0.0.10"],
            "searches": draw(st.lists(label, max_size=2)),
            "options": [{"name": "ndots", "value": "2"}],
        }
    if split:
        spec["initContainers"] = draw(containers(names[:split], volumes))
    if draw(st.booleans()):
        spec["hostNetwork"] = True
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": draw(label), "labels": {"app": draw(label)}},
        "spec": spec,
    }


def convert(doc: dict[str, Any]) -> None:
    text = yaml.safe_dump_all([doc, *SHARED])
    for plan in plan_manifest(parse_manifest(text), "/pods/p.yaml", NODE):
        for c in (*plan.pod.spec.init_containers, *plan.pod.spec.containers):
            paths = {v.name: f"/v/{v.name}" for v in plan.volumes}
            config = plan.container_config(c, 0, "10.0.0.2", paths)
            assert config.labels[CONTAINER_NAME] == c.name
            assert config.labels[POD_UID] == plan.uid
            assert config.resources is not None and config.resources.cpu_shares >= 2


@settings(max_examples=80, deadline=None)
@given(pods())
def test_valid_manifests_convert(doc: dict[str, Any]) -> None:
    convert(doc)


def _mappings(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every object of the pod (not free-form maps: labels, limits) with its field path."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if path not in ("metadata.labels",) and not path.endswith(("limits", "requests")):
            found.append((path, node))
        for key, value in node.items():
            found += _mappings(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _mappings(value, f"{path}[{i}]")
    return found


@settings(max_examples=80, deadline=None)
@given(pods(), st.data())
def test_an_unsupported_field_is_named(doc: dict[str, Any], data: st.DataObject) -> None:
    bad = copy.deepcopy(doc)
    candidates = [(p, m) for p, m in _mappings(bad) if p]
    path, mapping = data.draw(st.sampled_from(candidates))
    mapping["unsupportedThing"] = 1
    try:
        convert(bad)
    except ManifestError as exc:
        assert f"{path}.unsupportedThing: not supported" in str(exc)
    else:
        raise AssertionError(f"{path}.unsupportedThing was accepted")


BAD_VALUES = {
    "image": "",
    "name": "bad name!",
    "restartPolicy": "Sometimes",
    "containerPort": 70000,
    "mountPath": "relative/path",
    "runAsUser": -1,
    "medium": "HugePages",
}


@settings(max_examples=80, deadline=None)
@given(pods(), st.data())
def test_a_bad_value_is_named(doc: dict[str, Any], data: st.DataObject) -> None:
    bad = copy.deepcopy(doc)
    candidates = [
        (f"{p}.{k}" if p else k, m, k)
        for p, m in _mappings(bad)
        for k in m
        if k in BAD_VALUES and not p.startswith("metadata")
    ]
    path, mapping, key = data.draw(st.sampled_from(candidates))
    mapping[key] = BAD_VALUES[key]
    try:
        convert(bad)
    except ManifestError as exc:
        assert f"{path}:" in str(exc)
    else:
        raise AssertionError(f"{path} = {BAD_VALUES[key]!r} was accepted")
