/**
 * One subscription per document, fanned out to listeners keyed by the top-level name a
 * change event reports (`ChangeEvent.names`, the first element of its paths): a hook that
 * watches `"title"` is not even asked when `"todos"` changes.
 *
 * @module
 */
import type { ChangeEvent, Document } from "@synckit/client";

/** A listener of one top-level name; `null` as a name: every change. */
export type HubListener = (event: ChangeEvent) => void;

/** The per-document fan-out (see the module comment). */
export class DocumentHub {
  private readonly byName = new Map<string | null, Set<HubListener>>();
  private unsubscribe: (() => void) | null = null;

  /** @param doc - the document watched (subscribed to only while someone listens). */
  constructor(readonly doc: Document) {}

  /** Call `listener` on every change under top-level `name` (`null`: all); returns an unsubscribe. */
  listen(name: string | null, listener: HubListener): () => void {
    let set = this.byName.get(name);
    if (set === undefined) {
      set = new Set();
      this.byName.set(name, set);
    }
    set.add(listener);
    if (this.unsubscribe === null) {
      this.unsubscribe = this.doc.subscribe((event) => this.dispatch(event), { textEdits: false });
    }
    return () => {
      const current = this.byName.get(name);
      current?.delete(listener);
      if (current?.size === 0) this.byName.delete(name);
      if (this.byName.size === 0 && this.unsubscribe !== null) {
        this.unsubscribe();
        this.unsubscribe = null;
      }
    };
  }

  private dispatch(event: ChangeEvent): void {
    const called = new Set<HubListener>();
    const call = (set: Set<HubListener> | undefined): void => {
      for (const listener of [...(set ?? [])]) {
        if (called.has(listener)) continue;
        called.add(listener);
        listener(event);
      }
    };
    for (const name of event.names) call(this.byName.get(name));
    call(this.byName.get(null));
  }
}

const hubs = new WeakMap<Document, DocumentHub>();

/** The hub of `doc` (one per document). */
export function hubOf(doc: Document): DocumentHub {
  let hub = hubs.get(doc);
  if (hub === undefined) {
    hub = new DocumentHub(doc);
    hubs.set(doc, hub);
  }
  return hub;
}
