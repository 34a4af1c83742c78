"""The table ``bench_scale.py`` prints: one row per scenario (and per SyncKit client kind),
with SyncKit's ratios against the peers measured in the same run and whether the issue's
target is met."""

from __future__ import annotations

import argparse
from typing import Any

#: The libraries' result keys, as bench_scale.py records them.
LIBS = ("pycrdt", "hocuspocus", "synckit")

Results = dict[str, dict[str, Any]]


def _ratio(a: float | None, b: float | None) -> str:
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def clients_of(rows: dict[str, Any]) -> int:
    return max((int(row.get("clients", 0)) for row in rows.values()), default=0)


def table(results: Results, args: argparse.Namespace) -> list[str]:
    out = [
        "| scenario | pycrdt-websocket | Hocuspocus | SyncKit | SyncKit ÷ pycrdt | "
        "SyncKit ÷ Hocuspocus | target | met? |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def get(key: str, lib: str, field: str) -> float | None:
        value = results.get(key, {}).get(lib, {}).get(field)
        return None if value is None else float(value)

    def lat(key: str, lib: str) -> str:
        p50, p99 = get(key, lib, "p50_ms"), get(key, lib, "p99_ms")
        return "n/a" if p50 is None or p99 is None else f"{p50:.1f} / {p99:.1f}"

    def yes(ok: bool | None) -> str:
        return "n/a" if ok is None else ("yes" if ok else "**no**")

    def variants(key: str) -> list[tuple[str, str]]:
        """SyncKit's rows of a scenario: (driver, label suffix), Python clients then TS."""
        rows = results.get(key, {})
        ts = any(k.startswith("synckit-ts") for k in rows)
        python = any(k.startswith("synckit") and not k.startswith("synckit-ts") for k in rows)
        out = [("synckit", "")] if python or not ts else []
        out += [("synckit-ts", " (SyncKit: TS clients on Node)")] if ts else []
        if "synckit-lib" in rows:
            out.append(("synckit-lib", " (SyncKit: apps on synckit.client, which coalesces)"))
        return out

    for key in ("latency100", "latency1000"):
        if key not in results:
            continue
        n = clients_of(results[key])
        hp, py = (get(key, lib, "p99_ms") for lib in ("hocuspocus", "pycrdt"))
        for lib, tag in variants(key):
            sk = get(key, lib, "p99_ms")
            met = None if sk is None or hp is None else sk <= hp
            every = "; every client got every edit" if key == "latency1000" else ""
            out.append(
                f"| edit -> other client, {n:,} clients in one document, p50 / p99 ms{tag} "
                f"| {lat(key, 'pycrdt')} | {lat(key, 'hocuspocus')} | {lat(key, lib)} "
                f"| {_ratio(sk, py)} (p99) | {_ratio(sk, hp)} (p99) "
                f"| p99 at most Hocuspocus's{every} | {yes(met)} |"
            )
    for lib, tag in variants("writers") if "writers" in results else []:
        sk, pg = get("writers", lib, "per_s"), get("writers", f"{lib}-pg", "per_s")
        hp, py = get("writers", "hocuspocus", "per_s"), get("writers", "pycrdt", "per_s")
        weak = get("writers", f"{lib}-process", "per_s")

        def num(x: float | None) -> str:
            return "n/a" if x is None else f"{x:,.0f}"

        process = "" if weak is None else f" ({num(weak)} SQLite with --durability process)"

        met = None if sk is None or pg is None else min(sk, pg) >= 10_000
        out.append(
            f"| 10 writers on one document, acknowledged updates/s{tag} "
            f"| {num(py)} (in memory) | {num(hp)} (in memory) "
            f"| {num(sk)} SQLite, {num(pg)} PostgreSQL{process} "
            f"| {_ratio(sk, py)} / {_ratio(pg, py)} | {_ratio(sk, hp)} / {_ratio(pg, hp)} "
            f"| at least 10,000 durable on SQLite and on PostgreSQL | {yes(met)} |"
        )
    for lib, tag in variants("idle") if "idle" in results else []:
        vals = {peer: get("idle", peer, "kib_per_conn") for peer in LIBS}
        conns = 400 if args.quick else args.idle

        def kib(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.1f}"

        sk = get("idle", lib, "kib_per_conn")
        met = None if sk is None or conns < 10_000 else sk <= 16
        out.append(
            f"| idle connections held ({conns:,} each), server RSS KiB per connection{tag} "
            f"| {kib(vals['pycrdt'])} | {kib(vals['hocuspocus'])} | {kib(sk)} "
            f"| {_ratio(sk, vals['pycrdt'])} | {_ratio(sk, vals['hocuspocus'])} "
            f"| 10,000 at ≤ 16 KiB | {yes(met)} |"
        )
    for lib, tag in variants("join") if "join" in results else []:
        vals = {peer: get("join", peer, "median_ms") for peer in LIBS}
        keys = 1000 if args.quick else 10_000
        sk = get("join", lib, "median_ms")

        def ms(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.1f}"

        out.append(
            f"| fresh client joins a {keys:,}-key document, median ms{tag} "
            f"| {ms(vals['pycrdt'])} | {ms(vals['hocuspocus'])} | {ms(sk)} "
            f"| {_ratio(sk, vals['pycrdt'])} | {_ratio(sk, vals['hocuspocus'])} "
            f"| at most 18 ms | {yes(None if sk is None else sk <= 18)} |"
        )
    if "two-servers" in results:
        one, two = get("two-servers", "one", "p99_ms"), get("two-servers", "two", "p99_ms")
        n = clients_of(results["two-servers"])
        met = None if one is None or two is None else two <= 2 * one
        out.append(
            f"| 2 SyncKit servers + Redis + PostgreSQL, {n:,} clients split, p50 / p99 ms "
            f"| — | — | {lat('two-servers', 'two')} (one server: {lat('two-servers', 'one')}) "
            f"| — | — | p99 within 2x of one server (here {_ratio(two, one)}x) | {yes(met)} |"
        )
    return out
