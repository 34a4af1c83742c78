/**
 * A value derived from a document, as an external store for `useSyncExternalStore`: it is
 * recomputed only when a change reaches its top-level name, and a recomputed value equal to
 * the last one (as JSON) keeps the last one's identity, so React skips the re-render.
 *
 * @module
 */
import { useMemo, useSyncExternalStore } from "react";
import type { Document } from "@synckit/client";
import { hubOf } from "./hub.js";

function stable(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) ?? "undefined";
}

/** An external store of one derived value. */
export interface DerivedStore<T> {
  subscribe(onChange: () => void): () => void;
  get(): T;
}

/**
 * A store of `compute()` over `doc`, refreshed on changes under top-level `name` (`null`:
 * every change).
 */
export function derivedStore<T>(doc: Document | null, name: string | null, compute: () => T): DerivedStore<T> {
  let value = compute();
  let text = stable(value);
  const refresh = (onChange: () => void): void => {
    const next = compute();
    const nextText = stable(next);
    if (nextText !== text) {
      value = next;
      text = nextText;
      onChange();
    }
  };
  return {
    subscribe(onChange) {
      if (doc === null) return () => {};
      const stop = hubOf(doc).listen(name, () => refresh(onChange));
      refresh(onChange); // a change between render and subscribe
      return stop;
    },
    get: () => value,
  };
}

/** `useSyncExternalStore` over a {@link derivedStore} rebuilt when `deps` change. */
export function useDerived<T>(doc: Document | null, name: string | null, compute: () => T,
  deps: readonly unknown[]): T {
  // eslint-disable-next-line react-hooks/exhaustive-deps -- the store is keyed on deps
  const store = useMemo(() => derivedStore(doc, name, compute), [doc, name, ...deps]);
  return useSyncExternalStore(store.subscribe, store.get, store.get);
}
