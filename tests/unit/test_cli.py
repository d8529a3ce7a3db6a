"""The command line: global options after the subcommand, help texts, errors naming file and key."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import cli
from app.settings import CONFIG_ENV


@pytest.fixture(autouse=True)
def own_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`load` records the file in $HEXCRI_CONFIG: keep that inside each test."""
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    for name in ("HEXCRI_SOCKET", "HEXCRI_CGROUP_DRIVER", "HEXCRI_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    yield


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--config", "{f}"],
        ["--config", "{f}", "serve"],
        ["check", "--config", "{f}"],
        ["config", "show", "--config", "{f}"],
        ["config", "--config", "{f}", "show"],
        ["--config", "{f}", "config", "show"],
    ],
)
def test_config_is_accepted_before_or_after_the_subcommand(argv: list[str]) -> None:
    args = cli._parser().parse_args([a.format(f="/etc/x.toml") for a in argv])
    assert args.config == "/etc/x.toml"


def test_config_show_reads_the_file_given_after_the_subcommand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "c.toml", 'socket = "/tmp/elsewhere.sock"\nlog_format = "json"\n')
    assert cli.main(["config", "show", "--config", path]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["socket"] == "/tmp/elsewhere.sock" and shown["log_format"] == "json"


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                for inner, subsub in _subcommands(sub):
                    yield f"{name} {inner}", subsub


def test_every_subcommand_and_option_says_what_it_does() -> None:
    commands = dict(_subcommands(cli._parser()))
    assert {"serve", "check", "version", "demo", "config", "config show"} <= set(commands)
    for name, parser in commands.items():
        assert parser.description, name
        for action in parser._actions:
            assert action.help, f"hexcri {name} {action.option_strings or action.dest}"


def test_serve_help_lists_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["serve", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for option in ("--config FILE", "--backend", "--socket", "--log-format", "--metrics-address"):
        assert option in text
    assert "Prometheus /metrics" in text


def test_a_bad_value_names_the_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "config.toml", 'cgroup_driver = "sytemd"\n')
    assert cli.main(["serve", "--config", path]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hexcri: {path}: key cgroup_driver: Input should be 'cgroupfs' or")


def test_an_unknown_nested_key_names_the_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "config.toml", '[containerd]\nadress = "/run/c.sock"\n')
    assert cli.main(["config", "show", "--config", path]) == 2
    assert f"{path}: key containerd.adress: unknown key" in capsys.readouterr().err


def test_a_bad_environment_variable_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "config.toml", "")
    monkeypatch.setenv("HEXCRI_LOG_FORMAT", "xml")
    assert cli.main(["config", "show", "--config", path]) == 2
    assert "environment HEXCRI_LOG_FORMAT: key log_format:" in capsys.readouterr().err


def test_broken_toml_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "config.toml", "socket = [\n")
    assert cli.main(["check", "--config", path]) == 2
    assert f"hexcri: {path}: not valid TOML" in capsys.readouterr().err


def test_a_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope.toml")
    assert cli.main(["serve", "--config", missing]) == 2
    assert missing in capsys.readouterr().err


def test_a_bad_metrics_address_is_refused_in_the_file_and_on_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "config.toml", 'metrics_address = "9464"\n')
    assert cli.main(["serve", "--config", path]) == 2
    assert f"{path}: key metrics_address: Value error, expected host:port" in (
        capsys.readouterr().err
    )
    with pytest.raises(SystemExit) as refused:
        cli.main(["serve", "--metrics-address", "localhost"])
    assert refused.value.code == 2
    assert "argument --metrics-address: expected host:port" in capsys.readouterr().err
