"""Process args, environment, working dir and terminal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidArgument
from domain.model import ContainerConfig, ContainerMetadata, ImageConfig, KeyValue
from domain.spec.defaults import DEFAULT_PATH, default_spec
from domain.spec.pipeline import apply
from domain.spec.process import (
    container_env,
    merge_env,
    resolve_args,
    with_cwd,
    with_default_path_env,
    with_env,
    with_process_args,
    with_terminal,
    working_dir,
)

words = st.lists(st.text("abc/-", min_size=1, max_size=4), max_size=3).map(tuple)


@pytest.mark.parametrize(
    ("command", "args", "entrypoint", "cmd", "expected"),
    [
        ((), (), ("/ep",), ("c1",), ["/ep", "c1"]),
        (("/bin/x",), (), ("/ep",), ("c1",), ["/bin/x"]),
        ((), ("a1",), ("/ep",), ("c1",), ["/ep", "a1"]),
        (("/bin/x",), ("a1",), ("/ep",), ("c1",), ["/bin/x", "a1"]),
        ((), (), (), ("sh",), ["sh"]),
        ((), ("echo", "hi"), (), ("sh",), ["echo", "hi"]),
        ((), (), ("",), ("sh",), ["sh"]),
        ((), ("a1",), ("",), ("sh",), ["a1"]),
    ],
)
def test_args_precedence_examples(
    command: tuple[str, ...],
    args: tuple[str, ...],
    entrypoint: tuple[str, ...],
    cmd: tuple[str, ...],
    expected: list[str],
) -> None:
    assert resolve_args(command, args, entrypoint, cmd) == expected


def test_nothing_to_run_is_invalid() -> None:
    with pytest.raises(InvalidArgument):
        resolve_args((), (), (), ())
    with pytest.raises(InvalidArgument):
        resolve_args((), (), ("",), ())


@given(command=words, args=words, entrypoint=words, cmd=words)
def test_args_precedence_law(
    command: tuple[str, ...],
    args: tuple[str, ...],
    entrypoint: tuple[str, ...],
    cmd: tuple[str, ...],
) -> None:
    ep = () if entrypoint == ("",) else entrypoint
    # a command drops the image's entrypoint and cmd; args alone replace cmd only
    expected = [*command, *args] if command else [*ep, *(args or cmd)]
    if not expected:
        with pytest.raises(InvalidArgument):
            resolve_args(command, args, entrypoint, cmd)
    else:
        assert resolve_args(command, args, entrypoint, cmd) == expected


def test_with_process_args_step() -> None:
    cfg = ContainerConfig(metadata=ContainerMetadata(name="a"), image="i", args=("x",))
    spec = apply(default_spec(), [with_process_args(cfg, ImageConfig(entrypoint=("/e",)))])
    assert spec["process"]["args"] == ["/e", "x"]


def test_merge_env_examples() -> None:
    assert merge_env(["A=1", "B=2"], ["B=3", "C=4"]) == ["A=1", "B=3", "C=4"]
    assert merge_env(["A=1", "B=2"], ["A"]) == ["B=2"]  # no '=': unset
    assert merge_env(["A=1"], ["A=", "A=x=y"]) == ["A=x=y"]


env_entry = st.tuples(st.sampled_from("ABCDE"), st.text("xyz", max_size=2)).map(
    lambda kv: f"{kv[0]}={kv[1]}"
)


@given(base=st.lists(env_entry, max_size=8), overrides=st.lists(env_entry, max_size=8))
def test_merge_env_keeps_last_value_and_first_position(
    base: list[str], overrides: list[str]
) -> None:
    merged = merge_env(base, overrides)
    keys = [e.partition("=")[0] for e in merged]
    everything = base + overrides
    assert len(keys) == len(set(keys))
    assert keys == list(dict.fromkeys(e.partition("=")[0] for e in everything))
    for entry in merged:
        key = entry.partition("=")[0]
        assert entry == [e for e in everything if e.partition("=")[0] == key][-1]


def test_container_env_defaults_path_and_hostname() -> None:
    cfg = ContainerConfig(
        metadata=ContainerMetadata(name="a"),
        image="i",
        envs=(KeyValue(key="FOO", value="cri"), KeyValue(key="NEW", value="1")),
    )
    env = container_env(cfg, ImageConfig(env=("FOO=img", "BAR=b")), "pod")
    assert env == [f"PATH={DEFAULT_PATH}", "HOSTNAME=pod", "FOO=cri", "BAR=b", "NEW=1"]
    env = container_env(cfg, ImageConfig(env=("PATH=/bin",)), "")
    assert env[0] == "PATH=/bin" and not any(e.startswith("HOSTNAME=") for e in env)


def test_env_steps() -> None:
    spec = apply(default_spec(), [with_env(["A=1"]), with_default_path_env, with_env(["A=2"])])
    assert spec["process"]["env"] == [f"PATH={DEFAULT_PATH}", "A=2"]
    spec = apply(default_spec(), [with_env(["PATH=/x"]), with_default_path_env])
    assert spec["process"]["env"] == ["PATH=/x"]


def test_working_dir_and_terminal() -> None:
    cfg = ContainerConfig(metadata=ContainerMetadata(name="a"), image="i")
    assert working_dir(cfg, ImageConfig()) == "/"
    assert working_dir(cfg, ImageConfig(working_dir="/app")) == "/app"
    cri = cfg.model_copy(update={"working_dir": "/cri"})
    assert working_dir(cri, ImageConfig(working_dir="/app")) == "/cri"
    spec = apply(default_spec(), [with_cwd("/w"), with_terminal(True)])
    assert spec["process"]["cwd"] == "/w" and spec["process"]["terminal"] is True
