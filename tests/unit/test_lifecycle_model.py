"""A RuleBasedStateMachine of the pod lifecycle, checked against a simple model."""

from __future__ import annotations

import asyncio

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from adapters.memory.backend import MemoryBackend
from domain.errors import AlreadyExists, FailedPrecondition, NotFound
from domain.model import ContainerState, SandboxState
from tests.support.harness import Harness
from tests.unit.conftest import container, pod

NAMES = st.sampled_from(["a", "b", "c"])


class PodLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.backend = MemoryBackend()
        self.ctx = Harness(ports=self.backend.ports())
        self.watcher = self.loop.create_task(self.ctx.task_exits.watch_runtime_events())
        self.run(self.ctx.image_pull.pull_image("busybox"))
        self.pods: dict[str, tuple[str, SandboxState]] = {}  # name -> (id, state)
        self.containers: dict[tuple[str, str], tuple[str, ContainerState]] = {}
        self.long: dict[str, bool] = {}

    def run(self, coro):  # type: ignore[no-untyped-def]
        result = self.loop.run_until_complete(coro)
        for _ in range(3):
            self.loop.run_until_complete(asyncio.sleep(0))
        return result

    def teardown(self) -> None:
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    @rule(name=NAMES)
    def run_pod(self, name: str) -> None:
        try:
            sid = self.run(self.ctx.sandbox_run.run_pod_sandbox(pod(name, uid=name)))
        except AlreadyExists:
            assert name in self.pods
            return
        assert name not in self.pods
        self.pods[name] = (sid, SandboxState.READY)

    @rule(name=NAMES)
    def stop_pod(self, name: str) -> None:
        if name not in self.pods:
            return
        sid, _ = self.pods[name]
        self.run(self.ctx.sandbox_stop.stop_pod_sandbox(sid))
        self.pods[name] = (sid, SandboxState.NOTREADY)
        for key, (cid, state) in self.containers.items():
            if key[0] == name and state == ContainerState.RUNNING:
                self.containers[key] = (cid, ContainerState.EXITED)

    @rule(name=NAMES)
    def remove_pod(self, name: str) -> None:
        if name not in self.pods:
            return
        self.run(self.ctx.sandbox_remove.remove_pod_sandbox(self.pods.pop(name)[0]))
        for key in [k for k in self.containers if k[0] == name]:
            del self.containers[key]

    @rule(name=NAMES, cname=NAMES, long=st.booleans())
    def create_container(self, name: str, cname: str, long: bool) -> None:
        sid = self.pods.get(name, ("f" * 64, None))[0]
        cmd = ("server",) if long else ("true",)
        try:
            cid = self.run(
                self.ctx.container_create.create_container(sid, container(cname, command=cmd))
            )
        except NotFound:
            assert name not in self.pods
            return
        except FailedPrecondition:
            assert self.pods[name][1] == SandboxState.NOTREADY
            return
        except AlreadyExists:
            assert (name, cname) in self.containers
            return
        self.containers[(name, cname)] = (cid, ContainerState.CREATED)
        self.long[cid] = long

    @rule(name=NAMES, cname=NAMES)
    def start_container(self, name: str, cname: str) -> None:
        if (name, cname) not in self.containers:
            return
        cid, state = self.containers[(name, cname)]
        try:
            self.run(self.ctx.container_start.start_container(cid))
        except FailedPrecondition:
            assert state != ContainerState.CREATED or self.pods[name][1] != SandboxState.READY
            return
        assert state == ContainerState.CREATED
        done = ContainerState.RUNNING if self.long[cid] else ContainerState.EXITED
        self.containers[(name, cname)] = (cid, done)

    @rule(name=NAMES, cname=NAMES)
    def stop_container(self, name: str, cname: str) -> None:
        if (name, cname) not in self.containers:
            return
        cid, state = self.containers[(name, cname)]
        self.run(self.ctx.container_stop.stop_container(cid, 1))
        if state == ContainerState.RUNNING:
            self.containers[(name, cname)] = (cid, ContainerState.EXITED)

    @rule(name=NAMES, cname=NAMES)
    def remove_container(self, name: str, cname: str) -> None:
        if (name, cname) not in self.containers:
            return
        cid, _ = self.containers.pop((name, cname))
        self.run(self.ctx.container_remove.remove_container(cid))

    @invariant()
    def lists_match_the_model(self) -> None:
        listed = {s.id: s.state for s in self.ctx.sandbox_query.list_pod_sandboxes()}
        assert listed == dict(self.pods.values())
        containers = {c.id: c.state for c in self.ctx.container_query.list_containers()}
        assert containers == dict(self.containers.values())

    @invariant()
    def runtime_holds_exactly_what_is_listed(self) -> None:
        held = {c.id for c in self.run(self.backend.runtime.list())}
        expected = {sid for sid, _ in self.pods.values()} | {c for c, _ in self.containers.values()}
        assert held == expected
        ready = [sid for sid, st_ in self.pods.values() if st_ == SandboxState.READY]
        assert len(self.backend.network.allocations) == len(ready)


TestPodLifecycle = PodLifecycle.TestCase
TestPodLifecycle.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
