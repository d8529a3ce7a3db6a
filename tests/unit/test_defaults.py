"""One definition of each default and of the version: the settings' defaults come from the
domain's, and the files that repeat them for operators (deploy/config.toml, the tables and
example of docs/configuration.md) say the same."""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import cli
from app.container import to_domain_settings
from app.settings import CONFIG_ENV, Settings
from app.version import VERSION
from domain.logformat import MAX_RECORD
from domain.services.settings import Settings as DomainSettings
from domain.spec import NodeOptions

REPO = Path(__file__).resolve().parents[2]
# what deploy/config.toml chooses for a node instead of the default
DEPLOY_CHOICES = {"cgroup_driver": "systemd"}


@pytest.fixture(autouse=True)
def no_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "absent.toml"))
    for name in [n for n in os.environ if n.startswith("HEXCRI_") and n != CONFIG_ENV]:
        monkeypatch.delenv(name)
    yield


def flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}}` as `{"a.b": 1}`."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def defaults() -> dict[str, Any]:
    return flat(Settings().model_dump(mode="json"))


def test_the_settings_take_their_defaults_from_the_domain() -> None:
    settings, domain, node = Settings(), DomainSettings(), NodeOptions()
    assert settings.sandbox_image == domain.sandbox_image
    assert settings.cgroup_driver == domain.cgroup_driver == node.cgroup_driver
    assert settings.stop_kill_wait == domain.stop_kill_wait
    assert f"/{settings.containerd.namespace}" == node.default_cgroup_parent
    assert settings.max_container_log_line_size == MAX_RECORD


def test_the_deployed_config_says_the_defaults_but_for_its_choices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = REPO / "deploy" / "config.toml"
    written = flat(tomllib.loads(path.read_text()))
    monkeypatch.setenv(CONFIG_ENV, str(path))
    loaded = flat(Settings().model_dump(mode="json"))
    monkeypatch.setenv(CONFIG_ENV, "/absent.toml")
    expected = defaults()
    assert {key: loaded[key] for key in DEPLOY_CHOICES} == DEPLOY_CHOICES
    for key, value in written.items():
        if key not in DEPLOY_CHOICES:
            assert value == expected[key], f"deploy/config.toml: {key}"


def documented() -> Iterator[tuple[str, str]]:
    """(key, default) of the rows of docs/configuration.md's table whose default is a value."""
    text = (REPO / "docs" / "configuration.md").read_text()
    yield from re.findall(r"^\| `([a-z_.]+)` \| `([^`]*)`(?: \([^)]*\))? \|", text, re.M)


def test_the_documented_defaults_are_the_defaults() -> None:
    rows = dict(documented())
    expected = defaults()
    assert {"sandbox_image", "cgroup_driver", "stop_kill_wait", "containerd.namespace"} <= set(rows)
    for key, default in rows.items():
        value = expected[key]
        if isinstance(value, list) or value == "":
            assert json.loads(default) == value, key
        else:
            assert default == str(value), key


def test_the_documented_example_says_the_defaults() -> None:
    text = (REPO / "docs" / "configuration.md").read_text()
    (example,) = re.findall(r"```toml\n(.*?)```", text, re.S)
    expected = defaults()
    for key, value in flat(tomllib.loads(example)).items():
        assert value == expected[key], key


def test_the_version_is_the_package_metadata_of_pyproject(
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["version"] == VERSION
    assert cli.main(["version"]) == 0
    assert capsys.readouterr().out == f"hexcri {VERSION} (CRI v1)\n"
    assert DomainSettings().runtime_version != VERSION  # the domain does not know it...
    settings = Settings(restrict_oom_score_adj=False)
    assert to_domain_settings(settings).runtime_version == VERSION  # ...the composition does
