"""Every example under examples/ runs, with exit status 0, by the command its docstring gives.

The commands are read from each example's docstring (a ``literal`` or an indented line that
starts with an interpreter), so a docstring that tells a wrong command fails here. Each must be
a ``python3 dev.py`` command, which needs nothing installed beforehand. They run as written,
with this test run's Python as ``python3`` and as the task's interpreter (SYNCKIT_DEV_PYTHON),
so dev.py creates and installs nothing.
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from live import server_environment

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
_INTERPRETER = r"(?:python3?|\S*/python3?)\b"
#: A command in a docstring: a ``literal`` or an indented line, starting with an interpreter.
COMMAND = re.compile(rf"``({_INTERPRETER}[^`]*)``|^[ \t]+({_INTERPRETER}.*)$", re.MULTILINE)


def documented_commands(example: Path) -> list[str]:
    """The commands ``example``'s docstring gives, whitespace normalised."""
    docstring = ast.get_docstring(ast.parse(example.read_text(encoding="utf-8"))) or ""
    return [" ".join((literal or line).split()) for literal, line in COMMAND.findall(docstring)]


CASES = [
    pytest.param(example, command, id=f"{example.stem}: {command}")
    for example in EXAMPLES
    for command in documented_commands(example)
]


def test_there_are_examples() -> None:
    assert EXAMPLES, f"no examples found under {ROOT / 'examples'}"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_each_example_says_how_to_run_it_with_dev_py(example: Path) -> None:
    commands = documented_commands(example)
    fix = f"say ``python3 dev.py example {example.stem}``"
    assert commands, f"{example.name}: the docstring gives no command to run it; {fix}"
    for command in commands:
        words = shlex.split(command)
        # A bare `python` has no synckit, and .venv/bin/python exists only after a dev.py task.
        assert words[:2] == ["python3", "dev.py"], f"{example.name}: `{command}`; {fix}"
        if words[2:3] == ["example"]:
            assert words[3:] == [example.stem], f"{example.name}: `{command}` runs another file"


@pytest.mark.parametrize(("example", "command"), CASES)
def test_example_runs_as_documented(example: Path, command: str) -> None:
    words = shlex.split(command)
    if words[:2] != ["python3", "dev.py"]:
        pytest.fail(f"{example.name}: `{command}` is not a dev.py command")
    env = dict(server_environment(), SYNCKIT_DEV_PYTHON=sys.executable)
    done = subprocess.run(
        [sys.executable, str(ROOT / "dev.py"), *words[2:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"`{command}` exited {done.returncode}:\n{output}"
