#!/usr/bin/env python3
"""SyncKit's one entry point for developers: sets up ``.venv`` and runs a task in it.

    python3 dev.py serve [ARGS...]      run the server on embedded SQLite (data in ./data)
    python3 dev.py test [ARGS...]       the default test run: every test not marked slow
                                        (ARGS go to pytest: a folder, -k NAME, -m slow, ...)
    python3 dev.py test --all [ARGS...] every test, the slow ones too
    python3 dev.py check                ruff (lint and format) and mypy --strict
    python3 dev.py bench [ARGS...]      benchmarks side by side with pycrdt and loro
    python3 dev.py fuzz TARGET [--runs N] [--time S] [FLAGS...]
                                        coverage-guided fuzzing of one decoder with atheris
                                        (fuzz/fuzzer.py; without TARGET: list the targets)
    python3 dev.py chaos [--full]       the chaos matrix on a real network (client processes in
                                        network namespaces; needs root): packet loss, latency,
                                        partitions, kills, restarts; rewrites docs/reliability.md
                                        (tools/reliability.py; --full: more clients and edits)
    python3 dev.py soak [--minutes N] [--seconds S] [--report-every S] [--honest K]
                                        a real server under mixed load and random faults
                                        (tools/soak.py; default an hour): RSS, open fds and
                                        asyncio tasks each minute, their slope judged
    python3 dev.py demo                 two replicas syncing in one process, no server
    python3 dev.py example NAME [ARGS]  run examples/NAME.py (without NAME: list the examples)
    python3 dev.py examples [ARGS...]   the web examples (examples/web: a todo list, shared
                                        notes) on a server at http://127.0.0.1:8080; builds
                                        their bundles first when needed (needs Node and npm)

The first run creates ``.venv`` and installs the project with its dev extra (and the bench
extra for ``bench``, the fuzz extra for ``fuzz``); later runs reinstall only when
pyproject.toml changed. With SYNCKIT_DEV_PYTHON set to a Python that already has synckit and
its dev extra installed, dev.py runs every task with that interpreter instead and creates or
installs nothing.

A task runs as a child process in a session of its own. dev.py passes SIGINT, SIGTERM, SIGHUP
and SIGQUIT on to it (a Ctrl-C in the terminal reaches the child exactly once, through
dev.py; a signal ignored when dev.py started, as under nohup, stays ignored), stops and
continues it with dev.py on Ctrl-Z, waits for it to end and exits with its status (128 + N
when signal N ended it).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
EXAMPLES = ROOT / "examples"
WEB = EXAMPLES / "web"
#: The npm packages the web examples are built from, in build order.
WEB_PACKAGES = (ROOT / "clients" / "typescript", ROOT / "clients" / "react", WEB)
#: Signals dev.py passes on to the task it runs (those this platform has).
FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")


def _ensure_env(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may run under an older python3
        raise SystemExit(f"SyncKit needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"dev.py: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".synckit-installed-{extras.replace(',', '-')}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"dev.py: installing synckit[{extras}] into {VENV}", flush=True)
    subprocess.run(
        [
            str(PY),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-e",
            f"{ROOT}[{extras}]",
        ],
        check=True,
    )
    stamp.write_text(digest)


def _python(extras: str = "dev") -> str:
    """The interpreter a task runs with: $SYNCKIT_DEV_PYTHON as it is, else .venv's, set up."""
    given = os.environ.get("SYNCKIT_DEV_PYTHON")
    if given:
        return given
    _ensure_env(extras)
    return str(PY)


def _exit_status(returncode: int) -> int:
    """A child's status as a shell reports it: 128 + N when signal N ended it."""
    return 128 - returncode if returncode < 0 else returncode


