"""Loading and validating the network configuration of the conf dir."""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from adapters.cni.config import ConfDir, load, parse
from adapters.cni.errors import CniConfigError, CniNotReady
from tests.unit.cni.conftest import write_conflist


def test_the_lexically_first_file_wins_across_extensions(tmp_path: Path) -> None:
    write_conflist(tmp_path, [{"type": "b"}], name="second", filename="20-b.conflist")
    (tmp_path / "10-a.conf").write_text(
        json.dumps({"cniVersion": "0.4.0", "name": "first", "type": "bridge", "bridge": "x"})
    )
    (tmp_path / "05-ignored.txt").write_text("{}")
    network = load(str(tmp_path))
    assert network.name == "first"
    assert network.source.endswith("10-a.conf")


def test_a_single_conf_becomes_a_one_plugin_list(tmp_path: Path) -> None:
    (tmp_path / "10-a.json").write_text(
        json.dumps({"cniVersion": "0.3.1", "name": "solo", "type": "bridge", "bridge": "br9"})
    )
    network = load(str(tmp_path))
    assert network.cni_version == "0.3.1"
    assert network.plugins == ({"type": "bridge", "bridge": "br9"},)
    assert json.loads(network.raw)["plugins"] == [{"type": "bridge", "bridge": "br9"}]


def test_a_conflist_keeps_its_bytes_and_disable_check(tmp_path: Path) -> None:
    path = write_conflist(tmp_path, [{"type": "a"}, {"type": "b"}])
    doc = json.loads(path.read_text())
    doc["disableCheck"] = True
    path.write_text(json.dumps(doc))
    network = load(str(tmp_path))
    assert network.plugin_types == ["a", "b"]
    assert network.disable_check
    assert network.raw == path.read_bytes()


def test_empty_or_missing_dir_is_not_ready(tmp_path: Path) -> None:
    with pytest.raises(CniNotReady, match="no network config found"):
        load(str(tmp_path))
    with pytest.raises(CniNotReady):
        load(str(tmp_path / "absent"))


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("not json", "invalid JSON"),
        ("[1, 2]", "not a JSON object"),
        ({"cniVersion": "1.0.0", "plugins": [{"type": "a"}]}, "missing network name"),
        ({"name": "n", "plugins": [{"type": "a"}]}, "missing cniVersion"),
        ({"name": "n", "cniVersion": "9.9.9", "plugins": [{"type": "a"}]}, "unsupported"),
        ({"name": "n", "cniVersion": "0.2.0", "plugins": [{"type": "a"}]}, "unsupported"),
        ({"name": "n", "cniVersion": "1.0.0", "plugins": []}, "no plugins"),
        ({"name": "n", "cniVersion": "1.0.0"}, "no plugins"),
        ({"name": "n", "cniVersion": "1.0.0", "plugins": [{"bridge": "x"}]}, "no valid 'type'"),
        ({"name": "n", "cniVersion": "1.0.0", "plugins": [{"type": "../sh"}]}, "no valid"),
        ({"name": "a/b", "cniVersion": "1.0.0", "plugins": [{"type": "a"}]}, "invalid network"),
        (
            {"name": "n", "cniVersion": "1.0.0", "plugins": [{"type": "a", "capabilities": 1}]},
            "capabilities",
        ),
    ],
)
def test_invalid_configs_are_rejected_with_the_reason(doc: object, message: str) -> None:
    raw = doc if isinstance(doc, str) else json.dumps(doc)
    with pytest.raises(CniConfigError, match=message):
        parse(raw.encode(), "/etc/cni/net.d/10-x.conflist")


def test_an_invalid_first_file_makes_the_network_not_ready(tmp_path: Path) -> None:
    (tmp_path / "01-broken.conflist").write_text("{")
    write_conflist(tmp_path, [{"type": "a"}], filename="10-good.conflist")
    with pytest.raises(CniConfigError, match=r"01-broken\.conflist"):
        load(str(tmp_path))


def test_conf_dir_is_re_read_when_it_changes(tmp_path: Path) -> None:
    conf = ConfDir(str(tmp_path))
    with pytest.raises(CniNotReady):
        conf.current()
    path = write_conflist(tmp_path, [{"type": "a"}], name="one")
    assert conf.current().name == "one"
    write_conflist(tmp_path, [{"type": "a"}], name="two-with-a-longer-name")
    assert conf.current().name == "two-with-a-longer-name"
    path.write_text("{")
    with pytest.raises(CniConfigError):
        conf.current()
    os.unlink(path)
    with pytest.raises(CniNotReady, match="no network config"):
        conf.current()


def test_conf_dir_answers_from_memory_while_nothing_changed(tmp_path: Path) -> None:
    path = write_conflist(tmp_path, [{"type": "a"}], name="one")
    conf = ConfDir(str(tmp_path))
    first = conf.current()
    st = path.stat()
    # Same size, same mtime, same inode: not re-read (the cheap check is a stat signature).
    path.write_text(path.read_text().replace('"one"', '"two"'))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert conf.current() is first


def test_conf_dir_is_safe_to_read_from_many_threads_at_once(tmp_path: Path) -> None:
    """RunPodSandbox reads it from worker threads; a first read racing another once made the
    second see a signature without its network (an AssertionError, INTERNAL to kubelet)."""
    write_conflist(tmp_path, [{"type": "a"}], name="one")
    for _ in range(20):
        conf = ConfDir(str(tmp_path))
        barrier = threading.Barrier(8)

        def read(conf: ConfDir = conf, barrier: threading.Barrier = barrier) -> str:
            barrier.wait()
            return conf.current().name

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(lambda _: read(), range(8))) == ["one"] * 8


def test_conf_dir_raises_a_fresh_error_each_time(tmp_path: Path) -> None:
    conf = ConfDir(str(tmp_path))
    errors = []
    for _ in range(2):
        with pytest.raises(CniNotReady) as e:
            conf.current()
        errors.append(e.value)
    assert errors[0] is not errors[1] and str(errors[0]) == str(errors[1])
