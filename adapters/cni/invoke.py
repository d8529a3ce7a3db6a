"""Executing one CNI plugin: find it in the bin dirs, run it with the CNI environment and its
config on stdin, under a timeout, and turn what it says into a result or a clear error."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from typing import Any

from adapters.cni.errors import CniPluginError, CniTimeout

_STDERR_LIMIT = 2000


def find_plugin(kind: str, bin_dirs: list[str], command: str = "ADD") -> str:
    """The executable for plugin type `kind`, first found in the bin dirs."""
    for d in bin_dirs:
        path = os.path.join(d, kind)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise CniPluginError(kind, command, f"failed to find plugin {kind!r} in path {list(bin_dirs)}")


async def run_plugin(
    path: str,
    kind: str,
    command: str,
    env: dict[str, str],
    conf: dict[str, Any],
    timeout: float,
) -> dict[str, Any] | None:
    """Run the plugin; its JSON answer (None when it printed nothing, as DEL/CHECK may)."""
    stdin = json.dumps(conf).encode()
    try:
        proc = await asyncio.create_subprocess_exec(
            path,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **env},
            start_new_session=True,  # its own process group: a timeout kills its children too
        )
    except OSError as e:
        raise CniPluginError(kind, command, f"cannot execute {path}: {e.strerror}") from e
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError:
        await _kill(proc)
        raise CniTimeout(
            f"plugin type={kind!r} ({command.lower()}) did not answer in {timeout:g}s"
            " and was killed"
        ) from None
    except BaseException:
        await asyncio.shield(_kill(proc))
        raise
    stderr = err.decode(errors="replace").strip()[-_STDERR_LIMIT:]
    if proc.returncode != 0:
        raise _plugin_error(kind, command, proc.returncode, out, stderr)
    if not out.strip():
        return None
    try:
        answer = json.loads(out)
    except ValueError as e:
        raise CniPluginError(kind, command, f"invalid JSON on stdout: {e}", stderr=stderr) from e
    if not isinstance(answer, dict):
        raise CniPluginError(kind, command, "its answer is not a JSON object", stderr=stderr)
    return answer


def _plugin_error(
    kind: str, command: str, returncode: int | None, out: bytes, stderr: str
) -> CniPluginError:
    """The spec's error object (code, msg, details) when the plugin printed one."""
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and ("code" in doc or "msg" in doc):
        code = doc.get("code")
        return CniPluginError(
            kind,
            command,
            str(doc.get("msg") or "(no message)"),
            code=code if isinstance(code, int) else 0,
            details=str(doc.get("details") or ""),
            stderr=stderr,
        )
    text = out.decode(errors="replace").strip()[-_STDERR_LIMIT:]
    message = f"exit status {returncode}" + (f": {text}" if text else "")
    return CniPluginError(kind, command, message, stderr=stderr)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()
