/**
 * A collaborative note: one shared text edited in a textarea, with everyone's cursors and
 * selections shown live (presence, as cursors that follow the text) and who is here.
 */
import {
  StrictMode, useCallback, useEffect, useLayoutEffect, useRef, type ReactNode,
} from "react";
import { createRoot } from "react-dom/client";
import { Cursor, type Document, type PeerPresence, type Text } from "@synckit/client";
import { SyncKitProvider, useDocument, useField, usePresence, useText } from "@synckit/react";
import { colorOf, startSession, type Session } from "./session.js";
import { StatusBar } from "./status.js";
import { diff, toCodePoints, toUtf16 } from "./textarea.js";

type CursorJSON = ReturnType<Cursor["toJSON"]>;

/** What each person shares: name, colour, and their selection as cursors into the text. */
interface NotePresence {
  readonly name: string;
  readonly color: string;
  readonly anchor: CursorJSON | null;
  readonly head: CursorJSON | null;
}

function asNotePresence(peer: PeerPresence): NotePresence {
  const s = peer.state as Partial<NotePresence>;
  const name = typeof s.name === "string" ? s.name : peer.principal || peer.clientId;
  return {
    name,
    color: typeof s.color === "string" ? s.color : colorOf(name),
    anchor: s.anchor ?? null,
    head: s.head ?? null,
  };
}

function resolve(text: Text, cursor: CursorJSON | null): number | null {
  if (cursor === null) return null;
  try {
    return text.position(Cursor.fromJSON(cursor));
  } catch {
    return null;
  }
}

/** One layer behind the textarea per other person: their selection and caret. */
function RemoteLayer({ value, text, peer }: { value: string; text: Text; peer: NotePresence }): ReactNode {
  const head = resolve(text, peer.head);
  if (head === null) return null;
  const anchor = resolve(text, peer.anchor) ?? head;
  const cps = Array.from(value);
  const from = Math.min(anchor, head, cps.length);
  const to = Math.min(Math.max(anchor, head), cps.length);
  const caretAtStart = head <= anchor;
  const caret = (
    <span className="caret" style={{ borderColor: peer.color }} data-testid="remote-caret" data-name={peer.name}>
      <span className="caret-label" style={{ background: peer.color }}>{peer.name}</span>
    </span>
  );
  return (
    <div className="layer" aria-hidden>
      {cps.slice(0, from).join("")}
      {caretAtStart ? caret : null}
      <mark style={{ background: `${peer.color}40` }} data-testid="remote-selection">{cps.slice(from, to).join("")}</mark>
      {caretAtStart ? null : caret}
      {cps.slice(to).join("")}
      {"\u200b"}
    </div>
  );
}

