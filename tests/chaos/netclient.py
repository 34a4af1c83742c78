"""One chaos client as a process of its own (run inside a network namespace by ``netchaos``).

    python netclient.py URL NAME LETTER SEED [--grows-only]

It connects to URL, opens the chaos document and takes commands from stdin, one JSON object
a line, answering on stdout the same way:

* ``{"cmd": "load", "edits": M, "rate": R}``: M random edits (:class:`chaos.Editor`), about
  R a second; then ``{"loaded": M}``.
* ``{"cmd": "sync", "timeout": T}``: wait until the server acknowledged every edit; then
  ``{"synced": true}`` or ``{"synced": false, "error": ...}``.
* ``{"cmd": "view"}``: ``{"view": <the replica's JSON>, "edits": N, "acked": K,
  "expect": <what its edits must leave>}``.
* ``{"cmd": "quit"}``.

Unasked, whenever the server has acknowledged all its edits so far (the client's
``unsynced()`` is empty, checked every 20 ms), it writes ``{"acked": K, "expect": ...}``: the
parent then knows those K edits were acknowledged even when it later kills this process.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from typing import Any

from chaos import DOC, Balancer, Editor

from synckit.client import connect
from synckit.errors import SyncKitError


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def watch_acks(editor: Editor, acked: list[int]) -> None:
    engine = editor.client.engine
    while True:
        await asyncio.sleep(0.02)
        # No await between the check and the count: no edit can come in between.
        if editor.edits > acked[0] and not engine.unsynced():
            acked[0] = editor.edits
            emit({"acked": acked[0], "expect": editor.expectation()})


async def load(editor: Editor, edits: int, rate: float) -> None:
    for _ in range(edits):
        editor.edit()
        emit({"made": editor.edits})  # before any await: before the edit can be pushed
        await asyncio.sleep(editor.rng.uniform(0, 2 / rate))
    emit({"loaded": edits})


async def main(argv: list[str]) -> None:
    url, name, letter, seed = argv[:4]
    client = connect(
        url,
        client_id=name,
        ping_interval=1,
        response_timeout=3,
        connect_timeout=3,
        backoff_base=0.05,
        backoff_max=0.5,
    )
    async with client:
        editor = Editor(name, letter, client, Balancer([], 0), random.Random(int(seed)))
        editor.grows_only = "--grows-only" in argv
        editor.doc = await client.open(DOC, wait=True, timeout=60)
        acked = [0]
        tasks = {asyncio.get_running_loop().create_task(watch_acks(editor, acked))}
        emit({"ready": True})
        while line := await asyncio.to_thread(sys.stdin.readline):
            command = json.loads(line)
            cmd = command["cmd"]
            if cmd == "load":
                task = asyncio.get_running_loop().create_task(
                    load(editor, int(command["edits"]), float(command["rate"]))
                )
                tasks.add(task)
            elif cmd == "sync":
                try:
                    await client.wait_synced(timeout=float(command["timeout"]))
                    emit({"synced": True})
                except SyncKitError as exc:
                    emit({"synced": False, "error": str(exc)})
            elif cmd == "view":
                if not client.engine.unsynced():
                    acked[0] = editor.edits
                emit(
                    {
                        "view": editor.doc.to_json(),
                        "edits": editor.edits,
                        "acked": acked[0],
                        "expect": editor.expectation(),
                    }
                )
            elif cmd == "quit":
                break
        for task in tasks:
            task.cancel()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
