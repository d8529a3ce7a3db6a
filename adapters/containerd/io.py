"""Container stdio as FIFOs under the state dir (`domain.stdio` pumps them into the logs)."""

from __future__ import annotations

import asyncio
import os
import shutil

from adapters.containerd.fifo import Fifo, FifoEnd, FifoWriter, make_fifos
from ports.io import Stdio, StdioPipes


class FifoStreams:
    """Implements `ports.io.StdioStreams`: FIFOs in `<state_dir>/io/<container id>/`.

    `open` on a container whose FIFOs exist opens them again (after a restart of hexcri the
    shims still hold their write ends, and buffered output is not lost).
    """

    def __init__(self, state_dir: str) -> None:
        self._root = os.path.join(state_dir, "io")

    def _dir(self, container_id: str) -> str:
        return os.path.join(self._root, container_id)

    async def open(self, container_id: str, tty: bool, stdin: bool) -> StdioPipes:
        directory = self._dir(container_id)
        outputs = ["stdout"] if tty else ["stdout", "stderr"]
        names = [*outputs, "stdin"] if stdin else outputs
        await asyncio.to_thread(make_fifos, directory, names)
        path = {name: os.path.join(directory, name) for name in names}
        stdio = Stdio(
            stdin=FifoEnd(path=path["stdin"]) if stdin else None,
            stdout=FifoEnd(path=path["stdout"]),
            stderr=None if tty else FifoEnd(path=path["stderr"]),
            terminal=tty,
        )
        opened: list[Fifo | FifoWriter] = []
        try:
            stdout = Fifo(path["stdout"])
            opened.append(stdout)
            stderr = None if tty else Fifo(path["stderr"])
            if stderr is not None:
                opened.append(stderr)
            # held open for the container's life, as containerd's CRI does
            writer = FifoWriter(path["stdin"]) if stdin else None
        except BaseException:
            for end in opened:
                end.close()
            raise
        return StdioPipes(stdio=stdio, stdout=stdout, stderr=stderr, stdin=writer)

    async def remove(self, container_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self._dir(container_id), True)
