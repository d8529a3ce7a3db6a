"""The spec pipeline: a spec is a JSON-able dict, a step edits it, `apply` runs steps in order.

Steps play the part of containerd's `oci.SpecOpts`: small functions, each doing one thing,
composed in the order the use case needs. A step mutates the spec it is given; `apply` hands
the steps a private deep copy, so the pipeline as a whole is a pure function.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

Spec = dict[str, Any]
Step = Callable[[Spec], None]


def apply(spec: Spec, steps: Iterable[Step]) -> Spec:
    """A copy of `spec` with `steps` applied in order; `spec` itself is left as it was."""
    out = copy.deepcopy(spec)
    for step in steps:
        step(out)
    return out


def process(spec: Spec) -> dict[str, Any]:
    """The spec's `process` object, created when missing."""
    return spec.setdefault("process", {})  # type: ignore[no-any-return]


def linux(spec: Spec) -> dict[str, Any]:
    """The spec's `linux` object, created when missing."""
    return spec.setdefault("linux", {})  # type: ignore[no-any-return]


def resources(spec: Spec) -> dict[str, Any]:
    """The spec's `linux.resources` object, created when missing."""
    return linux(spec).setdefault("resources", {})  # type: ignore[no-any-return]


def spec_annotations(spec: Spec) -> dict[str, str]:
    """The spec's `annotations` object, created when missing."""
    return spec.setdefault("annotations", {})  # type: ignore[no-any-return]
