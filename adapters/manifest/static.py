"""Static pods: the manifests of a directory kept running, as kubelet's `staticPodPath`.

Each pass reads the directory, removes the pods whose file is gone (or no longer holds them),
replaces pods whose manifest changed and moves every pod one step (`PodRunner.step`). A file
that cannot be read or parsed keeps the pods it had and its error is logged once.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable
from dataclasses import dataclass, field

from adapters.manifest.backoff import INITIAL, MAXIMUM
from adapters.manifest.convert import (
    MANIFEST_FILE,
    POD_UID,
    NodeFacts,
    PodPlan,
    plan_manifest,
)
from adapters.manifest.load import parse_manifest
from adapters.manifest.pods import PodRunner
from domain.errors import HexcriError
from domain.services.usecases import UseCases

log = logging.getLogger("hexcri.manifest")

EXTENSIONS = (".yaml", ".yml", ".json")


def read_directory(directory: str) -> dict[str, str]:
    """Path -> text of every manifest file (hidden files and other extensions are skipped)."""
    texts: dict[str, str] = {}
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return texts
    for name in names:
        path = os.path.join(os.path.abspath(directory), name)
        if name.startswith(".") or not name.endswith(EXTENSIONS) or not os.path.isfile(path):
            continue
        try:
            with open(path) as f:
                texts[path] = f.read()
        except OSError as exc:
            texts[path] = f"\0{exc}"
    return texts


@dataclass
class StaticPods:
    """Keeps the pods of `directory` running; `run` loops until cancelled."""

    uses: UseCases
    directory: str
    node: NodeFacts
    interval: float = 1.0
    runner: PodRunner = field(init=False)
    errors: dict[str, str] = field(default_factory=dict)  # path -> last error logged
    phases: dict[str, str] = field(default_factory=dict)  # pod uid -> phase
    # a pod whose step failed (a pull, a sandbox) is retried with back-off, as kubelet's
    # ImagePullBackOff: pod uid -> (earliest retry ns, delay ns, the spec's hash); an edited
    # spec is tried at once
    retry: dict[str, tuple[int, int, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.runner = PodRunner(self.uses, owner="static", report=log.info)

    def plans(self, texts: dict[str, str]) -> tuple[dict[str, PodPlan], set[str]]:
        """Planned pods by uid, and the files that failed (their pods are kept)."""
        plans: dict[str, PodPlan] = {}
        failed: set[str] = set()
        for path, text in texts.items():
            try:
                if text.startswith("\0"):
                    raise HexcriError(f"cannot read: {text[1:]}")
                for plan in plan_manifest(parse_manifest(text), path, self.node):
                    plans[plan.uid] = plan
                self.errors.pop(path, None)
            except HexcriError as exc:
                failed.add(path)
                if self.errors.get(path) != str(exc):
                    log.error("manifest %s: %s", path, exc)
                    self.errors[path] = str(exc)
        return plans, failed

    async def sync(self) -> None:
        """One pass over the directory and every pod."""
        texts = await asyncio.to_thread(read_directory, self.directory)
        plans, failed = self.plans(texts)
        for sandbox in self.runner.owned():
            uid = sandbox.config.labels.get(POD_UID, "")
            if uid in plans or sandbox.config.annotations.get(MANIFEST_FILE) in failed:
                continue
            name = sandbox.config.metadata.name
            await self._guard(f"removing pod {name}", self.runner.remove(sandbox))
            self.phases.pop(uid, None)
        await asyncio.gather(*(self._sync_pod(plan) for plan in plans.values()))

    async def _sync_pod(self, plan: PodPlan) -> None:
        now = self.uses.sandbox_query.now()
        not_before, delay, digest = self.retry.get(plan.uid, (0, 0, plan.hash))
        if now < not_before and digest == plan.hash:
            return
        try:
            sandbox = await self.runner.ensure(plan)
            self.phases[plan.uid] = await self.runner.step(plan, sandbox)
        except HexcriError as exc:
            delay = min(max(delay * 2, INITIAL), MAXIMUM)
            self.retry[plan.uid] = (now + delay, delay, plan.hash)
            what = f"pod {plan.namespace}/{plan.name}"
            if self.errors.get(what) != str(exc):
                log.error("%s: %s (retrying with back-off)", what, exc)
                self.errors[what] = str(exc)
        else:
            self.retry.pop(plan.uid, None)
            self.errors.pop(f"pod {plan.namespace}/{plan.name}", None)

    async def _guard(self, what: str, work: Awaitable[None]) -> None:
        """Run `work`; a domain error is logged once (until it changes or clears)."""
        try:
            await work
        except HexcriError as exc:
            if self.errors.get(what) != str(exc):
                log.error("%s: %s", what, exc)
                self.errors[what] = str(exc)
        else:
            self.errors.pop(what, None)

    async def run(self) -> None:
        """Sync every `interval` seconds until cancelled."""
        log.info("static pods from %s", self.directory)
        while True:
            try:
                await self.sync()
            except Exception:  # a bug must not end the loop: log it and try again
                log.exception("static pods: sync failed")
            await asyncio.sleep(self.interval)
