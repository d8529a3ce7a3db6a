"""`hexcri play` on the memory backend: a dry run of a whole file, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main

EXAMPLE = Path(__file__).parents[3] / "examples" / "web-pod.yaml"


@pytest.fixture(autouse=True)
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEXCRI_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("HEXCRI_ROOT_DIR", str(tmp_path / "root"))
    monkeypatch.setenv("HEXCRI_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HEXCRI_SOCKET", str(tmp_path / "hexcri.sock"))
    monkeypatch.setenv("HEXCRI_MANIFEST_LOG_DIR", str(tmp_path / "logs"))


def test_dry_run_of_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["play", "--backend", "memory", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "pod default/web Running IP 10." in out
    assert "page             exited (exit 0, Completed)" in out
    assert "httpd            running" in out
    assert "dry run" in out


def test_an_unsupported_field_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        EXAMPLE.read_text().replace("  - name: httpd\n", "  - name: httpd\n    livenessProbe: {}\n")
    )
    assert main(["play", "--backend", "memory", str(bad)]) == 2
    out = capsys.readouterr().out
    assert out.endswith("(Pod web): spec.containers[0].livenessProbe: not supported\n")
    assert "sandbox" not in out  # nothing was made


def test_a_failing_pod_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failing = tmp_path / "job.yaml"
    failing.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: job}\nspec:\n  restartPolicy: Never\n"
        "  initContainers: [{name: prepare, image: busybox, command: [sh, -c, 'exit 4']}]\n"
        "  containers: [{name: run, image: busybox}]\n"
    )
    assert main(["play", "--backend", "memory", str(failing)]) == 1
    out = capsys.readouterr().out
    assert "pod default/job Failed" in out
    assert "prepare          exited (exit 4, Error)" in out
    assert "container run started" not in out  # the app container never started


def test_play_refuses_where_a_daemon_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    monkeypatch.setenv("HEXCRI_MANIFEST_DIR", "/etc/hexcri/pods")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "hexcri.sock"))
        server.listen()
        assert main(["play", str(EXAMPLE)]) == 1
    out = capsys.readouterr().out
    assert "a hexcri daemon serves" in out and "/etc/hexcri/pods" in out


async def test_progress_on_a_terminal_ends_its_live_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import asyncio

    from app.play import Progress

    progress = Progress(tty=True)
    progress("pulling busybox")
    await asyncio.sleep(0.15)
    progress("pull of busybox failed: not found")
    await asyncio.sleep(0.15)
    out = capsys.readouterr().out
    assert "pulling busybox" in out
    assert out.endswith("\r\x1b[Kpull of busybox failed: not found\n")  # the live line stopped
    Progress(tty=False)("pulling busybox")
    assert capsys.readouterr().out == "pulling busybox\n"


async def test_progress_bar_of_a_pull_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from app.play import Progress, bar
    from ports.images import PullProgress

    assert bar(None) == "" and bar(PullProgress(done=0, total=0)) == ""
    assert bar(PullProgress(done=12_000_000, total=48_000_000)) == (
        "[######..................] 12.0/48.0 MB"
    )
    progress = Progress(True, lambda ref: PullProgress(done=24, total=48))
    progress("pulling busybox")
    await asyncio.sleep(0.15)
    progress("pulled busybox (sha256:0123)")
    assert "pulling busybox  [############............] 0.0/0.0 MB" in capsys.readouterr().out
