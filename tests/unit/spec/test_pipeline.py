"""The pipeline: steps apply in order to a private copy."""

from __future__ import annotations

from domain.spec.defaults import default_spec
from domain.spec.pipeline import Spec, apply


def test_apply_runs_steps_in_order_on_a_copy() -> None:
    base = default_spec()
    seen: list[str] = []

    def first(spec: Spec) -> None:
        seen.append("first")
        spec["hostname"] = "one"

    def second(spec: Spec) -> None:
        seen.append("second")
        spec["hostname"] += "-two"

    out = apply(base, [first, second])
    assert out["hostname"] == "one-two"
    assert seen == ["first", "second"]
    assert "hostname" not in base and base == default_spec()


def test_default_spec_is_fresh_each_time() -> None:
    a = default_spec()
    a["mounts"].clear()
    assert default_spec()["mounts"]