def _signal(child: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended and was reaped meanwhile
        child.send_signal(signum)


def _run(argv: list[str]) -> int:
    """Run ``argv`` in ROOT until it ends, passing signals on to it; return its exit status."""
    if os.name == "nt":  # a console Ctrl-C reaches every process attached to the console
        return _run_through_ctrl_c(argv)
    child: subprocess.Popen[bytes] | None = None
    early: list[int] = []  # signals that came before the child existed

    def forward(signum: int, _frame: FrameType | None) -> None:
        if child is None:
            early.append(signum)
        elif signum == signal.SIGTSTP:  # Ctrl-Z: stop both; the shell's fg or bg continues us
            # SIGSTOP: the kernel drops a SIGTSTP sent to the child's orphaned process group.
            _signal(child, signal.SIGSTOP)
            os.kill(os.getpid(), signal.SIGSTOP)  # returns once we are continued
            _signal(child, signal.SIGCONT)
        else:
            _signal(child, signum)

    signums = [getattr(signal, name) for name in (*FORWARDED, "SIGTSTP") if hasattr(signal, name)]
    # A signal ignored from the start stays ignored (as under nohup): it is not passed on.
    handled = [s for s in signums if signal.getsignal(s) is not signal.SIG_IGN]
    previous = {signum: signal.signal(signum, forward) for signum in handled}
    try:
        # Its own session keeps the terminal's Ctrl-C from reaching the child directly as well:
        # a second SIGINT makes uvicorn give up its graceful shutdown.
        child = subprocess.Popen(argv, cwd=ROOT, start_new_session=True)
        for signum in early:
            forward(signum, None)
        return _exit_status(child.wait())
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run_through_ctrl_c(argv: list[str]) -> int:
    with subprocess.Popen(argv, cwd=ROOT) as child:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:  # the child got the Ctrl-C too: wait for it to end
                continue


def _example(rest: list[str]) -> int:
    names = sorted(path.stem for path in EXAMPLES.glob("*.py"))
    if not rest or rest[0] not in names:
        wrong = f"dev.py: no example {rest[0]!r}; " if rest else ""
        print(f"{wrong}usage: python3 dev.py example NAME, NAME one of: {', '.join(names)}")
        return 2
    return _run([_python(), str(EXAMPLES / f"{rest[0]}.py"), *rest[1:]])


def _test(rest: list[str]) -> int:
    if "--all" in rest:  # an explicit -m replaces pyproject's -m 'not slow'
        rest = ["-m", "", *(arg for arg in rest if arg != "--all")]
    return _run([_python(), "-m", "pytest", *rest])


def _serve(rest: list[str]) -> int:
    if not any(arg == "--data" or arg.startswith("--data=") for arg in rest):
        rest = ["--data", str(ROOT / "data"), *rest]
    if not any(arg == "--database" or arg.startswith("--database=") for arg in rest):
        # Embedded SQLite, as promised, even where the environment names a database.
        os.environ.pop("DATABASE_URL", None)
        os.environ.pop("SYNCKIT_DATABASE", None)
    return _run([_python(), "-m", "synckit.cli", "serve", *rest])


def _web_sources() -> list[Path]:
    """The files the web bundles are made from."""
    found: list[Path] = []
    for package in WEB_PACKAGES:
        found += [package / "package-lock.json", package / "package.json"]
        found += [p for p in (package / "src").rglob("*") if p.suffix in (".ts", ".tsx")]
    return found


def _build_web() -> int:
    """Install (npm ci, once) and build the web examples when a source is newer than them."""
    bundles = [WEB / "public" / "build" / f"{name}.js" for name in ("todo", "notes")]
    built = min((b.stat().st_mtime for b in bundles if b.exists()), default=None)
    if (
        built is not None
        and len(bundles) == sum(b.exists() for b in bundles)
        and all(p.stat().st_mtime <= built for p in _web_sources() if p.exists())
    ):
        return 0
    npm = "npm.cmd" if os.name == "nt" else "npm"
    for package in WEB_PACKAGES:
        if not (package / "node_modules").is_dir():
            print(f"dev.py: npm ci in {package.relative_to(ROOT)}", flush=True)
            status = _run([npm, "ci", "--prefix", str(package)])
            if status:
                return status
    print("dev.py: building the web examples", flush=True)
    return _run([npm, "run", "build", "--prefix", str(WEB)])


def _examples(rest: list[str]) -> int:
    try:
        status = _build_web()
    except FileNotFoundError:
        print("dev.py: the web examples are built with Node and npm; install Node 20 or newer")
        return 1
    if status:
        return status
    print("dev.py: the examples are /todo.html and /notes.html at the address below", flush=True)
    return _serve(["--static", str(WEB / "public"), *rest])


def _check() -> int:
    py = _python()
    return (
        _run([py, "-m", "ruff", "check", "."])
        or _run([py, "-m", "ruff", "format", "--check", "."])
        or _run([py, "-m", "mypy"])
    )


def _fuzz(rest: list[str]) -> int:
    """``fuzz TARGET [--runs N] [--time S] [libFuzzer flags]``: fuzz one target."""
    if not rest or rest[0].startswith("-"):
        return _run([_python(), str(ROOT / "fuzz" / "fuzzer.py"), "--list"])
    flags: list[str] = []
    it = iter(rest[1:])
    for arg in it:
        if arg in ("--runs", "--time"):
            value = next(it, "")
            flags.append(f"-runs={value}" if arg == "--runs" else f"-max_total_time={value}")
        else:
            flags.append(arg)
    return _run([_python("dev,fuzz"), str(ROOT / "fuzz" / "fuzzer.py"), rest[0], *flags])


def main(args: list[str]) -> int:
    task, rest = (args[0], args[1:]) if args else ("help", [])
    if task == "serve":
        return _serve(rest)
    if task == "test":
        return _test(rest)
    if task == "check":
        return _check()
    if task == "bench":
        return _run([_python("dev,bench"), str(ROOT / "benchmarks" / "run.py"), *rest])
    if task == "fuzz":
        return _fuzz(rest)
    if task == "chaos":
        return _run([_python(), str(ROOT / "tools" / "reliability.py"), *rest])
    if task == "soak":
        return _run([_python(), str(ROOT / "tools" / "soak.py"), *rest])
    if task == "demo":
        return _example(["two_replicas"])
    if task == "example":
        return _example(rest)
    if task == "examples":
        return _examples(rest)
    print(__doc__)
    return 0 if task in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
