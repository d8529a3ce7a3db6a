"""`hexcri play FILE`: run a file's pods once, in process, where no hexcri daemon runs.

It recovers the state as `serve` does (so pods a previous play made are found, never
duplicated), creates the pods through the manifest adapter, waits until their containers run
(or the pods finish), prints each container's state and the pod IP, and exits; the pods keep
running. `--down` removes them, `--logs` prints their logs, `--follow` streams them. With the
memory backend it is a dry run: the whole file goes through the domain, then is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from adapters.manifest.convert import CONTAINER_NAME, PodPlan, plan_manifest
from adapters.manifest.load import ManifestError, parse_manifest
from adapters.manifest.pods import PodRunner
from app.container import Application, close_resources
from app.settings import Settings
from app.static_pods import node_facts
from domain.errors import HexcriError
from domain.logformat import parse_record
from domain.model import ContainerState, Sandbox
from domain.services.usecases import UseCases
from ports.images import PullProgress

WAIT_SECONDS = 120.0
FINISHED = ("Succeeded", "Failed")


@dataclass
class Options:
    path: str
    down: bool = False
    logs: bool = False
    follow: bool = False
    timeout: float = WAIT_SECONDS


def say(line: str) -> None:
    print(line, flush=True)


PullProgressOf = Callable[[str], PullProgress | None]
BAR = 24  # characters of a progress bar


def bar(progress: PullProgress | None) -> str:
    """`[#######.........] 12.0/43.2 MB`, or "" before the image's size is known."""
    if progress is None or not progress.total:
        return ""
    filled = BAR * progress.done // progress.total
    mb = f"{progress.done / 1e6:.1f}/{progress.total / 1e6:.1f} MB"
    return f"[{'#' * filled}{'.' * (BAR - filled)}] {mb}"


class Progress:
    """Report lines; on a terminal a pull shows a live line with a progress bar of its bytes
    (`progress_of`) and its elapsed time until it ends, elsewhere plain lines."""

    def __init__(self, tty: bool, progress_of: PullProgressOf | None = None) -> None:
        self.tty = tty
        self._progress_of = progress_of
        self._pulls: dict[str, asyncio.Task[None]] = {}

    def __call__(self, line: str) -> None:
        if not self.tty:
            say(line)
            return
        if line.startswith("pulling "):
            ref = line.removeprefix("pulling ")
            self._pulls[ref] = asyncio.get_running_loop().create_task(self._spin(ref))
            return
        if line.startswith(("pulled ", "pull of ")):
            ref = line.split()[1 if line.startswith("pulled ") else 2]
            task = self._pulls.pop(ref, None)
            if task is not None:
                task.cancel()
        sys.stdout.write("\r\x1b[K")
        say(line)

    async def _spin(self, ref: str) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for frame in itertools.cycle("|/-\\"):
            done = bar(self._progress_of(ref)) if self._progress_of else ""
            elapsed = f"{loop.time() - start:.1f} s"
            sys.stdout.write(f"\r\x1b[K{frame} pulling {ref}  {done}  {elapsed}")
            sys.stdout.flush()
            await asyncio.sleep(0.1)


def daemon_running(path: str) -> bool:
    """Whether something answers on the CRI socket."""
    if not os.path.exists(path):
        return False
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(path)
        except OSError:
            return False
    return True


