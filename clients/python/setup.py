"""Build hook: generates the gRPC stubs from the repository's proto/ folder before packaging.

The stubs are build output (gitignored), never committed: `pip install ./clients/python` runs
grpcio-tools' protoc over every file in proto/ as it stands, so the client always speaks the
contract of the checkout it is built from. protoc writes absolute imports (`from tessera.v1 import
types_pb2`); they are rewritten to live under `tessera_client._proto`, so the stubs never claim the
top-level name `tessera` in site-packages.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.egg_info import egg_info

HERE = Path(__file__).resolve().parent
GENERATED = HERE / "src" / "tessera_client" / "_proto"
GENERATED_PACKAGE = "tessera_client._proto"
# `from tessera.v1 import x_pb2` / `import tessera.v1.x_pb2` at the start of a line.
ABSOLUTE_IMPORT = re.compile(r"^(from|import) tessera(?=[.\s])", re.MULTILINE)


def proto_root() -> Path | None:
    """The folder holding tessera/v1/*.proto: $TESSERA_PROTO_DIR, else the repository's proto/."""
    configured = os.environ.get("TESSERA_PROTO_DIR")
    candidate = Path(configured) if configured else HERE.parent.parent / "proto"
    return candidate if (candidate / "tessera").is_dir() else None


def proto_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "tessera").rglob("*.proto"))


def generated_packages() -> list[str]:
    """Python packages of the stubs: one per folder of proto/tessera that holds .proto files."""
    root = proto_root()
    if root is not None:
        folders = {p.parent.relative_to(root) for p in proto_files(root)}
    else:
        folders = {p.parent.relative_to(GENERATED) for p in GENERATED.rglob("*_pb2.py")}
    packages = {GENERATED_PACKAGE}
    for folder in folders:
        parts = folder.parts
        for i in range(1, len(parts) + 1):
            packages.add(".".join((GENERATED_PACKAGE, *parts[:i])))
    return sorted(packages)


def generate_stubs() -> None:
    root = proto_root()
    if root is None:
        if any(GENERATED.rglob("*_pb2.py")):
            return  # an sdist or a tree built before: the stubs are already there
        sys.exit(
            "tessera-client: no proto/ folder found next to clients/python (set TESSERA_PROTO_DIR to the "
            "folder holding tessera/v1/*.proto)"
        )
    import grpc_tools
    from grpc_tools import protoc

    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    files = proto_files(root)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "_proto"
        out.mkdir()
        args = [
            "grpc_tools.protoc",
            f"-I{root}",
            f"-I{well_known}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            *(str(f.relative_to(root)) for f in files),
        ]
        if protoc.main(args) != 0:
            sys.exit(f"tessera-client: protoc failed on {root}")
        for path in out.rglob("*.py*"):
            text = path.read_text(encoding="utf-8")
            path.write_text(ABSOLUTE_IMPORT.sub(rf"\1 {GENERATED_PACKAGE}.tessera", text), encoding="utf-8")
        for folder in [out, *(p for p in out.rglob("*") if p.is_dir())]:
            (folder / "__init__.py").touch()
        (out / "__init__.py").write_text('"""gRPC stubs generated from proto/ at build time; never edited."""\n')
        shutil.rmtree(GENERATED, ignore_errors=True)
        shutil.copytree(out, GENERATED)


_generated = False


def generate_once() -> None:
    global _generated
    if not _generated:
        generate_stubs()
        _generated = True


class BuildPyWithStubs(build_py):
    """build_py that first generates the stubs into src/tessera_client/_proto."""

    def run(self) -> None:
        generate_once()
        super().run()


class EggInfoWithStubs(egg_info):
    """egg_info (the first step of every build) checks package folders exist: generate them first."""

    def run(self) -> None:
        generate_once()
        super().run()


setup(
    packages=["tessera_client", *generated_packages()],
    cmdclass={"build_py": BuildPyWithStubs, "egg_info": EggInfoWithStubs},
)
