/**
 * Re-render counts: a component re-renders when what it reads changed, and only then.
 */
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { memo, type ReactNode } from "react";
import { act, create, type ReactTestRenderer } from "react-test-renderer";
import { WebSocket } from "ws";
import { Document, MemoryStore, connect, openDocument, type SyncClient } from "@synckit/client";
import { SyncKitProvider, useCounter, useDocument, useField, useList, useListKeys, useMap, useText } from "../src/index.js";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const renders = new Map<string, number>();
function rendered(name: string): void {
  renders.set(name, (renders.get(name) ?? 0) + 1);
}
function count(name: string): number {
  return renders.get(name) ?? 0;
}

function Title({ doc }: { doc: Document }): ReactNode {
  rendered("title");
  return <h1>{String(useField(doc, "title") ?? "")}</h1>;
}

const Item = memo(function Item({ doc, index, id }: { doc: Document; index: number; id: string }): ReactNode {
  rendered(`item:${id}`);
  const item = useMap(doc.getList("todos").getMap(index));
  return <li>{`${String(item["title"])}${item["done"] === true ? " ✓" : ""}`}</li>;
});

function Todos({ doc }: { doc: Document }): ReactNode {
  rendered("todos");
  const keys = useListKeys(doc.getList("todos"));
  return <ul>{keys.map((k, i) => <Item key={k} doc={doc} index={i} id={k} />)}</ul>;
}

function Tags({ doc }: { doc: Document }): ReactNode {
  rendered("tags");
  return <p>{useList(doc.getList("tags")).join(",")}</p>;
}

function Notes({ doc }: { doc: Document }): ReactNode {
  rendered("notes");
  return <pre>{useText(doc.getText("notes"))}</pre>;
}

function Done({ doc }: { doc: Document }): ReactNode {
  rendered("done");
  return <b>{useCounter(doc.getCounter("done"))}</b>;
}

function App(): ReactNode {
  rendered("app");
  const doc = useDocument("react-doc");
  if (doc === null) return <p>loading</p>;
  return <main><Title doc={doc} /><Todos doc={doc} /><Tags doc={doc} /><Notes doc={doc} /><Done doc={doc} /></main>;
}

function ids(doc: Document): string[] {
  const list = doc.getList("todos");
  return Array.from({ length: list.length }, (_, i) => {
    const c = list.cursor(i).toJSON();
    return `${c.client ?? ""}:${c.seq}`;
  });
}

describe("@synckit/react hooks", () => {
  let client: SyncClient;
  let doc: Document;
  let peer: Document;
  let renderer: ReactTestRenderer;

  /** A remote edit: made by `peer`, applied as the server would deliver it. */
  function remote(edit: (d: Document) => void): void {
    const before = peer.version();
    edit(peer);
    act(() => doc.apply(peer.changes(before)));
  }

  before(async () => {
    // No server: the hooks read the Document; sync is not what is tested here.
    client = await connect("http://127.0.0.1:9", { store: new MemoryStore(), transport: "websocket", WebSocket });
    doc = await openDocument(client, "react-doc");
    const todos = doc.getList("todos");
    for (const title of ["milk", "bread", "eggs"]) {
      const item = todos.insertMap(todos.length);
      item.set("title", title);
      item.set("done", false);
    }
    doc.set("title", "Groceries");
    doc.getList("tags").append("home");
    doc.getText("notes").insert(0, "before Friday");
    peer = new Document("peer");
    peer.apply(doc.changes());
    await act(async () => {
      renderer = create(<SyncKitProvider client={client}><App /></SyncKitProvider>);
    });
  });

  after(async () => {
    act(() => renderer.unmount());
    await client.close();
  });

  beforeEach(() => renders.clear());

  test("renders the document once it is open", () => {
    const text = JSON.stringify(renderer.toJSON());
    for (const s of ["Groceries", "milk", "bread", "eggs", "home", "before Friday"]) assert.ok(text.includes(s), s);
  });

  test("a field change re-renders only the component reading that field", () => {
    act(() => doc.set("title", "Shopping"));
    assert.equal(count("title"), 1);
    for (const c of ["app", "todos", "tags", "notes", "done"]) assert.equal(count(c), 0, c);
    for (const id of ids(doc)) assert.equal(count(`item:${id}`), 0);
  });

  test("setting a field to the value it has re-renders nothing", () => {
    act(() => doc.set("title", "Shopping"));
    assert.equal(renders.size, 0, [...renders.keys()].join(","));
  });

  test("a remote edit of one item re-renders that item only, not the list or its siblings", () => {
    const [first, second, third] = ids(doc);
    remote((d) => d.getList("todos").getMap(1).set("done", true));
    assert.equal(count(`item:${second}`), 1);
    assert.equal(count(`item:${first}`), 0);
    assert.equal(count(`item:${third}`), 0);
    assert.equal(count("todos"), 0);
    assert.equal(count("title"), 0);
    assert.ok(JSON.stringify(renderer.toJSON()).includes("bread ✓"));
  });

  test("a move re-renders the list and the items whose index changed; the item keys follow", () => {
    const [first, second, third] = ids(doc);
    act(() => doc.getList("todos").move(2, 0)); // eggs first
    assert.deepEqual(ids(doc), [third, first, second]);
    assert.equal(count("todos"), 1);
    assert.equal(count("title"), 0);
    assert.equal(count("notes"), 0);
    const items = renderer.root.findAllByType("li").map((li) => li.children.join(""));
    assert.deepEqual(items, ["eggs", "milk", "bread ✓"]);
  });

  test("text edits, local and remote, re-render only the text's reader", () => {
    act(() => doc.getText("notes").insert(0, "Buy "));
    remote((d) => d.getText("notes").insert(d.getText("notes").length, "!"));
    assert.equal(count("notes"), 2);
    for (const c of ["title", "todos", "tags", "done"]) assert.equal(count(c), 0, c);
    assert.equal(renderer.root.findByType("pre").children.join(""), "Buy before Friday!");
  });

  test("useList and useCounter re-render on their own container only", () => {
    act(() => doc.getList("tags").append("weekly"));
    act(() => doc.getCounter("done").increment(2));
    assert.equal(count("tags"), 1);
    assert.equal(count("done"), 1);
    for (const c of ["title", "todos", "notes"]) assert.equal(count(c), 0, c);
    assert.equal(renderer.root.findByType("p").children.join(""), "home,weekly");
    assert.equal(renderer.root.findByType("b").children.join(""), "2");
  });
});
