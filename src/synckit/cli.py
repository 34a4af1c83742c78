"""The ``synckit`` command.

``synckit serve`` runs the sync server on SQLite, or on PostgreSQL with ``--database``;
``synckit migrate`` brings a PostgreSQL database's schema up to date; ``synckit token`` mints
a development JWT.

Every ``serve`` setting comes from, in this order: its flag, its environment variable, the
TOML file given by ``--config`` (or ``SYNCKIT_CONFIG``; keys as in the table below, ``-``
written ``_``), then its default:

==================  =======================  =====================  =====================
flag                environment              config key             default
==================  =======================  =====================  =====================
--host              SYNCKIT_HOST             host                   127.0.0.1
--port              SYNCKIT_PORT             port                   8080
--data              SYNCKIT_DATA             data                   ./synckit-data
--database          SYNCKIT_DATABASE or      database               (none: SQLite under
                    DATABASE_URL                                    --data)
--durability        SYNCKIT_DURABILITY       durability             full (an ack survives a
                                                                    power loss; process: only
                                                                    a crash of the server;
                                                                    SQLite only)
--log-level         SYNCKIT_LOG_LEVEL        log_level              warning
--log-format        SYNCKIT_LOG_FORMAT       log_format             text (or json: lines)
--jwt-secret-file   SYNCKIT_JWT_SECRET_FILE  jwt_secret_file        (none)
(none: a secret     SYNCKIT_JWT_SECRET       jwt_secret             (none)
is not a flag)
--jwt-public-key    SYNCKIT_JWT_PUBLIC_KEY   jwt_public_key         (none; repeatable,
                                                                    a list in TOML)
--jwks              SYNCKIT_JWKS             jwks                   (none; file or URL)
--jwt-algorithms    SYNCKIT_JWT_ALGORITHMS   jwt_algorithms         HS256 with a secret;
                                                                    RS256 with keys
--jwt-audience      SYNCKIT_JWT_AUDIENCE     jwt_audience           (not checked)
--jwt-issuer        SYNCKIT_JWT_ISSUER       jwt_issuer             (not checked)
--insecure          SYNCKIT_INSECURE=1       insecure               off
--workers           SYNCKIT_WORKERS          workers                1 (more need --database)
--redis             SYNCKIT_REDIS or         redis                  (none: access and, with
                    REDIS_URL                                       --database, document changes
                                                                    and presence reach this
                                                                    process only)
--catch-up-seconds  SYNCKIT_CATCH_UP_SECONDS catch_up_seconds       30 (with --database and
                                                                    --redis: open documents
                                                                    read from PostgreSQL)
--metrics-host      SYNCKIT_METRICS_HOST     metrics_host           127.0.0.1
--metrics-port      SYNCKIT_METRICS_PORT     metrics_port           (none: /metrics on the
                                                                    main port, for admins)
--static            SYNCKIT_STATIC           static                 (none: no files; a
                                                                    folder served at /)
--offload,          SYNCKIT_OFFLOAD          offload                on: documents of
--no-offload        (1/0, true/false)                               limits.offload_bytes or
                                                                    more are snapshotted and
                                                                    loaded off the event loop
--snapshot-key-     SYNCKIT_SNAPSHOT_KEY_    snapshot_key_file      (none: the key kept in
file                FILE                                            the database)
(none: a secret     SYNCKIT_SNAPSHOT_KEY     snapshot_key           (none)
is not a flag)
(config only)       (none)                   [limits] table         synckit.server.Limits
==================  =======================  =====================  =====================

With ``--database postgresql://...`` the documents live in PostgreSQL (``--data`` is then
unused): the server applies missing schema migrations when it starts, as ``synckit migrate
--database URL`` does.

The snapshot key (at least 16 bytes of secret text) is what the server tags the snapshots it
writes with, so that it loads them again without the checks only a hostile author needs;
without one, a random key is made once and kept in the database (SQLite file or PostgreSQL),
shared by every server on it (``docs/server.md``, "Snapshot key").

The ``[limits]`` table sets fields of :class:`synckit.server.Limits` by name, for example
``max_connections_per_principal = 20`` or ``push_bytes_per_second = 262144``.

With key material the server verifies a JWT on every connection (``docs/security.md``).
Without any, it runs open — anyone who reaches it reads and writes everything — which it allows
only on a loopback address, unless ``--insecure`` is given.

``GET /metrics`` (Prometheus) on the main port needs an administrator's token, like the admin
endpoint. With ``--metrics-port`` the metrics are also served on ``--metrics-host`` at that
port without any token: bind it to a private interface that only the scraper reaches.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

_DEFAULTS: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 8080,
    "data": "synckit-data",
    "database": None,
    "durability": "full",
    "log_level": "warning",
    "log_format": "text",
    "jwt_secret_file": None,
    "jwt_secret": None,
    "jwt_public_key": [],
    "jwks": None,
    "jwt_algorithms": None,
    "jwt_audience": None,
    "jwt_issuer": None,
    "insecure": False,
    "redis": None,
    "metrics_host": "127.0.0.1",
    "metrics_port": None,
    "limits": {},
    "workers": 1,
    "catch_up_seconds": 30.0,
    "static": None,
    "offload": True,
    "snapshot_key_file": None,
    "snapshot_key": None,
}


class UsageError(Exception):
    """A setting is missing or wrong: the message says which and what to do."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synckit", description="SyncKit local-first sync engine")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the sync server",
        description="Run the SyncKit sync server (WebSocket /v1/sync) on SQLite under --data, "
        "or on PostgreSQL with --database. "
        "Each setting may also come from an environment variable or a --config file "
        "(see docs/server.md).",
    )
    serve.add_argument("--config", type=Path, help="TOML file of settings (env SYNCKIT_CONFIG)")
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port, 0 for any free one (default 8080)")
    serve.add_argument("--data", type=Path, help="directory of the SQLite database")
    serve.add_argument(
        "--database",
        help="PostgreSQL URL (postgresql://user@host/db) instead of SQLite under --data "
        "(env DATABASE_URL)",
    )
    serve.add_argument(
        "--durability",
        choices=["full", "process"],
        help="SQLite: what an acknowledged push survives: full (default) a power loss, an "
        "fsync per commit; process only a crash of the server process, no fsync per commit "
        "(env SYNCKIT_DURABILITY; PostgreSQL: its synchronous_commit decides)",
    )
    serve.add_argument(
        "--log-level",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level (default warning)",
    )
    serve.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="server log lines as text or as JSON objects (default text)",
    )
    serve.add_argument(
        "--static",
        type=Path,
        help="also serve the files of this directory at / (the web examples; env SYNCKIT_STATIC)",
    )
    serve.add_argument(
        "--offload",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="snapshot and load documents of limits.offload_bytes (64 KiB) or more off the "
        "event loop, in a worker process (default on; env SYNCKIT_OFFLOAD)",
    )
    serve.add_argument(
        "--snapshot-key-file",
        type=Path,
        help="file holding the secret the server tags its snapshots with (default: a random "
        "one kept in the database; env SYNCKIT_SNAPSHOT_KEY_FILE)",
    )
    serve.add_argument("--jwt-secret-file", type=Path, help="file holding the HS* secret")
    serve.add_argument(
        "--jwt-public-key",
        type=Path,
        action="append",
        help="PEM public key file for RS*/PS*/ES* tokens (repeatable)",
    )
    serve.add_argument("--jwks", help="JWKS document: a file or an http(s) URL")
    serve.add_argument(
        "--jwt-algorithms", help="accepted algorithms, comma-separated (e.g. RS256,ES256)"
    )
    serve.add_argument("--jwt-audience", help="required aud claim")
    serve.add_argument("--jwt-issuer", help="required iss claim")
    serve.add_argument(
        "--workers",
        type=int,
        help="server processes on the one port (more than 1 needs --database; default 1)",
    )
    serve.add_argument(
        "--redis",
        help="Redis URL: live access changes reach every server using it (env REDIS_URL)",
    )
    serve.add_argument(
        "--catch-up-seconds",
        type=float,
        help="with --database and --redis: how often each server reads what it lacks of its "
        "open documents from PostgreSQL, whatever Redis did (default 30)",
    )
    serve.add_argument(
        "--insecure",
        action="store_true",
        default=None,
        help="allow running without authentication on a non-loopback address",
    )
    migrate = commands.add_parser(
        "migrate",
        help="bring a PostgreSQL database's schema up to date",
        description="Apply the schema migrations a PostgreSQL database lacks, in order, in one "
        "transaction (servers also do so when they start).",
    )
    migrate.add_argument("--database", help="PostgreSQL URL (env SYNCKIT_DATABASE or DATABASE_URL)")
    serve.add_argument(
        "--metrics-host",
        help="interface of the unauthenticated metrics listener: a private one (default 127.0.0.1)",
    )
    serve.add_argument(
        "--metrics-port",
        type=int,
        help="serve GET /metrics without a token on this port (0: any free one); without it, "
        "/metrics on the main port needs an administrator's token",
    )
    token = commands.add_parser(
        "token",
        help="mint a development JWT",
        description="Mint a JWT for development and tests (HS256 with the server's secret, or "
        "RS256/ES256 with a private key).",
    )
    token.add_argument("--sub", required=True, help="the principal (subject)")
    token.add_argument(
        "--docs",
        action="append",
        default=[],
        metavar="PATTERN=LEVEL",
        help="grant LEVEL (read, write, admin, none) on documents matching PATTERN (repeatable)",
    )
    token.add_argument("--admin", action="store_true", help="a server administrator")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.add_argument("--secret-file", type=Path, help="HS256 secret (or SYNCKIT_JWT_SECRET)")
    token.add_argument("--private-key", type=Path, help="PEM private key for --alg")
    token.add_argument("--alg", default=None, help="algorithm (default HS256 or RS256)")
    token.add_argument("--kid", help="key id for the header")
    token.add_argument("--aud", help="audience claim")
    token.add_argument("--iss", help="issuer claim")
    delete = commands.add_parser(
        "delete",
        help="delete a document on a server, for everyone, for good",
        description="Delete a document on a running server (DELETE /v1/docs/DOC_ID): the "
        "server keeps a tombstone, removes its data and tells its clients, which drop their "
        "copies; the id can never be used again. Needs admin access to the document.",
    )
    delete.add_argument("doc_id", metavar="DOC_ID", help="the document to delete")
    delete.add_argument("--url", required=True, help="the server's base URL (http or https)")
    delete.add_argument(
        "--token", help="a token with admin access to the document (or SYNCKIT_TOKEN)"
    )
    delete.add_argument(
        "--client-id", default="synckit-cli", help="the client id to say Hello with"
    )
    return parser


