"""The committed protobuf modules match the .proto files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*_pb2.py*"))
    assert generated, "protoc produced nothing"
    committed = sorted(
        p.relative_to(ROOT / "src") for p in (ROOT / "src" / "synckit" / "v1").glob("*_pb2.py*")
    )
    assert generated == committed, "a .proto file has no committed generated module, or v.v."
    for rel in generated:
        assert (tmp_path / rel).read_bytes() == (ROOT / "src" / rel).read_bytes(), (
            f"{rel} is stale: run `python scripts/gen_proto.py` and commit the result"
        )
