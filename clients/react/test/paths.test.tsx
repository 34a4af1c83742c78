/**
 * Per-path hooks: `useField(map, key)` and `usePath(container, path)` re-render their
 * component when the value at their path changes, and not when a sibling path does.
 * Documents only (no client): the hooks read the `Document` they are given.
 */
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ReactNode } from "react";
import { act, create, type ReactTestRenderer } from "react-test-renderer";
import { Document } from "@synckit/client";
import { useField, usePath, valueAt } from "../src/index.js";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const renders = new Map<string, number>();
function count(name: string): number {
  return renders.get(name) ?? 0;
}

/** Renders `value` as JSON (`-` for undefined) in a span with `id`. */
function Show({ id, value }: { id: string; value: unknown }): ReactNode {
  return <span id={id}>{value === undefined ? "-" : JSON.stringify(value)}</span>;
}

function ItemField({ doc, index, field }: { doc: Document; index: number; field: string }): ReactNode {
  const id = `${field}${index}`;
  renders.set(id, count(id) + 1);
  return <Show id={id} value={useField(doc.getList("todos").getMap(index), field)} />;
}

function PathOf({ id, doc, path }: { id: string; doc: Document; path: readonly (string | number)[] }): ReactNode {
  renders.set(id, count(id) + 1);
  const root = typeof path[0] === "number" ? doc.getList("todos") : doc.getMap("prefs");
  return <Show id={id} value={usePath(root, typeof path[0] === "number" ? path : path.slice(1))} />;
}

function Page({ doc }: { doc: Document }): ReactNode {
  return (
    <main>
      <ItemField doc={doc} index={0} field="title" />
      <ItemField doc={doc} index={0} field="done" />
      <ItemField doc={doc} index={1} field="title" />
      <ItemField doc={doc} index={1} field="done" />
      <PathOf id="font" doc={doc} path={["prefs", "ui", "font"]} />
      <PathOf id="theme" doc={doc} path={["prefs", "ui", "theme"]} />
      <PathOf id="tag0" doc={doc} path={[1, "tags", 0]} />
    </main>
  );
}

function shown(renderer: ReactTestRenderer, id: string): string {
  return renderer.root.find((n) => n.type === "span" && n.props["id"] === id).children.join("");
}

describe("@synckit/react per-path hooks", () => {
  let doc: Document;
  let peer: Document;
  let renderer: ReactTestRenderer;

  function remote(edit: (d: Document) => void): void {
    const before = peer.version();
    edit(peer);
    act(() => doc.apply(peer.changes(before)));
  }

  before(() => {
    doc = new Document("me");
    const todos = doc.getList("todos");
    for (const title of ["milk", "bread"]) {
      const item = todos.insertMap(todos.length);
      item.set("title", title);
      item.set("done", false);
    }
    todos.getMap(1).getList("tags").append("bakery");
    const ui = doc.getMap("prefs").getMap("ui");
    ui.set("font", 12);
    ui.set("theme", "light");
    peer = new Document("peer");
    peer.apply(doc.changes());
    act(() => { renderer = create(<Page doc={doc} />); });
  });

  after(() => act(() => renderer.unmount()));
  beforeEach(() => renders.clear());

  test("renders the values at the paths", () => {
    assert.equal(shown(renderer, "title0"), '"milk"');
    assert.equal(shown(renderer, "done1"), "false");
    assert.equal(shown(renderer, "font"), "12");
    assert.equal(shown(renderer, "tag0"), '"bakery"');
  });

  test("one key of a nested map changes: only that key's reader re-renders", () => {
    act(() => doc.getList("todos").getMap(0).set("done", true));
    assert.equal(count("done0"), 1);
    for (const other of ["title0", "title1", "done1", "font", "theme", "tag0"]) assert.equal(count(other), 0, other);
    assert.equal(shown(renderer, "done0"), "true");
  });

  test("a remote edit of a sibling item's key re-renders that key's reader only", () => {
    remote((d) => d.getList("todos").getMap(1).set("title", "rye bread"));
    assert.equal(count("title1"), 1);
    for (const other of ["title0", "done0", "done1", "font", "theme", "tag0"]) assert.equal(count(other), 0, other);
    assert.equal(shown(renderer, "title1"), '"rye bread"');
  });

  test("a deep path re-renders on its value only, not on a sibling two levels down", () => {
    act(() => doc.getMap("prefs").getMap("ui").set("theme", "dark"));
    assert.equal(count("theme"), 1);
    assert.equal(count("font"), 0);
    act(() => doc.getList("todos").getMap(1).getList("tags").append("fresh")); // tag0 unchanged
    assert.equal(count("tag0"), 0);
    act(() => doc.getList("todos").getMap(1).getList("tags").insert(0, "warm"));
    assert.equal(count("tag0"), 1);
    assert.equal(shown(renderer, "tag0"), '"warm"');
    assert.equal(count("font"), 0);
  });

  test("a move: usePath follows positions, useField on a map handle follows its item", () => {
    act(() => doc.getList("todos").move(1, 0));
    // The handles were taken before the move: each names its item, wherever it goes.
    assert.equal(shown(renderer, "title0"), '"milk"');
    assert.equal(shown(renderer, "title1"), '"rye bread"');
    for (const id of ["title0", "title1", "done0", "done1"]) assert.equal(count(id), 0, id);
    // [1, "tags", 0] is now under milk, which has no tags.
    assert.equal(count("tag0"), 1);
    assert.equal(shown(renderer, "tag0"), "-");
    assert.equal(count("font"), 0);
    assert.equal(count("theme"), 0);
  });

  test("deleting the container on the way makes the value undefined", () => {
    act(() => doc.getMap("prefs").delete("ui"));
    assert.equal(shown(renderer, "font"), "-");
    assert.equal(shown(renderer, "theme"), "-");
    assert.equal(count("title0"), 0);
  });

  test("valueAt: out-of-range, wrong-kind and missing steps give undefined", () => {
    const todos = doc.getList("todos");
    assert.equal(valueAt(todos, [5]), undefined);
    assert.equal(valueAt(todos, ["0"]), undefined);
    assert.equal(valueAt(todos, [0, "nope"]), undefined);
    assert.equal(valueAt(todos, [0, "tags", "x"]), undefined);
    assert.deepEqual(valueAt(todos, [0, "tags"]), ["warm", "bakery", "fresh"]);
    assert.equal(valueAt(doc.getMap("prefs"), ["ui"]), undefined);
  });
});