def _settings(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, Any]:
    """Flags over environment over config file over defaults."""
    config: dict[str, Any] = {}
    path = args.config or environ.get("SYNCKIT_CONFIG")
    if path:
        try:
            config = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"cannot read the config file {path}: {exc}") from None
        unknown = sorted(set(config) - set(_DEFAULTS))
        if unknown:
            raise UsageError(f"{path}: unknown settings {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for key, default in _DEFAULTS.items():
        flag = getattr(args, key, None)
        env = environ.get(f"SYNCKIT_{key.upper()}")
        if env is None and key == "redis":
            env = environ.get("REDIS_URL")
        if key == "database" and not env:
            env = environ.get("DATABASE_URL")
        if flag not in (None, []):
            out[key] = flag
        elif env is not None and env != "":
            if key == "insecure":
                out[key] = env.lower() in ("1", "true", "yes")
            elif key == "offload":
                out[key] = _switch(key, env)
            elif key == "jwt_public_key":
                out[key] = [p for p in env.split(os.pathsep) if p]
            else:
                out[key] = env
        elif key in config:
            out[key] = config[key]
        else:
            out[key] = default
    try:
        out["port"] = int(out["port"])
    except (TypeError, ValueError):
        raise UsageError(f"port must be a number, got {out['port']!r}") from None
    try:
        out["workers"] = int(out["workers"])
    except (TypeError, ValueError):
        raise UsageError(f"workers must be a number, got {out['workers']!r}") from None
    if not 1 <= out["workers"] <= 64:
        raise UsageError(f"workers must be between 1 and 64, got {out['workers']}")
    try:
        out["catch_up_seconds"] = float(out["catch_up_seconds"])
    except (TypeError, ValueError):
        raise UsageError(
            f"catch_up_seconds must be a number, got {out['catch_up_seconds']!r}"
        ) from None
    if not 0 < out["catch_up_seconds"] <= 86400:
        raise UsageError(f"catch_up_seconds must be in (0, 86400], got {out['catch_up_seconds']}")
    if out["metrics_port"] is not None:
        try:
            out["metrics_port"] = int(out["metrics_port"])
        except (TypeError, ValueError):
            raise UsageError(
                f"metrics_port must be a number, got {out['metrics_port']!r}"
            ) from None
    if isinstance(out["jwt_public_key"], str):
        out["jwt_public_key"] = [out["jwt_public_key"]]
    if not isinstance(out["offload"], bool):
        raise UsageError(f"offload must be true or false, got {out['offload']!r}")
    if out["durability"] not in ("full", "process"):
        raise UsageError(f"durability must be full or process, got {out['durability']!r}")
    if out["log_format"] not in ("text", "json"):
        raise UsageError(f"log_format must be text or json, got {out['log_format']!r}")
    if out["database"] is not None:
        out["database"] = _database_url(out["database"])
    if isinstance(out["jwt_algorithms"], str):
        out["jwt_algorithms"] = [a.strip() for a in out["jwt_algorithms"].split(",") if a.strip()]
    return out


def _switch(key: str, text: str) -> bool:
    """An on/off environment variable's value."""
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"{key} must be 1 or 0 (true or false), got {text!r}")


