/**
 * Which document and top-level name a container handle belongs to. The handles of
 * `@synckit/client` (`List`, `SyncMap`, `Text`, `Counter`, `ORSet`) keep their document and
 * container id as fields without public getters; this module is the one place that reads
 * them, and checks their shape so a change in the client fails loudly here.
 *
 * @module
 */
import { Document, InvalidTypeError } from "@synckit/client";

/** A container id: a top-level name, or `[parent, key or item, ...]` for nested ones. */
type ContainerId = string | readonly [ContainerId, ...unknown[]];

/** Where a handle points. */
export interface HandleTarget {
  /** The document the handle edits. */
  readonly doc: Document;
  /** The top-level name it is under (what `ChangeEvent.names` reports). */
  readonly root: string;
  /** A stable string naming the container (same for two handles of one container). */
  readonly key: string;
}

function rootOf(cid: ContainerId): string {
  let c: ContainerId = cid;
  while (typeof c !== "string") c = c[0];
  return c;
}

function keyOf(cid: ContainerId): string {
  return JSON.stringify(cid, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

/**
 * The document, top-level name and key of a container handle.
 *
 * @throws InvalidTypeError: not a handle of `@synckit/client`.
 */
export function targetOf(handle: object): HandleTarget {
  const fields = handle as { doc?: unknown; name?: unknown };
  const doc = fields.doc;
  const name = fields.name as ContainerId | undefined;
  if (!(doc instanceof Document) || (typeof name !== "string" && !Array.isArray(name))) {
    throw new InvalidTypeError("expected a container handle of @synckit/client (List, SyncMap, Text, Counter, ORSet)");
  }
  return { doc, root: rootOf(name), key: keyOf(name) };
}
