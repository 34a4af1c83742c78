"""The TypeScript client's golden text vectors are what the Python core writes today.

``clients/typescript/test/vectors/text/*.json`` are written by ``tools/ts_text_vectors.py``
from real Python replicas; the TypeScript tests replay them. If the Python text core
changes what it does, this fails until the vectors are regenerated (and the TypeScript port
follows).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "ts_text_vectors.py"
VECTORS = ROOT / "clients" / "typescript" / "test" / "vectors" / "text"


def test_text_vectors_are_current() -> None:
    spec = importlib.util.spec_from_file_location("synckit_ts_text_vectors", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        files = module.vectors()
    finally:
        del sys.modules[spec.name]
    assert sorted(files) == sorted(p.name for p in VECTORS.glob("*.json"))
    for name, text in files.items():
        assert (VECTORS / name).read_text(encoding="utf-8") == text, (
            f"{name} is stale: run PYTHONPATH=src python tools/ts_text_vectors.py"
        )
