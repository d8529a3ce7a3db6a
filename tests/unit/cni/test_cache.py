"""The result cache, in libcni's layout and format."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from adapters.cni.cache import CacheEntry, ResultCache

ID = "a" * 64


def entry(**kw: object) -> CacheEntry:
    fields: dict[str, object] = {
        "container_id": ID,
        "network_name": "podnet",
        "ifname": "eth0",
        "config": b'{"cniVersion":"1.0.0","name":"podnet","plugins":[{"type":"bridge"}]}',
        "result": {"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/24"}]},
        "netns": "/var/run/netns/hexcri-x",
        "cni_args": (("IgnoreUnknown", "1"), ("K8S_POD_NAME", "web")),
        "capability_args": {"portMappings": [{"hostPort": 80}]},
    }
    fields.update(kw)
    return CacheEntry(**fields)  # type: ignore[arg-type]


def test_file_name_and_document_follow_libcni(tmp_path: Path) -> None:
    cache = ResultCache(str(tmp_path))
    cache.write(entry())
    path = tmp_path / "results" / f"podnet-{ID}-eth0"
    doc = json.loads(path.read_text())
    assert doc["kind"] == "cniCacheV1"
    assert doc["containerId"] == ID
    assert doc["ifName"] == "eth0"
    assert doc["networkName"] == "podnet"
    assert base64.b64decode(doc["config"]) == entry().config
    assert doc["cniArgs"] == [["IgnoreUnknown", "1"], ["K8S_POD_NAME", "web"]]
    assert doc["capabilityArgs"] == {"portMappings": [{"hostPort": 80}]}
    assert doc["result"]["ips"] == [{"address": "10.0.0.2/24"}]
    assert os.listdir(tmp_path / "results") == [path.name]  # no temp file left behind


def test_round_trip_find_and_delete(tmp_path: Path) -> None:
    cache = ResultCache(str(tmp_path))
    cache.write(entry())
    cache.write(entry(network_name="other"))
    cache.write(entry(container_id="b" * 64))
    found = cache.find(ID, "eth0")
    assert sorted(e.network_name for _, e in found) == ["other", "podnet"]
    assert found[0][1] == entry(network_name=found[0][1].network_name)
    for path, _ in found:
        cache.delete(path)
        cache.delete(path)  # idempotent
    assert [e.container_id for e in cache.entries()] == ["b" * 64]


def test_entries_of_other_runtimes_are_not_ours(tmp_path: Path) -> None:
    cache = ResultCache(str(tmp_path))
    foreign = entry(owned=False, container_id="c" * 64).to_json()
    assert "hexcri" not in foreign
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / f"podnet-{'c' * 64}-eth0").write_text(json.dumps(foreign))
    (tmp_path / "results" / "garbage").write_text("{")
    cache.write(entry())
    assert {(e.container_id, e.owned) for e in cache.entries()} == {
        (ID, True),
        ("c" * 64, False),
    }
