"""Regenerate the protobuf modules under src/synckit/v1 from proto/synckit/v1/*.proto.

Usage: ``python scripts/gen_proto.py [OUTPUT_DIR]`` (default: ``src``). The staleness test
runs it into a temporary directory and compares the result with the committed files.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate(out_dir: Path) -> list[Path]:
    """Write ``*_pb2.py`` and ``*_pb2.pyi`` for every proto file into ``out_dir``."""
    from grpc_tools import protoc  # imported here: a dev-only dependency

    protos = sorted(str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto").rglob("*.proto"))
    out_dir.mkdir(parents=True, exist_ok=True)
    # protoc finds the mypy plugin on PATH; it lives next to this interpreter.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    args = [
        "protoc",
        f"-I{ROOT / 'proto'}",
        f"--python_out={out_dir}",
        f"--mypy_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted(out_dir.rglob("*_pb2.py*"))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "src"
    for path in generate(target):
        print(path)
