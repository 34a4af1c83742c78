/**
 * Version vectors as the sync client needs them: `synckit.v1.Version` bytes read into a map
 * (client id → highest seq), compared, and written back. The client decides what to push from
 * them without ever decoding a document.
 *
 * @module
 */
import { decodeVersion as decodePb, encodeVersion as encodePb } from "../gen/synckit/v1/changes.js";
import { ProtocolError } from "../errors.js";

/** A version vector: client id → the highest seq of it held (absent: 0). */
export type VersionMap = ReadonlyMap<string, number>;

/**
 * Read encoded `Version` bytes (empty bytes: the empty version).
 *
 * @throws ProtocolError: the bytes are not a valid version vector.
 */
export function decodeVersion(data: Uint8Array): VersionMap {
  let msg;
  try {
    msg = decodePb(data);
  } catch (exc) {
    throw new ProtocolError(`version does not decode: ${String(exc)}`);
  }
  if (msg.clients.length !== msg.seqs.length) {
    throw new ProtocolError("version does not decode: clients and seqs differ in length");
  }
  const out = new Map<string, number>();
  msg.clients.forEach((client, i) => {
    const seq = msg.seqs[i] ?? 0n;
    if (seq > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError("version seq out of range");
    if (seq > 0n) out.set(client, Number(seq));
  });
  return out;
}

/** Write a version vector as `Version` bytes: clients sorted, zero entries left out. */
export function encodeVersion(version: VersionMap): Uint8Array {
  const clients = [...version.keys()].filter((c) => (version.get(c) ?? 0) > 0).sort();
  return encodePb({ clients, seqs: clients.map((c) => version.get(c) ?? 0) });
}

/** The seq of `client` in `version` (0 when absent). */
export function seqOf(version: VersionMap, client: string): number {
  return version.get(client) ?? 0;
}

/** The entry-wise maximum of two versions. */
export function mergeVersions(a: VersionMap, b: VersionMap): VersionMap {
  const out = new Map(a);
  for (const [client, seq] of b) if (seq > (out.get(client) ?? 0)) out.set(client, seq);
  return out;
}

/** `version` with `client`'s entry set to `seq`. */
export function withEntry(version: VersionMap, client: string, seq: number): VersionMap {
  const out = new Map(version);
  if (seq > 0) out.set(client, seq);
  else out.delete(client);
  return out;
}
