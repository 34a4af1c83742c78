/**
 * The hooks: a document opened through the provider's client, and values read from it that
 * re-render their component only when they changed.
 *
 * @module
 */
import { useEffect, useMemo, useState, useSyncExternalStore } from "react";
import {
  Document, List, LocalProtocolError, openDocument, type Counter, type ErrorEvent, type JSONValue,
  type PeerPresence, type PresenceState, type SyncMap, type Text,
} from "@synckit/client";
import { useClient } from "./context.js";
import { targetOf } from "./handles.js";
import { useDerived } from "./store.js";

/** What {@link useDocument} returns. */
export interface DocumentState {
  /** The document, once restored from the offline store (`null` before). */
  readonly doc: Document | null;
  /** Why it could not be opened, if so. */
  readonly error: unknown;
}

const resolved = new WeakMap<object, Map<string, Document>>();

/**
 * The document `docId` of the provider's client (`openDocument`): `null` for the first
 * render while the offline store is read, then the same `Document` for every component.
 */
export function useDocument(docId: string): Document | null {
  return useDocumentState(docId).doc;
}

/** {@link useDocument} with the error, when opening failed. */
export function useDocumentState(docId: string): DocumentState {
  const client = useClient();
  const known = resolved.get(client)?.get(docId) ?? null;
  const [state, setState] = useState<DocumentState & { id: string }>({ doc: known, error: null, id: docId });
  useEffect(() => {
    if (state.doc !== null && state.id === docId) return;
    let live = true;
    openDocument(client, docId).then((doc) => {
      let docs = resolved.get(client);
      if (docs === undefined) {
        docs = new Map();
        resolved.set(client, docs);
      }
      docs.set(docId, doc);
      if (live) setState({ doc, error: null, id: docId });
    }, (error: unknown) => {
      if (live) setState({ doc: null, error, id: docId });
    });
    return () => { live = false; };
  }, [client, docId, state.doc, state.id]);
  if (state.id !== docId) return { doc: known, error: null };
  return state;
}

/**
 * One field: a top-level field of a document, or one key of a map (a top-level map, or one
 * nested in a list or map). `undefined` while `source` is `null` or the field is unset. The
 * component re-renders only when this field's value changes, not when another key of the
 * same map (or another item of its list) does. A map handle names its container, so
 * `useField(list.getMap(i), key)` follows that item through moves (use {@link usePath} to
 * follow a position instead).
 */
export function useField(source: Document | SyncMap | null, name: string): JSONValue | undefined {
  const isDoc = source instanceof Document;
  const target = source === null || isDoc ? null : targetOf(source);
  return useDerived(isDoc ? source : target?.doc ?? null, isDoc ? name : target?.root ?? null, () => {
    if (source === null) return undefined;
    if (source instanceof Document) return source.get(name) ?? undefined;
    return source.has(name) ? source.get(name) : undefined;
  }, [target?.key, name]);
}

/** A step of a path: a key of a map, an index of a list. */
export type PathStep = string | number;

/** What is at `path` under `root` (a map or list), as JSON; `undefined` when nothing is. */
export function valueAt(root: SyncMap | List, path: readonly PathStep[]): JSONValue | undefined {
  if (path.length === 0) return root.toJSON();
  const first = path[0];
  let value: JSONValue | undefined;
  if (root instanceof List) {
    if (typeof first !== "number" || !Number.isInteger(first) || first < 0 || first >= root.length) return undefined;
    value = root.get(first);
  } else {
    if (typeof first !== "string" || !root.has(first)) return undefined;
    value = root.get(first);
  }
  for (const step of path.slice(1)) {
    if (Array.isArray(value)) {
      value = typeof step === "number" && Number.isInteger(step) && step >= 0 ? value[step] : undefined;
    } else if (value !== null && typeof value === "object" && typeof step === "string" && Object.hasOwn(value, step)) {
      value = (value as { readonly [key: string]: JSONValue })[step];
    } else {
      return undefined;
    }
    if (value === undefined) return undefined;
  }
  return value;
}

/**
 * The value at `path` under a map or list (see {@link valueAt}): e.g.
 * `usePath(doc.getList("todos"), [2, "done"])`. It follows the path, not an item: after a
 * move, index 2 may hold another item. The component re-renders only when the value at the
 * path changes, not when something beside it does.
 */
export function usePath(root: SyncMap | List | null, path: readonly PathStep[]): JSONValue | undefined {
  const target = root === null ? null : targetOf(root);
  const steps = JSON.stringify(path);
  return useDerived(target?.doc ?? null, target?.root ?? null,
    () => (root === null ? undefined : valueAt(root, path)), [target?.key, steps]);
}