function Editor({ doc, docId, session }: { doc: Document; docId: string; session: Session }): ReactNode {
  const text = doc.getText("body");
  const value = useText(text);
  const { others, set } = usePresence(docId);
  const area = useRef<HTMLTextAreaElement>(null);
  const layers = useRef<HTMLDivElement>(null);

  /** Remember the local selection as cursors, and share it. */
  const share = useCallback(() => {
    const ta = area.current;
    if (ta === null) return;
    const current = text.toString();
    const start = toCodePoints(current, ta.selectionStart);
    const end = toCodePoints(current, ta.selectionEnd);
    const backward = ta.selectionDirection === "backward";
    const anchor = text.cursor(backward ? end : start);
    const head = text.cursor(backward ? start : end);
    set({ name: session.user, color: session.color, anchor: anchor.toJSON(), head: head.toJSON() });
  }, [text, set, session]);

  // A remote edit replaces the textarea's value, which loses the caret: when the document
  // tells of it (before React re-renders), move the selection through the edits, and put it
  // back once the new value is in the textarea.
  const pending = useRef<{ start: number; end: number; backward: boolean } | null>(null);
  useEffect(() => doc.subscribe((event) => {
    const edits = event.local ? undefined : event.textEdits.get("body");
    const ta = area.current;
    if (edits === undefined || ta === null || document.activeElement !== ta) return;
    const shown = ta.value;
    const move = (pos: number): number => {
      let p = pos;
      for (const edit of edits) {
        if (p >= edit.pos + edit.deleted) p += Array.from(edit.inserted).length - edit.deleted;
        else if (p > edit.pos) p = edit.pos;
      }
      return p;
    };
    const base = pending.current ?? {
      start: toCodePoints(shown, ta.selectionStart),
      end: toCodePoints(shown, ta.selectionEnd),
      backward: ta.selectionDirection === "backward",
    };
    pending.current = { start: move(base.start), end: move(base.end), backward: base.backward };
  }, { textEdits: true }), [doc]);

  useLayoutEffect(() => {
    const ta = area.current;
    const sel = pending.current;
    pending.current = null;
    if (ta === null || sel === null) return;
    ta.setSelectionRange(toUtf16(value, sel.start), toUtf16(value, sel.end), sel.backward ? "backward" : "forward");
  }, [value]);

  useEffect(() => {
    set({ name: session.user, color: session.color, anchor: null, head: null });
  }, [set, session]);

  // React's onSelect can miss the last of quick selection changes (keyboard selection): also
  // look at the selection while the textarea has the focus, and share it when it moved.
  const shareRef = useRef(share);
  shareRef.current = share;
  useEffect(() => {
    let last = "";
    const check = (): void => {
      const ta = area.current;
      if (ta === null || document.activeElement !== ta) return;
      const now = `${ta.selectionStart}:${ta.selectionEnd}:${ta.selectionDirection}:${ta.value.length}`;
      if (now !== last) {
        last = now;
        shareRef.current();
      }
    };
    document.addEventListener("selectionchange", check);
    const timer = setInterval(check, 250);
    return () => {
      document.removeEventListener("selectionchange", check);
      clearInterval(timer);
    };
  }, []);

  const peers = others.map(asNotePresence);
  return (
    <section className="editor-wrap">
      <aside className="people" data-testid="people">
        <h2>Here now</h2>
        <ul>
          <li><span className="avatar" style={{ background: session.color }}>{session.user.slice(0, 1).toUpperCase()}</span>{session.user} (you)</li>
          {peers.map((p, i) => (
            <li key={`${p.name}-${i}`} data-testid="person">
              <span className="avatar" style={{ background: p.color }}>{p.name.slice(0, 1).toUpperCase()}</span>{p.name}
            </li>
          ))}
        </ul>
        <p className="hint">{value.length === 0 ? "Start typing: everyone here sees it as you type." : `${Array.from(value).length} characters`}</p>
      </aside>
      <div className="editor">
        <div className="layers" ref={layers}>
          {peers.map((p, i) => <RemoteLayer key={`${p.name}-${i}`} value={value} text={text} peer={p} />)}
        </div>
        <textarea
          ref={area}
          aria-label="note"
          data-testid="note"
          spellCheck={false}
          value={value}
          placeholder="Write together…"
          onChange={(event) => {
            const splice = diff(text.toString(), event.target.value);
            if (splice !== null) {
              if (splice.deleted > 0) text.delete(splice.pos, splice.deleted);
              if (splice.inserted !== "") text.insert(splice.pos, splice.inserted);
            }
            share();
          }}
          onSelect={share}
          onScroll={(event) => {
            const top = event.currentTarget.scrollTop;
            for (const layer of Array.from(layers.current?.children ?? [])) layer.scrollTop = top;
          }}
        />
      </div>
    </section>
  );
}

function App({ session }: { session: Session }): ReactNode {
  const docId = new URLSearchParams(location.search).get("note") ?? "notes";
  const doc = useDocument(docId);
  const title = useField(doc, "title");
  return (
    <>
      <StatusBar title="Shared notes" user={session.user} color={session.color} persistent={session.persistent}>
        {doc === null ? null : (
          <input className="note-title" aria-label="note title" placeholder="Untitled note"
            value={typeof title === "string" ? title : ""} onChange={(event) => doc.set("title", event.target.value)} />
        )}
      </StatusBar>
      {doc === null ? <p className="loading">Loading…</p> : <Editor doc={doc} docId={docId} session={session} />}
    </>
  );
}

const session = await startSession("notes");
(window as unknown as { synckit: Session }).synckit = session;
createRoot(document.getElementById("root")!).render(
  <StrictMode><SyncKitProvider client={session.client}><App session={session} /></SyncKitProvider></StrictMode>,
);
