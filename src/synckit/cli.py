"""The ``synckit`` command.

``synckit serve [--host H] [--port P] [--data DIR]`` runs the sync server on SQLite under DIR.
Each option falls back to an environment variable (``SYNCKIT_HOST``, ``SYNCKIT_PORT``,
``SYNCKIT_DATA``) and then to a default (127.0.0.1, 8080, ``./synckit-data``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synckit", description="SyncKit local-first sync engine")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the sync server",
        description="Run the SyncKit sync server (WebSocket /v1/sync) on SQLite under --data.",
    )
    serve.add_argument(
        "--host",
        default=os.environ.get("SYNCKIT_HOST", "127.0.0.1"),
        help="interface to listen on (env SYNCKIT_HOST; default 127.0.0.1)",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("SYNCKIT_PORT", "8080")),
        help="TCP port, 0 for any free one (env SYNCKIT_PORT; default 8080)",
    )
    serve.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("SYNCKIT_DATA", "synckit-data")),
        help="directory of the SQLite database (env SYNCKIT_DATA; default ./synckit-data)",
    )
    serve.add_argument(
        "--log-level",
        default=os.environ.get("SYNCKIT_LOG_LEVEL", "warning"),
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level (env SYNCKIT_LOG_LEVEL; default warning)",
    )
    return parser


def _serve(host: str, port: int, data: Path, log_level: str) -> int:
    import uvicorn

    from synckit.errors import StorageError
    from synckit.server import create_app
    from synckit.server._run import base_url, bind, uvicorn_config

    try:
        app = create_app(data)
    except StorageError as exc:
        print(f"synckit: {exc}", file=sys.stderr)
        return 1
    try:
        sock = bind(host, port)
    except OSError as exc:
        print(f"synckit: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    url = base_url(sock)
    ws = url.replace("http://", "ws://", 1)
    print(
        f"SyncKit server listening on {url} (WebSocket {ws}/v1/sync, data in {data.resolve()})",
        flush=True,
    )
    # Server.run picks uvloop when it is installed (uvicorn[standard]).
    try:
        uvicorn.Server(uvicorn_config(app, log_level=log_level)).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn raises the SIGINT again once it has shut down
        return 130
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args.host, args.port, args.data, args.log_level)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
