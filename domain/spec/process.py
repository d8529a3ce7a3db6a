"""The container's process: args, environment, working directory and terminal."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from domain.errors import InvalidArgument
from domain.model import ContainerConfig, ImageConfig
from domain.spec.defaults import DEFAULT_PATH
from domain.spec.pipeline import Spec, Step, process


def resolve_args(
    command: Sequence[str],
    args: Sequence[str],
    entrypoint: Sequence[str],
    cmd: Sequence[str],
) -> list[str]:
    """The argv Docker and containerd run for CRI command/args over image Entrypoint/Cmd.

    A CRI command replaces the entrypoint and drops the image's Cmd; CRI args alone replace
    the Cmd and keep the entrypoint. An entrypoint of exactly `[""]` means "none".
    """
    if not command:
        if not args:
            args = cmd
        if not (len(entrypoint) == 1 and entrypoint[0] == ""):
            command = entrypoint
    argv = [*command, *args]
    if not argv:
        raise InvalidArgument("no command specified: neither the container nor its image has one")
    return argv


def with_args(argv: Sequence[str]) -> Step:
    def step(spec: Spec) -> None:
        process(spec)["args"] = list(argv)

    return step


def with_process_args(config: ContainerConfig, image: ImageConfig) -> Step:
    """`process.args` from the CRI command/args over the image's Entrypoint/Cmd."""
    return with_args(resolve_args(config.command, config.args, image.entrypoint, image.cmd))


def merge_env(base: Iterable[str], overrides: Iterable[str]) -> list[str]:
    """containerd's replace-or-append: a key keeps its first position and takes its last
    value; an override without `=` unsets the key."""
    merged: dict[str, str | None] = {}
    for entry in base:
        merged[entry.partition("=")[0]] = entry
    for entry in overrides:
        key, sep, _ = entry.partition("=")
        if sep:
            merged[key] = entry
        elif key in merged:
            merged[key] = None
    return [entry for entry in merged.values() if entry is not None]


def with_env(env: Iterable[str]) -> Step:
    """Merge `env` into `process.env`, later values winning by key."""
    entries = list(env)

    def step(spec: Spec) -> None:
        proc = process(spec)
        proc["env"] = merge_env(proc.get("env", []), entries)

    return step


def with_default_path_env(spec: Spec) -> None:
    """`PATH` with the usual default when the environment has none yet."""
    proc = process(spec)
    env = proc.get("env", [])
    if not any(e.partition("=")[0] == "PATH" for e in env):
        proc["env"] = [f"PATH={DEFAULT_PATH}", *env]


def container_env(config: ContainerConfig, image: ImageConfig, hostname: str) -> list[str]:
    """Image env, then the CRI envs overriding by key, after PATH and HOSTNAME defaults."""
    defaults = [f"PATH={DEFAULT_PATH}"] + ([f"HOSTNAME={hostname}"] if hostname else [])
    cri = [f"{kv.key}={kv.value}" for kv in config.envs]
    return merge_env(merge_env(defaults, image.env), cri)


def with_cwd(cwd: str) -> Step:
    def step(spec: Spec) -> None:
        process(spec)["cwd"] = cwd or "/"

    return step


def working_dir(config: ContainerConfig, image: ImageConfig) -> str:
    """The CRI working dir, else the image's, else `/`."""
    return config.working_dir or image.working_dir or "/"


def with_terminal(tty: bool) -> Step:
    def step(spec: Spec) -> None:
        process(spec)["terminal"] = tty

    return step


def with_no_new_privileges(enabled: bool) -> Step:
    def step(spec: Spec) -> None:
        process(spec)["noNewPrivileges"] = enabled

    return step
