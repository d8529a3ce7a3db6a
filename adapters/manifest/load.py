"""YAML documents → Pod, ConfigMap and Secret models; errors name the document and field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from adapters.manifest.models import ConfigMap, Pod, Secret
from domain.errors import InvalidArgument

KINDS: dict[str, type[BaseModel]] = {"Pod": Pod, "ConfigMap": ConfigMap, "Secret": Secret}


class ManifestError(InvalidArgument):
    """A manifest hexcri cannot run; the message names the document and the field."""


@dataclass
class Manifest:
    """The objects of one file, in order."""

    pods: list[Pod] = field(default_factory=list)
    config_maps: dict[tuple[str, str], ConfigMap] = field(default_factory=dict)
    secrets: dict[tuple[str, str], Secret] = field(default_factory=dict)


def field_path(loc: Sequence[int | str]) -> str:
    """`("spec", "containers", 0, "image")` → `spec.containers[0].image`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _message(error: dict[str, Any]) -> str:
    loc = [p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    if error["type"] == "extra_forbidden":
        return f"{field_path(loc)}: not supported"
    if error["type"] == "missing":
        return f"{field_path(loc)}: required"
    text = error["msg"].removeprefix("Value error, ")
    return f"{field_path(loc)}: {text}" if loc else text


def describe(exc: ValidationError) -> str:
    """Each error as `path: message`; a list's length error caused by a bad item is left out
    (the item's own error says it)."""
    errors = exc.errors()
    inner = {tuple(e["loc"][:n]) for e in errors for n in range(len(e["loc"]))}
    kept = [e for e in errors if not (e["type"] == "too_short" and tuple(e["loc"]) in inner)]
    return "; ".join(_message(dict(e)) for e in kept)


def _name_of(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return f" {name}" if isinstance(name, str) else ""


def parse_document(doc: Any, index: int) -> BaseModel:
    """One document as its model; ManifestError naming `document N (Kind name)` and the field."""
    if not isinstance(doc, dict):
        raise ManifestError(f"document {index}: not a mapping")
    kind = doc.get("kind")
    where = f"document {index} ({kind}{_name_of(doc)})"
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ManifestError(
            f"document {index}: kind {kind!r} is not supported (Pod, ConfigMap, Secret)"
        )
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise ManifestError(f"{where}: {describe(exc)}") from None


def parse_manifest(text: str) -> Manifest:
    """Every document of a YAML stream (empty documents are skipped)."""
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise ManifestError(f"not valid YAML: {exc}") from None
    manifest = Manifest()
    names: set[tuple[str, str, str]] = set()
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        obj = parse_document(doc, index)
        meta = obj.metadata  # type: ignore[attr-defined]
        key = (type(obj).__name__, meta.namespace, meta.name)
        if key in names:
            raise ManifestError(f"document {index}: {key[0]} {meta.namespace}/{meta.name} twice")
        names.add(key)
        if isinstance(obj, Pod):
            manifest.pods.append(obj)
        elif isinstance(obj, ConfigMap):
            manifest.config_maps[meta.namespace, meta.name] = obj
        elif isinstance(obj, Secret):
            manifest.secrets[meta.namespace, meta.name] = obj
    return manifest
