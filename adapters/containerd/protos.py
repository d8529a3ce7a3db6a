"""Generate the containerd API Python stubs from the Debian .proto files.

Run as `python -m adapters.containerd.protos`. The protos under `/usr/share/gocode/src` import
each other as `github.com/...`, which is no Python package path, so they are copied into a
temporary tree under `adapters/containerd/gen/` with rewritten imports; protoc then emits
modules that import each other as `adapters.containerd.gen....`. The output is a git-ignored
build artefact, regenerated only when the inputs change.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

GOCODE = Path(os.environ.get("HEXCRI_GOCODE", "/usr/share/gocode/src"))
REPO = Path(__file__).resolve().parents[2]
GEN = REPO / "adapters" / "containerd" / "gen"
PREFIX = "adapters/containerd/gen"
STAMP = ".stamp"
VERSION = "3"  # bump when the rewriting below changes

SERVICES = (
    "containers",
    "content",
    "diff",
    "events",
    "images",
    "introspection",
    "leases",
    "namespaces",
    "snapshots",
    "tasks",
    "version",
)

# source import path prefix -> path under the generated package
_ROOTS = (
    ("github.com/containerd/containerd/", "containerd/"),
    ("github.com/containerd/cgroups/", "cgroups/"),
    ("gogoproto/", "gogoproto/"),
    ("google/rpc/", "googleapis/rpc/"),
)
# where an import path is found on disk
_SOURCES = {
    "gogoproto/": "github.com/gogo/protobuf/gogoproto/",
    "google/rpc/": "github.com/gogo/googleapis/google/rpc/",
}
# google.rpc is renamed so that it never clashes with googleapis-common-protos in one process
# (message package names do not travel on the wire for plain fields).
_RPC_PACKAGE = "hexcri.googleapis.rpc"

_IMPORT = re.compile(r'^(\s*import\s+(?:weak\s+|public\s+)?)"([^"]+)"\s*;', re.M)


def _roots() -> list[str]:
    """The import paths to generate; their imports are followed."""
    cd = "github.com/containerd/containerd/"
    out = [
        f"{cd}api/services/{svc}/v1/{p.name}"
        for svc in SERVICES
        for p in sorted((GOCODE / cd / "api/services" / svc / "v1").glob("*.proto"))
    ]
    events = sorted((GOCODE / cd / "api/events").glob("*.proto"))
    out += [f"{cd}api/events/{p.name}" for p in events]
    out += ["github.com/containerd/cgroups/stats/v1/metrics.proto"]
    for optional in (
        "github.com/containerd/cgroups/v2/stats/metrics.proto",
        f"{cd}runtime/v2/runc/options/oci.proto",
    ):
        if (GOCODE / optional).exists():
            out.append(optional)
    return out


def _source(import_path: str) -> Path:
    for prefix, where in _SOURCES.items():
        if import_path.startswith(prefix):
            return GOCODE / (where + import_path[len(prefix) :])
    return GOCODE / import_path


def _target(import_path: str) -> str | None:
    """The rewritten import path, or None for protos protoc brings (google/protobuf)."""
    for prefix, new in _ROOTS:
        if import_path.startswith(prefix):
            return f"{PREFIX}/{new}{import_path[len(prefix) :]}"
    return None


def _closure(roots: Iterable[str]) -> dict[str, str]:
    """Every import path reachable from `roots` (that we must copy) -> its text."""
    seen: dict[str, str] = {}
    todo = list(roots)
    while todo:
        path = todo.pop()
        if path in seen or _target(path) is None:
            continue
        text = _source(path).read_text()
        seen[path] = text
        todo.extend(m.group(2) for m in _IMPORT.finditer(text))
    return seen


def _rewrite(text: str) -> str:
    def imp(m: re.Match[str]) -> str:
        if m.group(2) == "gogoproto/gogo.proto" and "(gogoproto." not in text:
            return ""  # an unused weak import only makes protoc warn
        target = _target(m.group(2))
        return f'{m.group(1)}"{target or m.group(2)}";'

    text = _IMPORT.sub(imp, text)
    text = re.sub(r"^package google\.rpc;", f"package {_RPC_PACKAGE};", text, flags=re.M)
    return re.sub(r"(?<![\w.])google\.rpc\.Status\b", f"{_RPC_PACKAGE}.Status", text)


def _digest(files: dict[str, str]) -> str:
    import grpc_tools

    h = hashlib.sha256(VERSION.encode())
    h.update(getattr(grpc_tools, "__version__", "").encode())
    h.update(Path(__file__).read_bytes())
    for path in sorted(files):
        h.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return h.hexdigest()


def _protoc(tree: Path, out: Path, files: list[str]) -> None:
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{tree}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed on the containerd protos")


def generate(force: bool = False) -> Path:
    """Generate the stubs into `adapters/containerd/gen` unless they are current."""
    files = _closure(_roots())
    digest = _digest(files)
    stamp = GEN / STAMP
    if not force and stamp.exists() and stamp.read_text() == digest:
        return GEN
    GEN.parent.mkdir(parents=True, exist_ok=True)
    with open(Path(tempfile.gettempdir()) / "hexcri-protos.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and stamp.exists() and stamp.read_text() == digest:
            return GEN
        with tempfile.TemporaryDirectory(dir=GEN.parent, prefix=".gen-") as tmp:
            tree, out = Path(tmp) / "src", Path(tmp) / "out"
            targets = []
            for path, text in files.items():
                target = _target(path)
                assert target is not None
                dest = tree / target
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(_rewrite(text))
                targets.append(target)
            out.mkdir()
            _protoc(tree, out, sorted(targets))
            built = out / PREFIX
            for d in [built, *(p for p in built.rglob("*") if p.is_dir())]:
                (d / "__init__.py").touch()
            untyped = [*built.rglob("*_pb2_grpc.py"), *built.rglob("*_pb2.pyi")]
            for module in untyped:  # generated code mypy must not judge
                module.write_text("# mypy: ignore-errors\n" + module.read_text())
            (built / STAMP).write_text(digest)
            old = Path(tmp) / "old"
            if GEN.exists():
                GEN.rename(old)
            built.rename(GEN)
    return GEN


def ensure() -> None:
    """Make sure the stubs exist; generate them when grpc_tools is at hand."""
    if (GEN / STAMP).exists():
        return
    generate()


def main() -> int:
    force = "--force" in sys.argv[1:]
    path = generate(force=force)
    count = sum(1 for _ in path.rglob("*_pb2.py"))
    print(f"containerd stubs: {count} modules in {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