@contextlib.contextmanager
def state_lock(settings: Settings) -> Iterator[None]:
    """One play at a time on a state directory."""
    os.makedirs(settings.state_dir, exist_ok=True)
    with open(os.path.join(settings.state_dir, "play.lock"), "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HexcriError(f"another hexcri play holds {settings.state_dir}/play.lock") from None
        yield


def main(settings: Settings, options: Options) -> int:
    if settings.backend == "containerd" and daemon_running(settings.socket):
        where = settings.manifest_dir or "(manifest_dir is not set in its config)"
        say(
            f"hexcri play: a hexcri daemon serves {settings.socket}; it owns this node's "
            f"state. Put the file in its manifest_dir instead: {where}"
        )
        return 1
    try:
        with open(options.path) as f:
            text = f.read()
        source = os.path.abspath(options.path)
        plans = plan_manifest(parse_manifest(text), source, node_facts(settings))
    except (OSError, ManifestError) as exc:
        say(f"hexcri play: {options.path}: {exc}")
        return 2
    try:
        with state_lock(settings):
            return asyncio.run(_play(settings, options, source, plans))
    except HexcriError as exc:
        say(f"hexcri play: {exc}")
        return 1


async def _play(settings: Settings, options: Options, source: str, plans: list[PodPlan]) -> int:
    app = Application(settings=settings)
    uses: UseCases = await app.use_cases.async_()
    watcher = asyncio.create_task(uses.task_exits.watch_runtime_events(), name="runtime-events")
    try:
        await uses.recovery.recover()
        progress = Progress(sys.stdout.isatty(), uses.image_pull.pull_progress)
        runner = PodRunner(uses, owner="play", report=progress)
        if options.down:
            for sandbox in runner.of_file(source):
                await runner.remove(sandbox)
            say(f"{options.path}: down")
            return 0
        if options.logs:
            await _logs(uses, runner.of_file(source), options.follow)
            return 0
        code = await _up(uses, runner, plans, options)
        if settings.backend == "memory":
            for sandbox in runner.of_file(source):
                await runner.remove(sandbox)
            say("dry run (memory backend): the manifest converts and runs; removed again")
        elif options.follow and code == 0:
            await _logs(uses, runner.of_file(source), follow=True, tick=_stepper(runner, plans))
        return code
    finally:
        await close_resources(app)  # removals' clean-up left (recovery: the rest)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await close_resources(app.backend())


async def _up(uses: UseCases, runner: PodRunner, plans: list[PodPlan], options: Options) -> int:
    """Create the pods and step them until every app container runs or the pods finish."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + options.timeout
    phases: dict[str, str] = {}
    sandboxes: dict[str, Sandbox] = {}
    while True:
        for plan in plans:
            sandbox = await runner.ensure(plan)
            sandboxes[plan.uid] = sandbox
            phases[plan.uid] = await runner.step(plan, sandbox)
        if all(_settled(uses, plan, sandboxes[plan.uid], phases[plan.uid]) for plan in plans):
            break
        if loop.time() > deadline:
            say(f"hexcri play: the pods did not start within {options.timeout:g} s")
            _summary(uses, plans, sandboxes, phases)
            return 1
        await asyncio.sleep(0.2)
    _summary(uses, plans, sandboxes, phases)
    return 1 if "Failed" in phases.values() else 0


def _settled(uses: UseCases, plan: PodPlan, sandbox: Sandbox, phase: str) -> bool:
    if phase in FINISHED:
        return True
    if phase != "Running":
        return False
    running = {
        c.config.labels.get(CONTAINER_NAME)
        for c in uses.container_query.containers_of(sandbox.id)
        if c.state == ContainerState.RUNNING
    }
    return all(c.name in running for c in plan.pod.spec.containers)


def _summary(
    uses: UseCases, plans: list[PodPlan], sandboxes: dict[str, Sandbox], phases: dict[str, str]
) -> None:
    for plan in plans:
        sandbox = sandboxes[plan.uid]
        ip = sandbox.ips[0] if sandbox.ips else "host network"
        say(f"pod {plan.namespace}/{plan.name} {phases[plan.uid]} IP {ip}")
        for c in sorted(uses.container_query.containers_of(sandbox.id), key=lambda c: c.created_at):
            state = c.state.name.lower()
            if c.state == ContainerState.EXITED:
                state += f" (exit {c.exit_code}, {c.reason})"
            restarts = c.config.metadata.attempt
            say(f"  {c.config.metadata.name:<16} {state}  restarts {restarts}  {c.id[:13]}")


def _stepper(runner: PodRunner, plans: list[PodPlan]) -> Callable[[], Awaitable[None]]:
    """While following, the pods keep their restart policy (with back-off)."""

    async def step() -> None:
        for plan in plans:
            for sandbox in runner.sandboxes_of(plan.uid):
                with contextlib.suppress(HexcriError):
                    await runner.step(plan, sandbox)

    return step


async def _logs(
    uses: UseCases,
    sandboxes: list[Sandbox],
    follow: bool,
    tick: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Each container's CRI log as `[name] line`; with `follow`, until SIGINT or SIGTERM
    (running `tick` between reads)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    offsets: dict[str, int] = {}
    while True:
        for sandbox in sandboxes:
            for c in sorted(
                uses.container_query.containers_of(sandbox.id), key=lambda c: c.created_at
            ):
                path = os.path.join(sandbox.config.log_directory, c.config.log_path)
                await asyncio.to_thread(_print_new, path, c.config.metadata.name, offsets)
        if not follow:
            return
        if tick is not None:
            await tick()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
        if stop.is_set():
            return


def _print_new(path: str, name: str, offsets: dict[str, int]) -> None:
    try:
        with open(path, "rb") as f:
            f.seek(offsets.get(path, 0))
            data = f.read()
    except OSError:
        return
    complete = data[: data.rfind(b"\n") + 1]
    offsets[path] = offsets.get(path, 0) + len(complete)
    for raw in complete.splitlines():
        try:
            text = parse_record(raw)[3].decode(errors="replace")
        except (ValueError, HexcriError):
            text = raw.decode(errors="replace")
        sys.stdout.write(f"[{name}] {text}\n")
    sys.stdout.flush()
