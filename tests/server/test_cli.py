"""`synckit serve` and `synckit token` as real processes: authentication settings, the refusal
to run open on a public address, and one server per data directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from live import ServerProcess, free_port, server_environment

from synckit.cli import main
from synckit.client import connect
from synckit.errors import AuthError

SECRET = "c" * 64


def synckit(
    *args: str, env: dict[str, str] | None = None, timeout: float = 20
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "synckit.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(server_environment(), **(env or {})),
        check=False,
    )


def test_an_open_server_on_a_public_address_refuses_to_start(tmp_path: Path) -> None:
    done = synckit("serve", "--host", "0.0.0.0", "--port", "0", "--data", str(tmp_path / "d"))
    assert done.returncode == 2
    assert "without authentication" in done.stderr and "--insecure" in done.stderr
    assert not (tmp_path / "d").exists()  # refused before touching anything


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "sync.example.com"])
def test_every_kind_of_public_address_is_refused_without_authentication(
    tmp_path: Path, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # In this process (the test above and tests/e2e/test_e2e_security.py run real ones): the
    # flag and the environment, for any address that is not loopback.
    data = tmp_path / "d"
    assert main(["serve", "--host", host, "--port", "0", "--data", str(data)], environ={}) == 2
    assert f"refusing to serve {host} without authentication" in capsys.readouterr().err
    environ = {"SYNCKIT_HOST": host, "SYNCKIT_DATA": str(data)}
    assert main(["serve", "--port", "0"], environ=environ) == 2
    assert "without authentication" in capsys.readouterr().err
    assert not data.exists()


def test_insecure_allows_it_and_says_so(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "d", 0, ["--host", "0.0.0.0", "--insecure"])
    try:
        # the banner names the address; the next line warns that anyone can write
        server.start()
        assert server.proc is not None and server.proc.stdout is not None
        assert "no authentication" in server.proc.stdout.readline()
    finally:
        server.terminate()


def test_tokens_minted_by_the_cli_are_required_and_accepted(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET)
    config = tmp_path / "synckit.toml"
    config.write_text(f'jwt_secret_file = "{secret_file}"\njwt_audience = "notes"\n')
    minted = synckit(
        "token",
        "--sub",
        "alice",
        "--docs",
        "notes-*=write",
        "--aud",
        "notes",
        env={"SYNCKIT_JWT_SECRET": SECRET},
    )
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    server = ServerProcess(tmp_path / "d", free_port(), ["--config", str(config)]).start()
    try:
        assert server.proc is not None and server.proc.stdout is not None
        assert "JWT required (HS256)" in server.proc.stdout.readline()

        async def run() -> None:
            async with connect(server.url, token=token, client_id="a") as client:
                doc = await client.open("notes-1")
                doc.set("title", "hello")
                await client.wait_synced(timeout=10)
            async with connect(server.url, token="", client_id="b") as anonymous:
                (await anonymous.open("notes-1")).set("x", 1)
                with pytest.raises(AuthError, match="no token"):
                    await anonymous.wait_synced(timeout=10)

        import asyncio

        asyncio.run(run())
        headers = {"authorization": f"Bearer {token}"}
        view = httpx.get(f"{server.url}/v1/docs/notes-1", headers=headers, timeout=5)
        assert view.json() == {"title": "hello"}
        assert httpx.get(f"{server.url}/v1/docs/notes-1", timeout=5).status_code == 401
        other = httpx.get(f"{server.url}/v1/docs/secret-1", headers=headers, timeout=5)
        assert other.status_code == 403  # the token grants notes-* only
    finally:
        server.terminate()


@pytest.mark.parametrize("given", ["0", "-1", "soon"])
def test_serve_refuses_a_bad_catch_up_interval(tmp_path: Path, given: str) -> None:
    done = synckit("serve", "--data", str(tmp_path), env={"SYNCKIT_CATCH_UP_SECONDS": given})
    assert done.returncode == 2 and "catch_up_seconds must be" in done.stderr


def test_token_refuses_a_bad_grant() -> None:
    done = synckit("token", "--sub", "a", "--docs", "x=owner", env={"SYNCKIT_JWT_SECRET": SECRET})
    assert done.returncode == 2 and "PATTERN=LEVEL" in done.stderr


def test_a_second_server_on_one_data_directory_refuses_to_start(tmp_path: Path) -> None:
    data = tmp_path / "d"
    first = ServerProcess(data, free_port()).start()
    try:

        async def write() -> None:
            async with connect(first.url, client_id="w") as client:
                (await client.open("doc")).set("kept", True)
                await client.wait_synced(timeout=10)

        import asyncio

        asyncio.run(write())
        second = synckit("serve", "--port", str(free_port()), "--data", str(data))
        assert second.returncode == 1
        assert "in use by another SyncKit server" in second.stderr
        assert f"pid {first.proc.pid}" in second.stderr  # type: ignore[union-attr]
        assert httpx.get(first.url + "/health", timeout=5).status_code == 200  # still serving
        first.kill()  # SIGKILL: the kernel releases the lock
        again = ServerProcess(data, free_port()).start()
        try:
            assert httpx.get(f"{again.url}/v1/docs/doc", timeout=5).json() == {"kept": True}
        finally:
            again.terminate()
    finally:
        first.terminate()


def test_static_serves_a_folder_beside_the_sync_endpoints(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "build").mkdir(parents=True)
    (site / "index.html").write_text("<h1>examples</h1>")
    (site / "build" / "app.js").write_text("console.log(1)")
    server = ServerProcess(tmp_path / "d", 0, ["--static", str(site)])
    try:
        server.start()
        assert httpx.get(f"{server.url}/").text == "<h1>examples</h1>"
        app = httpx.get(f"{server.url}/build/app.js")
        assert app.status_code == 200 and "javascript" in app.headers["content-type"]
        assert httpx.get(f"{server.url}/health").status_code == 200  # the server's routes first
        assert httpx.get(f"{server.url}/missing.html").status_code == 404
    finally:
        server.terminate()


def test_static_must_be_a_folder(tmp_path: Path) -> None:
    done = synckit("serve", "--port", "0", "--data", str(tmp_path / "d"), "--static", "nope")
    assert done.returncode == 2
    assert "static must be a directory" in done.stderr


@pytest.mark.parametrize(
    ("args", "env", "mode"),
    [
        ([], {}, "full"),
        (["--durability", "process"], {}, "process"),
        ([], {"SYNCKIT_DURABILITY": "process"}, "process"),
        (["--durability", "full"], {"SYNCKIT_DURABILITY": "process"}, "full"),
    ],
)
def test_durability_comes_from_the_flag_then_the_environment(
    tmp_path: Path, args: list[str], env: dict[str, str], mode: str
) -> None:
    proc = ServerProcess(tmp_path / "d", free_port(), args, env=env).start()
    try:
        assert f"durability {mode}" in proc.banner
    finally:
        proc.terminate()


def test_serve_refuses_an_unknown_durability(tmp_path: Path) -> None:
    done = synckit(
        "serve", "--port", "0", "--data", str(tmp_path / "d"), env={"SYNCKIT_DURABILITY": "off"}
    )
    assert done.returncode == 2
    assert "durability must be full or process" in done.stderr


@pytest.mark.parametrize(
    ("args", "env", "config", "want"),
    [
        ([], {}, "", True),
        (["--no-offload"], {}, "", False),
        (["--offload"], {"SYNCKIT_OFFLOAD": "0"}, "", True),
        ([], {"SYNCKIT_OFFLOAD": "false"}, "", False),
        ([], {}, "offload = false\n", False),
        ([], {"SYNCKIT_OFFLOAD": "1"}, "offload = false\n", True),
    ],
)
def test_offload_comes_from_the_flag_the_environment_then_the_config(
    tmp_path: Path, args: list[str], env: dict[str, str], config: str, want: bool
) -> None:
    from synckit.cli import _parser, _settings

    path = tmp_path / "c.toml"
    path.write_text(config)
    parsed = _parser().parse_args(["serve", "--config", str(path), *args])
    assert _settings(parsed, env)["offload"] is want


def test_bad_offload_and_snapshot_key_settings_are_refused(tmp_path: Path) -> None:
    done = synckit("serve", "--data", str(tmp_path), env={"SYNCKIT_OFFLOAD": "maybe"})
    assert done.returncode == 2 and "offload must be 1 or 0" in done.stderr
    done = synckit("serve", "--data", str(tmp_path), env={"SYNCKIT_SNAPSHOT_KEY": "short"})
    assert done.returncode == 2 and "snapshot key must be at least 16 bytes" in done.stderr
    done = synckit("serve", "--data", str(tmp_path), "--snapshot-key-file", str(tmp_path / "no"))
    assert done.returncode == 2 and "cannot read the snapshot key file" in done.stderr


def test_the_snapshot_key_comes_from_its_file_or_the_environment(tmp_path: Path) -> None:
    from synckit.cli import _parser, _settings, _snapshot_key

    key_file = tmp_path / "key"
    key_file.write_bytes(b"s" * 40 + b"\n")
    parsed = _parser().parse_args(["serve", "--snapshot-key-file", str(key_file)])
    assert _snapshot_key(_settings(parsed, {"SYNCKIT_SNAPSHOT_KEY": "e" * 20})) == b"s" * 40
    parsed = _parser().parse_args(["serve"])
    assert _snapshot_key(_settings(parsed, {"SYNCKIT_SNAPSHOT_KEY": "e" * 20})) == b"e" * 20
    assert _snapshot_key(_settings(parsed, {})) is None


def test_serve_says_whether_it_offloads_and_uses_the_key_it_is_given(tmp_path: Path) -> None:
    import asyncio

    from synckit import SnapshotKey
    from synckit.server import SQLiteStore

    key = "a configured snapshot key, 40 bytes long"
    env = {"SYNCKIT_SNAPSHOT_KEY": key}
    proc = ServerProcess(tmp_path / "d", free_port(), ["--no-offload"], env=env).start()
    try:
        assert proc.proc is not None and proc.proc.stdout is not None
        lines = [proc.proc.stdout.readline() for _ in range(2)]
        assert any("offload off" in line for line in lines), lines
        assert any("snapshot key configured" in line for line in lines), lines

        async def write() -> None:
            async with connect(proc.url, client_id="w") as client:
                doc = await client.open("doc")
                for i in range(3):
                    doc.set(f"k{i}", i)
                    await client.wait_synced(timeout=10)

        asyncio.run(write())
    finally:
        proc.terminate()  # a graceful stop snapshots the open documents
    store = SQLiteStore(tmp_path / "d" / "synckit.db")
    try:
        stored = store.load("doc")
        assert stored is not None and stored.snapshot is not None and stored.tag is not None
        assert SnapshotKey(key.encode()).verify(stored.snapshot, stored.tag)
        assert not SnapshotKey(store.snapshot_key()).verify(stored.snapshot, stored.tag)
    finally:
        store.close()


def test_serve_freezes_what_start_up_made_once_the_app_has_started(tmp_path: Path) -> None:
    # What start-up made (modules, the store) goes to the collector's permanent generation
    # only after the app started, so full collections under load skip it (see
    # cli._freeze_after_startup); the lifespan still starts and closes the server.
    import asyncio
    import gc

    from synckit import cli

    args = cli._parser().parse_args(["serve", "--data", str(tmp_path / "data")])
    settings = cli._settings(args, {})
    app = cli._build_app(settings, None, cli._limits(settings), None)
    gc.unfreeze()

    async def run() -> int:
        async with app.router.lifespan_context(app):
            return gc.get_freeze_count()

    try:
        before = gc.get_freeze_count()
        during = asyncio.run(run())
    finally:
        gc.unfreeze()
    assert before == 0
    assert during > 1000  # every module's objects, at least
