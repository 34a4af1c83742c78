"""A hostile client in a process of its own: ``python _flooder.py URL SECONDS KIND`` floods
the server at ``URL`` with cheap frames for ``SECONDS`` while reading whatever comes back,
then prints ``{"sent": frames, "received": frames, "dropped": bool}`` as JSON.

KIND ``ping``: the protocol's Ping messages; ``control``: WebSocket ping control frames
(answered by the WebSocket layer, below the protocol).
"""

from __future__ import annotations

import asyncio
import json
import sys

from synckit.protocol import Ping
from synckit.testing import RawConnection


async def flood(url: str, seconds: float, kind: str) -> dict[str, object]:
    raw = await RawConnection.open(url, f"flooder-{kind}")
    counts: dict[str, object] = {"sent": 0, "received": 0, "dropped": False}

    async def read() -> None:
        try:
            while True:
                await raw.ws.recv()
                counts["received"] = int(counts["received"]) + 1  # type: ignore[call-overload]
        except Exception:
            counts["dropped"] = True

    reader = asyncio.create_task(read())
    loop = asyncio.get_running_loop()
    end, nonce = loop.time() + seconds, 0
    while loop.time() < end and not counts["dropped"]:
        if kind == "ping":
            for _ in range(200):
                nonce += 1
                raw.session.send(Ping(nonce))
            for frame in raw.session.data_to_send():
                await raw.ws.send(frame)
        else:
            for _ in range(200):
                await raw.ws.ping()  # (sent; its pong is not waited for)
        counts["sent"] = int(counts["sent"]) + 200  # type: ignore[call-overload]
        await asyncio.sleep(0)
    reader.cancel()
    return counts


if __name__ == "__main__":
    print(json.dumps(asyncio.run(flood(sys.argv[1], float(sys.argv[2]), sys.argv[3]))))
