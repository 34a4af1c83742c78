"""Two processes sync one document through a SyncKit server.

Run it from the checkout with ``python3 dev.py example two_processes`` (dev.py sets up
``.venv`` first and runs this file with its Python, which has synckit installed).

It starts ``synckit serve`` on a free port, then a second Python process (this file with
``--peer``) that writes to the shopping list while this process watches it change. Each side
could just as well run on its own machine, and each keeps working offline: its edits live in
its own store (here ``alice.db`` / ``bob.db`` in a temporary directory) until they are synced.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from synckit.client import connect


async def peer(url: str, store: str) -> None:
    """The second process: add items, wait until the server has them, leave."""
    async with connect(url, store=store, client_id="bob") as client:
        doc = await client.open("groceries")
        for item in ["milk", "eggs", "bread"]:
            doc.get_list("items").append(item)
            await asyncio.sleep(0.2)
        await client.wait_synced(timeout=10)


async def main(url: str, workdir: Path) -> None:
    async with connect(url, store=workdir / "alice.db", client_id="alice") as client:
        doc = await client.open("groceries")
        done = asyncio.Event()

        def show(event: object) -> None:
            items = list(doc.get_list("items"))
            print("alice sees:", items)
            if len(items) == 3:
                done.set()

        doc.subscribe(show)
        bob = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--peer", url, str(workdir / "bob.db")
        )
        await asyncio.wait_for(done.wait(), 15)
        await bob.wait()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--peer"]:
        asyncio.run(peer(sys.argv[2], sys.argv[3]))
        sys.exit()
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [sys.executable, "-m", "synckit.cli", "serve", "--port", "0", "--data", tmp],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        banner = server.stdout.readline()
        print(banner, end="")
        url = re.search(r"http://\S+", banner).group(0)  # type: ignore[union-attr]
        try:
            asyncio.run(main(url, Path(tmp)))
        finally:
            server.terminate()
            server.wait()
            server.stdout.close()