def _snapshot_key(settings: Mapping[str, Any]) -> bytes | None:
    """The configured snapshot key's secret, or None (the store's own is used)."""
    from synckit.core._snapshot_key import MIN_SECRET

    secret: str | bytes | None = settings["snapshot_key"]
    if settings["snapshot_key_file"]:
        try:
            secret = Path(settings["snapshot_key_file"]).read_bytes().strip()
        except OSError as exc:
            raise UsageError(f"cannot read the snapshot key file: {exc}") from None
    if secret is None or secret == "":
        return None
    if not isinstance(secret, str | bytes):
        raise UsageError("snapshot_key must be text")
    data = secret.encode() if isinstance(secret, str) else secret
    if len(data) < MIN_SECRET:
        raise UsageError(f"the snapshot key must be at least {MIN_SECRET} bytes, got {len(data)}")
    return data


def _database_url(url: object) -> str:
    """``url`` when it is a PostgreSQL URL."""
    if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
        raise UsageError(f"database must be a postgresql://... URL, got {url!r}")
    return url


def _migrate(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    import asyncio

    from synckit.errors import StorageError
    from synckit.server._migrate import migrations
    from synckit.server._postgres import migrate_database, redact

    url = args.database or environ.get("SYNCKIT_DATABASE") or environ.get("DATABASE_URL")
    if not url:
        raise UsageError("give --database postgresql://... (or set DATABASE_URL)")
    url = _database_url(url)
    try:
        applied, version = asyncio.run(migrate_database(url))
    except StorageError as exc:
        print(f"synckit: {exc}", file=sys.stderr)
        return 1
    names = {m.version: f"{m.version:04d}_{m.name}" for m in migrations()}
    if applied:
        done = ", ".join(names[v] for v in applied)
        print(f"synckit: applied {done} to {redact(url)}; schema at version {version}")
    else:
        print(f"synckit: {redact(url)} is up to date (schema version {version})")
    return 0


def _verifier(settings: Mapping[str, Any]) -> Any:
    """The JwtVerifier the settings describe, or None (no key material)."""
    from synckit.server import JwtVerifier

    secret = settings["jwt_secret"]
    if settings["jwt_secret_file"]:
        try:
            secret = Path(settings["jwt_secret_file"]).read_text().strip()
        except OSError as exc:
            raise UsageError(f"cannot read the JWT secret file: {exc}") from None
    sources = [bool(secret), bool(settings["jwt_public_key"]), bool(settings["jwks"])]
    if sum(sources) > 1:
        raise UsageError("give one kind of JWT key: a secret, public keys, or a JWKS")
    if not any(sources):
        return None
    options = {"audience": settings["jwt_audience"], "issuer": settings["jwt_issuer"]}
    algorithms = settings["jwt_algorithms"]
    try:
        if secret:
            return JwtVerifier.from_secret(secret, algorithms or ["HS256"], **options)
        if settings["jwks"]:
            return JwtVerifier.from_jwks(settings["jwks"], algorithms or ["RS256"], **options)
        pems = [Path(p).read_bytes() for p in settings["jwt_public_key"]]
        return JwtVerifier.from_public_keys(pems, algorithms or ["RS256"], **options)
    except (OSError, ValueError) as exc:
        raise UsageError(f"JWT settings: {exc}") from None


def _limits(settings: Mapping[str, Any]) -> Any:
    """The Limits of the config file's ``[limits]`` table."""
    import dataclasses

    from synckit.server import Limits

    table = settings["limits"]
    if not isinstance(table, dict):
        raise UsageError("limits must be a table of Limits fields")
    known = {f.name for f in dataclasses.fields(Limits)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise UsageError(f"unknown limits {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    try:
        return Limits(**table)
    except ValueError as exc:
        raise UsageError(f"limits: {exc}") from None


def _log_to_stderr(level: str, form: str) -> None:
    """Send the server's own log lines (logger ``synckit.server``) to stderr."""
    import logging

    from synckit.server import JsonLogFormatter

    handler = logging.StreamHandler(sys.stderr)
    if form == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("synckit.server")
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _serve(settings: Mapping[str, Any]) -> int:
    import uvicorn

    from synckit.errors import StorageError
    from synckit.server._run import base_url, bind, uvicorn_config

    host, port, data = settings["host"], settings["port"], Path(settings["data"])
    database: str | None = settings["database"]
    verifier = _verifier(settings)
    limits = _limits(settings)
    key_given = _snapshot_key(settings) is not None
    if verifier is None and not _is_loopback(host) and not settings["insecure"]:
        raise UsageError(
            f"refusing to serve {host} without authentication: anyone who can reach it could "
            "read and write every document. Give JWT keys (--jwt-secret-file, "
            "--jwt-public-key or --jwks; see docs/security.md), listen on 127.0.0.1, or pass "
            "--insecure if that is really what you want"
        )
    metrics_sock = None
    if settings["metrics_port"] is not None:
        metrics_host, metrics_port = settings["metrics_host"], settings["metrics_port"]
        try:
            metrics_sock = bind(metrics_host, metrics_port)
        except OSError as exc:
            print(
                f"synckit: cannot listen for metrics on {metrics_host}:{metrics_port}: {exc}",
                file=sys.stderr,
            )
            return 1
    workers = settings["workers"]
    if workers > 1 and database is None:
        raise UsageError(
            f"--workers {workers}: several processes can serve one data set only on PostgreSQL "
            "(--database); SQLite is served by one process (its data directory is locked)"
        )
    if workers > 1 and metrics_sock is not None:
        raise UsageError("--metrics-port serves one process: use /metrics with --workers")
    try:
        if database is not None:
            _postgres_store(database)  # migrated now, once: fail early and clearly
        app = _build_app(settings, verifier, limits, metrics_sock)
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
    if database is None:
        where = f"{data.resolve()}, durability {settings['durability']}"
    else:
        from synckit.server._postgres import redact

        where = redact(database)
    print(
        f"SyncKit server listening on {url} (WebSocket {ws}/v1/sync, data in {where})", flush=True
    )
    if verifier is None:
        print(
            f"synckit: no authentication: anyone who can reach {url} can read and write every "
            "document (give JWT keys to require tokens; see docs/security.md)",
            flush=True,
        )
    else:
        print(
            f"synckit: JWT required ({', '.join(verifier.algorithms)})",
            flush=True,
        )
    if metrics_sock is not None:
        print(
            f"synckit: metrics without authentication on {base_url(metrics_sock)}/metrics "
            "(keep that address private)",
            flush=True,
        )
    offload = (
        f"offload on (documents of {limits.offload_bytes} bytes or more are snapshotted and "
        "loaded off the event loop)"
        if settings["offload"]
        else "offload off (every document is snapshotted and loaded on the event loop)"
    )
    where_key = "configured" if key_given else "kept in the database"
    print(f"synckit: {offload}; snapshot key {where_key}", flush=True)
    _log_to_stderr(settings["log_level"], settings["log_format"])
    # Server.run picks uvloop when it is installed (uvicorn[standard]).
    try:
        if workers > 1:
            from uvicorn.supervisors import Multiprocess

            # Each worker builds its own app from the same settings (an app is not picklable).
            os.environ[_WORKER_SETTINGS] = json.dumps(dict(settings), default=str)
            config = uvicorn_config(
                "synckit.cli:worker_app",
                log_level=settings["log_level"],
                factory=True,
                max_frame_bytes=limits.max_frame_bytes,
                handshake_timeout=limits.handshake_timeout,
                max_head_bytes=limits.max_head_bytes,
                min_body_rate=limits.min_body_rate,
            )
            config.workers = workers
            Multiprocess(config, sockets=[sock]).run()
        else:
            config = uvicorn_config(app, log_level=settings["log_level"])
            uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn raises the SIGINT again once it has shut down
        return 130
    return 0


# The environment variable that carries the settings to each worker process.
_WORKER_SETTINGS = "SYNCKIT_WORKER_SETTINGS"


def _build_app(settings: Mapping[str, Any], verifier: Any, limits: Any, metrics_sock: Any) -> Any:
    """The server app the settings describe (its PostgreSQL store connects lazily)."""
    from synckit.server import create_app

    database: str | None = settings["database"]
    feed = bus = presence = None
    if settings["redis"]:
        from synckit.server import RedisAccessFeed, RedisChangeBus, RedisPresenceBus

        feed = RedisAccessFeed(settings["redis"])
        if database is not None:  # servers sharing a database hear of each other's changes
            bus = RedisChangeBus(settings["redis"])
            presence = RedisPresenceBus(settings["redis"])  # and see each other's clients
    if database is None:
        from synckit.server import open_store

        store: Any = open_store(Path(settings["data"]), durability=settings["durability"])
    else:
        from synckit.server import PostgresStore

        store = PostgresStore(database, migrate=False)
    app = create_app(
        store,
        authenticate=verifier,
        limits=limits,
        access_feed=feed,
        metrics_address=metrics_sock,
        change_bus=bus,
        catch_up_seconds=settings["catch_up_seconds"],
        presence_bus=presence,
        offload=settings["offload"],
        snapshot_key=_snapshot_key(settings),
    )
    if settings["static"] is not None:
        _mount_static(app, Path(settings["static"]))
    _freeze_after_startup(app)
    return app


def _freeze_after_startup(app: Any) -> None:
    """Once the app has started (every module imported, the store open), move every object
    the process holds into the collector's permanent generation (``gc.freeze``), in this
    process and in each worker.

    A full collection otherwise walks those objects too: under steady writes the server ran
    one every 1.5-2 s, each holding the event loop 29-42 ms on a 2-core machine, and 0.2-0.5
    ms with them frozen (benchmarks/README.md). Nothing frozen is ever freed by the cyclic
    collector; what start-up made lives as long as the process anyway, and what comes
    later (connections, documents) is collected as before.
    """
    import contextlib
    import gc

    started = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        async with started(app) as state:
            gc.freeze()
            yield state

    app.router.lifespan_context = lifespan


def _mount_static(app: Any, folder: Path) -> None:
    """Serve the files of ``folder`` at ``/`` after the server's own routes (``index.html``
    for a directory): public files, served without a token, like any web host's."""
    from starlette.staticfiles import StaticFiles

    if not folder.is_dir():
        raise UsageError(f"static must be a directory, got {str(folder)!r}")
    app.mount("/", StaticFiles(directory=folder, html=True), name="static")


def worker_app() -> Any:
    """The app of one ``synckit serve --workers N`` process (uvicorn calls it in each)."""
    settings = json.loads(os.environ[_WORKER_SETTINGS])
    _log_to_stderr(settings["log_level"], settings["log_format"])
    return _build_app(settings, _verifier(settings), _limits(settings), None)


def _postgres_store(url: str) -> Any:
    """A PostgresStore for ``url``, its schema migrated now. It connects in uvicorn's event
    loop, when the app's lifespan first reads from it (an asyncpg pool belongs to the loop it
    was made in), so this only migrates, on a connection of its own, to fail early and
    clearly when the database cannot be used.

    Raises:
        StorageError: the database cannot be reached or migrated.
    """
    import asyncio

    from synckit.server import PostgresStore
    from synckit.server._postgres import migrate_database

    asyncio.run(migrate_database(url))
    return PostgresStore(url)


def _token(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    import jwt

    docs: dict[str, str] = {}
    for grant in args.docs:
        pattern, sep, level = grant.partition("=")
        if not sep or level not in ("none", "read", "write", "admin") or not pattern:
            raise UsageError(
                f"--docs takes PATTERN=LEVEL (read, write, admin, none), got {grant!r}"
            )
        docs[pattern] = level
    now = int(time.time())
    claims: dict[str, Any] = {"sub": args.sub, "iat": now, "exp": now + args.ttl}
    section: dict[str, Any] = {"docs": docs}
    if args.admin:
        section["admin"] = True
    claims["synckit"] = section
    if args.aud:
        claims["aud"] = args.aud
    if args.iss:
        claims["iss"] = args.iss
    headers = {"kid": args.kid} if args.kid else None
    if args.private_key:
        try:
            key: Any = args.private_key.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read the private key: {exc}") from None
        alg = args.alg or "RS256"
    else:
        secret = environ.get("SYNCKIT_JWT_SECRET", "")
        if args.secret_file:
            try:
                secret = args.secret_file.read_text().strip()
            except OSError as exc:
                raise UsageError(f"cannot read the secret file: {exc}") from None
        if not secret:
            raise UsageError("give --secret-file, SYNCKIT_JWT_SECRET or --private-key")
        key, alg = secret, args.alg or "HS256"
    try:
        print(jwt.encode(claims, key, algorithm=alg, headers=headers))
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise UsageError(f"cannot sign the token: {exc}") from None
    return 0


def _delete(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    import httpx

    from synckit.client import http_doc_url
    from synckit.errors import InvalidValueError
    from synckit.protocol import (
        HTTP_MEDIA_TYPE,
        Error,
        HttpSyncRequest,
        decode_http_answer,
        encode_http_request,
    )

    try:
        url = http_doc_url(args.url, args.doc_id)
    except InvalidValueError as exc:
        raise UsageError(str(exc)) from None
    token = args.token if args.token is not None else environ.get("SYNCKIT_TOKEN", "")
    body = encode_http_request(HttpSyncRequest(args.client_id, token))
    headers = {"content-type": HTTP_MEDIA_TYPE, "accept": HTTP_MEDIA_TYPE}
    try:
        response = httpx.request("DELETE", url, content=body, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        print(f"synckit: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    answer = decode_http_answer(response.content, ok=response.status_code == 200)
    if isinstance(answer, Error):
        print(f"synckit: {answer.code.name}: {answer.message}", file=sys.stderr)
        return 1
    if answer is None:
        print(
            f"synckit: HTTP {response.status_code} from {url} is not a SyncKit answer",
            file=sys.stderr,
        )
        return 1
    print(f"deleted {args.doc_id}")
    return 0


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command line; return the exit status (2 for a usage error)."""
    args = _parser().parse_args(argv)
    env = os.environ if environ is None else environ
    try:
        if args.command == "serve":
            return _serve(_settings(args, env))
        if args.command == "migrate":
            return _migrate(args, env)
        if args.command == "token":
            return _token(args, env)
        if args.command == "delete":
            return _delete(args, env)
    except UsageError as exc:
        print(f"synckit: {exc}", file=sys.stderr)
        return 2
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
