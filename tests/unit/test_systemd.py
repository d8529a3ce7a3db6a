"""sd_notify: nothing without $NOTIFY_SOCKET, a warning when the socket is gone."""

from __future__ import annotations

import pytest

from app import systemd


def test_notify_without_systemd_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", "/nonexistent/notify")
    assert systemd.notify("READY=1") is False  # a warning, not a crash
