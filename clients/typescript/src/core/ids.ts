/**
 * Operation ids shared by the core's containers (Python: `synckit.core._ids`).
 *
 * Inside a document every client id string is replaced by a small integer, its index in the
 * document's client table (`clients: string[]`); an operation is named by
 * `[clientIndex, seq]`. The index is local to one document: encodings carry the client id
 * strings, and every merge rule that must agree across replicas (tie-breaks) compares the
 * strings, never the indexes.
 *
 * @module
 */

/** `[client index, seq]`: one operation (or one character of a text insert). */
export type ItemId = readonly [client: number, seq: number];

/**
 * What names a container inside a document, as an opaque string key (the document code
 * decides how a nested container's path is written into it).
 */
export type ContainerId = string & { readonly __containerId?: never };

/** Whether two ids (or two absent ids, `null`) are the same. */
export function sameId(a: ItemId | null, b: ItemId | null): boolean {
  if (a === null || b === null) return a === b;
  return a[0] === b[0] && a[1] === b[1];
}
