/**
 * Version vectors: which operations of each client a replica holds (Python: `_version.py`).
 *
 * A replica holds a gap-free prefix of each client's operations, so a version is one number
 * per client: the highest seq held (0: none).
 */
import { DecodeError, InvalidTypeError } from "../errors.js";
import { decodeVersion, encodeVersion } from "../gen/synckit/v1/changes.js";
import { compareStr } from "./values.js";

/** How two versions relate: the answer of {@link VersionVector.compare}. */
export type Ordering = "before" | "after" | "equal" | "concurrent";

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = -MAX_SAFE;

/** Convert a protobuf 64-bit integer to a number; {@link DecodeError} past 2^53 - 1. */
export function toSafe(value: bigint | number, what: string): number {
  if (typeof value === "number") return value; // decoded as a number: a safe integer
  if (value > MAX_SAFE || value < MIN_SAFE) {
    throw new DecodeError(`${what}: ${value} is out of range`);
  }
  return Number(value);
}

/**
 * An immutable map from client id to the highest sequence number held of it.
 * Clients absent from it count as 0.
 */
export class VersionVector {
  /** @internal Client id to seq, all seqs above 0. */
  readonly seqs: ReadonlyMap<string, number>;

  /**
   * @param seqs - client id to seq (seqs of 0 are left out).
   * @throws InvalidTypeError - a client id is empty or a seq is not a safe integer >= 0.
   */
  constructor(seqs?: Readonly<Record<string, number>> | ReadonlyMap<string, number>) {
    const clean = new Map<string, number>();
    const entries = seqs === undefined ? [] : seqs instanceof Map ? [...seqs] : Object.entries(seqs);
    for (const [client, seq] of entries) {
      if (typeof client !== "string" || client === "") {
        throw new InvalidTypeError(`version vector client ids must be non-empty strings: ${String(client)}`);
      }
      if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) {
        throw new InvalidTypeError(`version vector seq of ${JSON.stringify(client)} must be an integer >= 0`);
      }
      if (seq) clean.set(client, seq);
    }
    this.seqs = clean;
  }

  /** @internal Wrap `seqs` (all values above 0) without copying or checking it. */
  static trusted(seqs: Map<string, number>): VersionVector {
    const vv = Object.create(VersionVector.prototype) as { seqs: Map<string, number> };
    vv.seqs = seqs;
    return vv as unknown as VersionVector;
  }

  /** The highest seq of `client` held (0: none). */
  get(client: string): number {
    return this.seqs.get(client) ?? 0;
  }

  /** Whether any operation of `client` is held. */
  has(client: string): boolean {
    return this.seqs.has(client);
  }

  /** How many clients have operations held. */
  get size(): number {
    return this.seqs.size;
  }

  /** The clients with operations held. */
  clients(): string[] {
    return [...this.seqs.keys()];
  }

  /** `[client, seq]` pairs. */
  entries(): [string, number][] {
    return [...this.seqs.entries()];
  }

  /** A plain object of client id to seq. */
  toJSON(): Record<string, number> {
    return Object.fromEntries(this.seqs);
  }

  /** Whether both versions hold exactly the same operations. */
  equals(other: VersionVector): boolean {
    if (this.seqs.size !== other.seqs.size) return false;
    for (const [c, s] of this.seqs) if (other.seqs.get(c) !== s) return false;
    return true;
  }

  /** Whether this version is before, after, equal to or concurrent with `other`. */
  compare(other: VersionVector): Ordering {
    let less = false;
    let greater = false;
    for (const c of new Set([...this.seqs.keys(), ...other.seqs.keys()])) {
      const a = this.get(c);
      const b = other.get(c);
      if (a < b) less = true;
      else if (a > b) greater = true;
      if (less && greater) return "concurrent";
    }
    return less ? "before" : greater ? "after" : "equal";
  }

  /** True when this version holds everything `other` holds. */
  dominates(other: VersionVector): boolean {
    for (const [c, s] of other.seqs) if (this.get(c) < s) return false;
    return true;
  }

  /** The least version holding everything either holds. */
  merge(other: VersionVector): VersionVector {
    const merged = new Map(this.seqs);
    for (const [c, s] of other.seqs) if (s > (merged.get(c) ?? 0)) merged.set(c, s);
    return VersionVector.trusted(merged);
  }

  /** Protobuf `synckit.v1.Version` bytes (clients sorted); {@link decode} reads them back. */
  encode(): Uint8Array {
    const clients = [...this.seqs.keys()].sort(compareStr);
    return encodeVersion({ clients, seqs: clients.map((c) => this.seqs.get(c) as number) });
  }

  /**
   * Read bytes made by {@link encode}.
   * @throws DecodeError - the bytes are not a valid encoded version vector.
   */
  static decode(data: Uint8Array): VersionVector {
    if (!(data instanceof Uint8Array)) {
      throw new InvalidTypeError("VersionVector.decode takes a Uint8Array");
    }
    let msg;
    try {
      msg = decodeVersion(data);
    } catch (exc) {
      throw new DecodeError(`version vector: not a protobuf Version message (${(exc as Error).message})`);
    }
    if (msg.clients.length !== msg.seqs.length) {
      throw new DecodeError(`version vector: ${msg.clients.length} client ids but ${msg.seqs.length} seqs`);
    }
    const seqs = new Map<string, number>();
    msg.clients.forEach((client, i) => {
      if (!client) throw new DecodeError("version vector: empty client id");
      if (seqs.has(client)) throw new DecodeError(`version vector: client ${JSON.stringify(client)} appears twice`);
      const seq = toSafe(msg.seqs[i] as bigint, `version vector: seq of ${JSON.stringify(client)}`);
      if (seq) seqs.set(client, seq);
    });
    return VersionVector.trusted(seqs);
  }
}
