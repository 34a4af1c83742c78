"""The deployment files (deploy/): no container engine can pull images here, so they are kept
correct by this review in code: the compose file parses and wires what the docs say, the image
runs as a non-root user with a health check, the load balancer passes WebSockets to both
servers, and every setting they give the server is one `synckit serve` knows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from synckit import cli

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_compose_runs_two_servers_on_postgres_and_redis_behind_a_balancer() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "synckit-1", "synckit-2", "lb"}
    for name in ("synckit-1", "synckit-2"):
        server = services[name]
        env = server["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["SYNCKIT_JWT_SECRET_FILE"] == "/run/secrets/jwt_secret"
        assert server["secrets"] == ["jwt_secret"]
        assert server["build"]["dockerfile"] == "deploy/Dockerfile"
        assert server["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert server["depends_on"]["redis"]["condition"] == "service_healthy"
    lb = services["lb"]
    assert lb["depends_on"] == {
        "synckit-1": {"condition": "service_healthy"},
        "synckit-2": {"condition": "service_healthy"},
    }
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in lb["volumes"]
    assert compose()["secrets"]["jwt_secret"]["file"] == "./jwt-secret.txt"


def test_every_environment_setting_is_one_the_server_reads() -> None:
    env = compose()["services"]["synckit-1"]["environment"]
    known = {f"SYNCKIT_{key.upper()}" for key in cli._DEFAULTS} | {"DATABASE_URL", "REDIS_URL"}
    assert set(env) <= known, set(env) - known
    assert env["SYNCKIT_LOG_FORMAT"] in ("text", "json")


def test_the_image_is_slim_runs_as_a_user_and_checks_its_health() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[0].startswith("FROM python:3.11-slim")
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(ln.startswith("HEALTHCHECK") for ln in lines)
    assert "/health" in text
    cmd = [ln for ln in lines if ln.startswith("CMD [")][-1]  # the health check's comes first
    argv = yaml.safe_load(cmd[len("CMD ") :])  # a JSON array
    assert argv[:2] == ["synckit", "serve"]
    # Every flag the image passes is one `synckit serve` accepts.
    args = cli._parser().parse_args(argv[1:])
    assert args.host == "0.0.0.0" and args.port == 8080


def test_the_balancer_passes_websockets_to_both_servers() -> None:
    text = (DEPLOY / "nginx.conf").read_text()
    upstream = re.search(r"upstream synckit \{(.*?)\}", text, re.S)
    assert upstream is not None
    servers = re.findall(r"^\s*server (\S+)", upstream.group(1), re.M)
    assert servers == ["synckit-1:8080", "synckit-2:8080"]
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_set_header Connection $connection_upgrade;" in text
    assert "proxy_http_version 1.1;" in text
    # A request as large as the server's largest frame gets through.
    size = re.search(r"client_max_body_size (\d+)m;", text)
    assert size is not None and int(size.group(1)) * 1024 * 1024 > 8 * 1024 * 1024
    # Idle WebSockets outlive the client's ping interval.
    timeout = re.search(r"proxy_read_timeout (\d+)s;", text)
    assert timeout is not None and int(timeout.group(1)) > 10
    assert "least_conn;" in upstream.group(1)
