"""The shared todo list of the web example (examples/web), from a terminal.

Edits the same document as the todo page: a list "todos" of items, each a map with a title
and a done flag. The done count is counted from the items (as the page does): a counter
incremented on every tick would count an item ticked by two people at once twice.
``python3 dev.py example todo_cli`` shows how to use it; beside the web examples' server
(``dev.py examples``), give it a command:

    list                  the items, numbered from 1 (what it shows after every command)
    add TITLE...          append items
    done N... / undo N... tick or untick items
    move N M              move item N to place M
    rm N...               delete items
    rename TITLE          the list's name

for example ``dev.py example todo_cli add "Buy milk"`` or ``dev.py example todo_cli move 3 1``.
Options (before the command): ``--url`` (default http://127.0.0.1:8080), ``--list`` (the
document, default "todos", as the page's ``?list=``), ``--user`` (default your login name),
``--token`` (a JWT, for a server with keys) and ``--store`` (the offline store; default
~/.synckit/todo-cli-USER.db). Without a server the edit is kept in the store and sent the
next time the command reaches one.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path

from synckit import Document
from synckit.client import connect
from synckit.errors import SyncKitError, SyncTimeoutError

LIST = "todos"


def show(doc: Document) -> str:
    """The list as the page shows it: numbered, ticked, with the done count."""
    todos = doc.get_list(LIST)
    title = doc.get("title")
    done = sum(1 for i in range(len(todos)) if todos.get_map(i).get("done") is True)
    lines = [f"{title or 'Untitled list'} ({done} of {len(todos)} done)"]
    for i in range(len(todos)):
        item = todos.get_map(i)
        mark = "x" if item.get("done") is True else " "
        lines.append(f"{i + 1:3}. [{mark}] {item.get('title')}")
    if len(todos) == 0:
        lines.append("     (nothing to do yet)")
    return "\n".join(lines)


def index(doc: Document, number: str) -> int:
    """The list index of item ``number`` (from 1)."""
    todos = doc.get_list(LIST)
    try:
        i = int(number) - 1
    except ValueError:
        raise SystemExit(f"not an item number: {number!r}") from None
    if not 0 <= i < len(todos):
        raise SystemExit(f"no item {number}: the list has {len(todos)}")
    return i


def edit(doc: Document, command: str, args: list[str]) -> None:
    """Make the edit ``command`` names."""
    todos = doc.get_list(LIST)
    if command == "add":
        for title in args:
            item = todos.insert_map(len(todos))
            item.set("title", title)
            item.set("done", False)
    elif command in ("done", "undo"):
        for number in args:
            item = todos.get_map(index(doc, number))
            want = command == "done"
            if (item.get("done") is True) != want:
                item.set("done", want)
    elif command == "move":
        if len(args) != 2:
            raise SystemExit("usage: move FROM TO")
        todos.move(index(doc, args[0]), index(doc, args[1]))
    elif command == "rm":
        for i in sorted((index(doc, n) for n in args), reverse=True):
            todos.delete(i)
    elif command == "rename":
        doc.set("title", " ".join(args))
    elif command != "list":
        raise SystemExit(f"unknown command {command!r}: list, add, done, undo, move, rm, rename")


async def run(options: argparse.Namespace) -> int:
    user = options.user or getpass.getuser()
    store = options.store or Path.home() / ".synckit" / f"todo-cli-{user}.db"
    Path(store).parent.mkdir(parents=True, exist_ok=True)
    async with connect(
        options.url, store=store, client_id=user, token=options.token, backoff_max=1.0
    ) as client:
        online = True
        try:
            doc = await client.open(options.list, wait=True, timeout=options.timeout)
        except SyncTimeoutError:
            online = False
            doc = await client.open(options.list)
        edit(doc, options.command, options.args)
        if online:
            try:
                await client.wait_synced(timeout=options.timeout)
            except SyncTimeoutError:
                online = False
        print(show(doc))
        if not online:
            print(f"(offline: {options.url} did not answer; edits are kept in {store})")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="The shared todo list from a terminal.")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the server")
    parser.add_argument("--list", default="todos", help="the document (default todos)")
    parser.add_argument("--user", help="your name (default: your login name)")
    parser.add_argument("--token", help="a JWT, for a server that requires tokens")
    parser.add_argument("--store", type=Path, help="the offline store (a SQLite file)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for it")
    parser.add_argument("command", nargs="?", help="list, add, done, undo, move, rm, rename")
    parser.add_argument("args", nargs="*")
    options = parser.parse_args(argv)
    if options.command is None:
        parser.print_help()
        print("\n" + (__doc__ or "").split("\n\n", 2)[2])
        return 0
    try:
        return asyncio.run(run(options))
    except SyncKitError as exc:
        print(f"todo_cli: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
