/**
 * A shared todo list: items (each a nested map: title, done) that anyone can add, tick,
 * retitle, delete and drag to reorder (a list move), offline too; a shared count of what is
 * done. The count is taken from the items' done flags, not kept in a counter: two people
 * ticking the same item while one is offline would increment a counter twice, but the
 * merged item is ticked once, and every replica counts the same merged items.
 */
import { StrictMode, memo, useState, type DragEvent, type FormEvent, type ReactNode } from "react";
import { createRoot } from "react-dom/client";
import type { Document } from "@synckit/client";
import { SyncKitProvider, useDocument, useField, useList, useListKeys, useMap } from "@synckit/react";
import { startSession, type Session } from "./session.js";
import { StatusBar } from "./status.js";

const LIST = "todos";

function add(doc: Document, title: string): void {
  const todos = doc.getList(LIST);
  const item = todos.insertMap(todos.length);
  item.set("title", title);
  item.set("done", false);
}

function toggle(doc: Document, index: number, done: boolean): void {
  doc.getList(LIST).getMap(index).set("done", done);
}

function remove(doc: Document, index: number): void {
  doc.getList(LIST).delete(index);
}

/** "N of M done": N counted from the merged items (see the module comment). */
function Progress({ doc }: { doc: Document }): ReactNode {
  const items = useList(doc.getList(LIST));
  const done = items.filter((item) => typeof item === "object" && item !== null && !Array.isArray(item)
    && item["done"] === true).length;
  return (
    <p className="progress" data-testid="progress">
      <strong data-testid="done-count">{done}</strong> of {items.length} done
      <progress max={Math.max(items.length, 1)} value={done} />
    </p>
  );
}

interface ItemProps {
  readonly doc: Document;
  readonly index: number;
  readonly count: number;
  readonly dragging: number | null;
  readonly onDrag: (index: number | null) => void;
}

const Item = memo(function Item({ doc, index, count, dragging, onDrag }: ItemProps): ReactNode {
  const item = useMap(doc.getList(LIST).getMap(index));
  const title = typeof item["title"] === "string" ? item["title"] : "";
  const done = item["done"] === true;
  const [over, setOver] = useState(false);
  const drop = (event: DragEvent): void => {
    event.preventDefault();
    setOver(false);
    const from = Number(event.dataTransfer.getData("text/x-todo-index"));
    if (Number.isInteger(from) && from !== index) doc.getList(LIST).move(from, index);
    onDrag(null);
  };
  return (
    <li
      className={`item${done ? " done" : ""}${over ? " over" : ""}${dragging === index ? " dragging" : ""}`}
      data-testid="todo"
      draggable
      onDragStart={(event) => {
        event.dataTransfer.setData("text/x-todo-index", String(index));
        event.dataTransfer.effectAllowed = "move";
        onDrag(index);
      }}
      onDragEnd={() => onDrag(null)}
      onDragOver={(event) => { event.preventDefault(); setOver(true); }}
      onDragLeave={() => setOver(false)}
      onDrop={drop}
    >
      <span className="handle" title="Drag to reorder" aria-hidden>⠿</span>
      <input type="checkbox" checked={done} aria-label={`done: ${title}`}
        onChange={(event) => toggle(doc, index, event.target.checked)} />
      <input className="title" value={title} aria-label="title"
        onChange={(event) => doc.getList(LIST).getMap(index).set("title", event.target.value)} />
      <span className="moves">
        <button type="button" title="Move up" aria-label={`move up: ${title}`} disabled={index === 0}
          onClick={() => doc.getList(LIST).move(index, index - 1)}>↑</button>
        <button type="button" title="Move down" aria-label={`move down: ${title}`} disabled={index === count - 1}
          onClick={() => doc.getList(LIST).move(index, index + 1)}>↓</button>
        <button type="button" className="delete" title="Delete" aria-label={`delete: ${title}`}
          onClick={() => remove(doc, index)}>✕</button>
      </span>
    </li>
  );
});

function TodoList({ doc }: { doc: Document }): ReactNode {
  const keys = useListKeys(doc.getList(LIST));
  const name = useField(doc, "title");
  const [draft, setDraft] = useState("");
  const [dragging, setDragging] = useState<number | null>(null);
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const title = draft.trim();
    if (title === "") return;
    add(doc, title);
    setDraft("");
  };
  return (
    <main className="card">
      <input className="list-name" aria-label="list name" placeholder="Untitled list"
        value={typeof name === "string" ? name : ""} onChange={(event) => doc.set("title", event.target.value)} />
      <Progress doc={doc} />
      <form className="add" onSubmit={submit}>
        <input placeholder="What needs doing?" aria-label="new item" value={draft}
          onChange={(event) => setDraft(event.target.value)} />
        <button type="submit">Add</button>
      </form>
      {keys.length === 0 ? <p className="empty">Nothing to do yet. Add the first item above.</p> : (
        <ul className="items">
          {keys.map((key, index) => (
            <Item key={key} doc={doc} index={index} count={keys.length} dragging={dragging} onDrag={setDragging} />
          ))}
        </ul>
      )}
      <p className="hint">Drag ⠿ to reorder. Edits made offline are kept in this browser and sent when you are back.</p>
    </main>
  );
}

function App({ session }: { session: Session }): ReactNode {
  const listId = new URLSearchParams(location.search).get("list") ?? "todos";
  const doc = useDocument(listId);
  return (
    <>
      <StatusBar title="Shared todo list" user={session.user} color={session.color} persistent={session.persistent} />
      {doc === null ? <p className="loading">Loading…</p> : <TodoList doc={doc} />}
    </>
  );
}

const session = await startSession("todo");
(window as unknown as { synckit: Session }).synckit = session;
createRoot(document.getElementById("root")!).render(
  <StrictMode><SyncKitProvider client={session.client}><App session={session} /></SyncKitProvider></StrictMode>,
);
