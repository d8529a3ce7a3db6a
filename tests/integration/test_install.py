"""`make install` into a temp prefix: a venv with hexcri from this tree, the unit, the configs.

Needs the Python package index pip is configured with (as `make setup`), no containerd.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_deploy import ANALYZE, REPO, verify


@pytest.mark.skipif(ANALYZE is None, reason="needs systemd-analyze (Debian package systemd)")
def test_make_install_into_a_prefix(tmp_path: Path) -> None:
    """The whole `make install` (a venv with hexcri from this tree) into a temp prefix."""
    prefix, etc = tmp_path / "usr", tmp_path / "etc"
    (etc / "hexcri").mkdir(parents=True)
    (etc / "hexcri" / "config.toml").write_text('log_level = "DEBUG"\n')  # kept, not replaced
    done = subprocess.run(
        ["make", "-s", "install", f"PREFIX={prefix}", f"SYSCONFDIR={etc}", f"PY={sys.executable}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    hexcri = prefix / "bin" / "hexcri"
    version = subprocess.run([hexcri, "version"], capture_output=True, text=True, cwd=tmp_path)
    assert version.stdout.startswith("hexcri ")
    assert (etc / "hexcri" / "config.toml").read_text() == 'log_level = "DEBUG"\n'
    assert (prefix / "share" / "hexcri" / "containerd-config.toml").exists()
    unit = etc / "systemd" / "system" / "hexcri.service"
    assert f"ExecStart={hexcri} serve --config {etc}/hexcri/config.toml" in unit.read_text()
    done = verify(unit)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
