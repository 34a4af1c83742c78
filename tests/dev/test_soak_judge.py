"""The soak's verdict on RSS, fds and tasks: only quiet samples of the second half count.

``tools/soak.py`` is loaded as a module (it is a script, not part of the package) and its
``judge`` is given made-up samples: abusers' connections inflate fds and tasks in busy
samples, and those must neither hide nor fake a rise.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak_tool", ROOT / "tools" / "soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


soak = _soak()


def samples(
    minutes: int, fds: int = 30, rss_per_min: float = 0.0, busy_every: int = 0
) -> list[Any]:
    out = []
    for m in range(1, minutes + 1):
        busy = busy_every and m % busy_every == 0
        out.append(
            soak.Sample(
                t=float(m),
                rss_mib=60.0 + rss_per_min * m,
                fds=fds + (300 if busy else 0),  # an idle burst's hundreds of sockets
                tasks=14.0 + (280 if busy else 0),
                ws=8.0,
                quiet=not busy,
                waited=1.0,
            )
        )
    return out


def test_busy_samples_do_not_fake_a_rise(capsys: pytest.CaptureFixture[str]) -> None:
    run = samples(20, busy_every=3)
    assert not run[17].quiet and run[17].fds == 330  # minute 18: an idle burst was open
    assert soak.judge(run)
    out = capsys.readouterr().out
    assert "slope of fds over the second half's 8 quiet samples: +0.000/min" in out
    assert "(3 samples of the second half were not quiet and are not judged)" in out


def test_a_real_rise_in_quiet_samples_fails(capsys: pytest.CaptureFixture[str]) -> None:
    run = samples(20, busy_every=4)
    run = [dataclasses.replace(s, fds=s.fds + 3 * i) for i, s in enumerate(run)]
    assert not soak.judge(run)
    assert "slope of fds over the second half's 8 quiet samples: +3.000/min" in (
        capsys.readouterr().out
    )


def test_rss_rise_fails_and_flat_rss_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert not soak.judge(samples(20, rss_per_min=2.5))
    assert "slope of rss_mib" in capsys.readouterr().out
    assert soak.judge(samples(20, rss_per_min=0.5))


def test_a_short_run_is_not_judged(capsys: pytest.CaptureFixture[str]) -> None:
    assert soak.judge(samples(6, busy_every=2, rss_per_min=9.0))
    assert "too short to judge (2 quiet samples in the second half, need 5; 2 not quiet)" in (
        capsys.readouterr().out
    )


def test_a_long_run_without_enough_quiet_samples_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Long enough to judge, but nearly every sample caught abusers' connections.
    run = [dataclasses.replace(s, quiet=s.t % 5 == 0) for s in samples(20)]
    assert not soak.judge(run)
    assert "CANNOT JUDGE (3 quiet samples in the second half, need 5; 8 not quiet)" in (
        capsys.readouterr().out
    )


def test_a_load_that_fell_away_is_called_unsteady(capsys: pytest.CaptureFixture[str]) -> None:
    run = [dataclasses.replace(s, edits=1000 if s.t < 10 else 300) for s in samples(20)]
    soak.steadiness(run)
    assert capsys.readouterr().out == (
        "load: 1000 acked edits a minute in the first half, 300 in the second"
        " - NOT STEADY: the slopes understate\n"
    )
    soak.steadiness([dataclasses.replace(s, edits=1000 - 10 * int(s.t)) for s in samples(20)])
    assert "NOT STEADY" not in capsys.readouterr().out
