"""The errors of the CNI adapter, as domain errors the CRI adapter knows how to report."""

from __future__ import annotations

from domain.errors import DeadlineExceeded, FailedPrecondition, Internal


class CniNotReady(FailedPrecondition):
    """No valid network configuration in the conf dir."""


class CniConfigError(CniNotReady):
    """A network configuration file exists but is not valid."""


class CniPluginError(Internal):
    """A plugin failed, could not be found, or answered something that is not a CNI result."""

    def __init__(
        self,
        plugin: str,
        command: str,
        message: str,
        *,
        code: int = 0,
        details: str = "",
        stderr: str = "",
    ) -> None:
        self.plugin = plugin
        self.command = command
        self.code = code
        self.msg = message
        self.details = details
        self.stderr = stderr
        text = f"plugin type={plugin!r} failed ({command.lower()}): "
        text += f"code {code}: {message}" if code else message
        if details:
            text += f" ({details})"
        if stderr:
            text += f"; stderr: {stderr}"
        super().__init__(text)


class CniTimeout(DeadlineExceeded):
    """A plugin did not answer within the plugin timeout and was killed."""
