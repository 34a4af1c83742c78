"""Chaos on a real network (see :mod:`netchaos`): client processes in network namespaces of
their own, two ``synckit serve`` processes, a private PostgreSQL and redis-server; packet
loss, latency, partitions, disconnects, a server SIGKILLed, PostgreSQL restarted, Redis
down, a client killed mid-push. Every scenario must end converged, with every acknowledged
edit present and nothing applied twice.

The default run makes three short scenarios; ``slow`` runs the whole matrix
(``python3 dev.py chaos`` runs it too and writes ``docs/reliability.md``). Skipped where
network namespaces or nftables are unavailable (not root, no CAP_SYS_ADMIN, no ``ip`` or
``nft``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from netchaos import SCENARIOS, run_scenario
from netns import available
from private_services import PrivatePostgres

SHORT = ["packet loss 10 %", "partition", "client killed mid-push"]

_missing = available()
pytestmark = pytest.mark.skipif(_missing is not None, reason=_missing or "")


async def check(pg: PrivatePostgres, tmp: Path, name: str, edits: int) -> None:
    figures = await run_scenario(pg, tmp, SCENARIOS[name], clients=3, edits=edits, seed=7)
    print("\n" + figures.line(name))
    assert figures.edits >= figures.acknowledged > 0, figures.line(name)
    if not SCENARIOS[name].grows_only_client:  # every live client ends synced
        assert figures.acknowledged == figures.edits, figures.line(name)
    assert (figures.lost, figures.duplicated) == (0, 0), figures.line(name)


@pytest.mark.parametrize("name", SHORT)
async def test_short(private_pg: PrivatePostgres, tmp_path: Path, name: str) -> None:
    await check(private_pg, tmp_path, name, edits=30)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_matrix(private_pg: PrivatePostgres, tmp_path: Path, name: str) -> None:
    await check(private_pg, tmp_path, name, edits=60)