/** The JSON view of a list: a new array only when the list or an item in it changed. */
export function useList(list: List | null): readonly JSONValue[] {
  const target = list === null ? null : targetOf(list);
  return useDerived(target?.doc ?? null, target?.root ?? null, () => (list === null ? [] : list.toJSON()),
    [target?.key]);
}

/** A stable key for item `index` of `list` (its item id: follows the item through moves). */
export function itemKey(list: List, index: number): string {
  const c = list.cursor(index).toJSON();
  return `${c.client ?? ""}:${c.seq}`;
}

/**
 * The keys of a list's items in order ({@link itemKey}): changes only when items are
 * inserted, deleted or moved, not when one item's contents change. Render each item as
 * its own component keyed on these, reading it with {@link useMap} and the like.
 */
export function useListKeys(list: List | null): readonly string[] {
  const target = list === null ? null : targetOf(list);
  return useDerived(target?.doc ?? null, target?.root ?? null, () => {
    if (list === null) return [];
    const keys: string[] = [];
    for (let i = 0; i < list.length; i++) keys.push(itemKey(list, i));
    return keys;
  }, [target?.key]);
}

/** The JSON view of a map (a top-level one, or one nested in a list or map). */
export function useMap(map: SyncMap | null): { readonly [key: string]: JSONValue } {
  const target = map === null ? null : targetOf(map);
  return useDerived(target?.doc ?? null, target?.root ?? null, () => (map === null ? {} : map.toJSON()),
    [target?.key]);
}

/** The string of a collaborative text. */
export function useText(text: Text | null): string {
  const target = text === null ? null : targetOf(text);
  return useDerived(target?.doc ?? null, target?.root ?? null, () => (text === null ? "" : text.toString()),
    [target?.key]);
}

/** The value of a counter. */
export function useCounter(counter: Counter | null): number {
  const target = counter === null ? null : targetOf(counter);
  return useDerived(target?.doc ?? null, target?.root ?? null, () => (counter === null ? 0 : counter.value),
    [target?.key]);
}

/** What {@link usePresence} returns. */
export interface Presence {
  /** The other connections in the document, by key. */
  readonly others: readonly PeerPresence[];
  /** Set this replica's state (sent at once, renewed while connected); no-op before opened. */
  readonly set: (state: PresenceState) => void;
  /** Clear this replica's state. */
  readonly clear: () => void;
}

/**
 * Presence in document `docId`: the others (re-rendered when they change), and setters.
 * Empty, with setters that do nothing, while the document opens and over `transport: "http"`.
 */
export function usePresence(docId: string): Presence {
  const client = useClient();
  const doc = useDocument(docId);
  const handle = useMemo(() => {
    if (doc === null) return null;
    try {
      return client.presence(docId);
    } catch (error) {
      if (error instanceof LocalProtocolError) return null; // transport "http": no presence
      throw error;
    }
  }, [client, docId, doc]);
  const store = useMemo(() => {
    let others: readonly PeerPresence[] = handle === null ? [] : [...handle.others.values()];
    return {
      subscribe(onChange: () => void): () => void {
        if (handle === null) return () => {};
        return handle.observe(() => {
          others = [...handle.others.values()];
          onChange();
        });
      },
      get: () => others,
    };
  }, [handle]);
  const others = useSyncExternalStore(store.subscribe, store.get, store.get);
  // set and clear keep their identity while the handle does (safe in effect dependencies).
  const actions = useMemo(() => ({
    set: (state: PresenceState) => handle?.set(state),
    clear: () => handle?.clear(),
  }), [handle]);
  return useMemo(() => ({ others, ...actions }), [others, actions]);
}

/** What {@link useConnection} returns. */
export interface Connection {
  /** Connected and welcomed. */
  readonly online: boolean;
  /** Documents whose edits the server refuses now (e.g. access revoked), by id. */
  readonly rejections: ReadonlyMap<string, ErrorEvent>;
}

/** The client's connection status and refusals, re-rendered when either changes. */
export function useConnection(): Connection {
  const client = useClient();
  const store = useMemo(() => {
    let value: Connection = { online: client.online, rejections: client.rejections() };
    const refresh = (onChange: () => void) => (): void => {
      value = { online: client.online, rejections: client.rejections() };
      onChange();
    };
    return {
      subscribe(onChange: () => void): () => void {
        const stops = [client.onStatus(refresh(onChange)), client.onRejected(refresh(onChange))];
        return () => { for (const stop of stops) stop(); };
      },
      get: () => value,
    };
  }, [client]);
  return useSyncExternalStore(store.subscribe, store.get, store.get);
}
