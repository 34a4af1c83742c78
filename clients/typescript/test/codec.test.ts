/**
 * The generated protobuf codecs (`scripts/protogen.ts` → `src/gen/`, over `src/core/wire.ts`):
 * current with the `.proto` files; byte-for-byte what protobuf-es writes and reads (its
 * runtime is a devDependency, driven here by the same descriptors the generator reads);
 * reading by upb's rules; and hostile bytes either decode or throw `WireError` (a
 * `DecodeError`), never anything else. `codecDiff.test.ts` holds them against upb itself.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { execFileSync } from "node:child_process";
import fc from "fast-check";
import {
  create, createFileRegistry, fromBinary, toBinary, type FileRegistry,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { stale } from "../scripts/protogen.js";
import { arbMessage } from "./helpers/pbarb.js";
import * as changes from "../src/gen/synckit/v1/changes.js";
import * as protocol from "../src/gen/synckit/v1/protocol.js";
import { WireError } from "../src/core/wire.js";
import { Cursor, DecodeError, Document, ProtocolError, VersionVector } from "../src/index.js";
import { decodeFrame } from "../src/protocol/frames.js";
import { decodeVersion as clientDecodeVersion } from "../src/client/version.js";

const PACKAGE = resolve(import.meta.dirname, "..", "..");
let registry: FileRegistry;

before(() => {
  const image = execFileSync(resolve(PACKAGE, "node_modules", ".bin", "buf"),
    ["build", "../../proto", "--as-file-descriptor-set", "-o", "-"], { cwd: PACKAGE, stdio: ["ignore", "pipe", "pipe"] });
  registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, new Uint8Array(image)));
});

type Codec = { encode: (m: never) => Uint8Array; decode: (b: Uint8Array) => unknown };

/** Every generated message's codec, by full protobuf name. */
function codecs(): Map<string, Codec> {
  const out = new Map<string, Codec>();
  for (const mod of [changes, protocol] as Record<string, unknown>[]) {
    for (const [name, fn] of Object.entries(mod)) {
      if (!name.startsWith("decode")) continue;
      const type = name.slice("decode".length);
      out.set(`synckit.v1.${type.replace(/_/g, ".")}`, {
        encode: mod[`encode${type}`] as Codec["encode"],
        decode: fn as Codec["decode"],
      });
    }
  }
  return out;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

test("src/gen is what scripts/protogen.ts writes from ../../proto today", () => {
  assert.deepEqual(stale(PACKAGE), []);
});

test("every message of the .proto files has a generated codec", () => {
  const names = [...registry].filter((d) => d.kind === "message").map((d) => d.typeName).sort();
  assert.ok(names.length >= 25, `${names.length} messages`);
  assert.deepEqual([...codecs().keys()].sort(), names);
});

/** A message as protobuf-es decodes it, as plain data comparable with ours. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return hex(value);
  if (typeof value === "bigint" || typeof value === "number") return String(value); // columns decode as numbers where safe
  if (Array.isArray(value)) return value.map(plain);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === "$typeName" || k === "$unknown") continue;
    if (k === "value" && v === undefined) continue;
    out[k] = plain(v);
  }
  return out;
}

test("every message kind: our bytes are protobuf-es's, and both read them alike", () => {
  const all = codecs();
  let runs = 0;
  for (const [typeName, codec] of all) {
    const desc = registry.getMessage(typeName);
    assert.ok(desc !== undefined, typeName);
    fc.assert(fc.property(arbMessage(desc), (init) => {
      const ours = codec.encode(init as never);
      const theirs = toBinary(desc, create(desc, init as never));
      assert.equal(hex(ours), hex(theirs), typeName);
      assert.deepEqual(plain(codec.decode(ours)), plain(fromBinary(desc, ours)), typeName);
      runs += 1;
    }), { numRuns: 60, seed: 7 });
  }
  assert.ok(runs >= 25 * 60);
});

test("64-bit fields take numbers and bigints alike", () => {
  const a = changes.encodeChange({ start: 5, ints: [-3, 2 ** 52, -(2 ** 53), 7], hlcs: [2 ** 60] });
  const b = changes.encodeChange({ start: 5n, ints: [-3n, 2n ** 52n, -(2n ** 53n), 7n], hlcs: [2n ** 60n] });
  assert.equal(hex(a), hex(b));
  // Change.ints decodes as numbers where they are safe integers, as bigints beyond.
  assert.deepEqual(changes.decodeChange(a).ints, [-3, 2 ** 52, -(2n ** 53n), 7]);
  assert.deepEqual(changes.decodeChange(a).hlcs, [2n ** 60n]);
});

/** Bytes from hex with spaces. */
function h(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s.replace(/ /g, ""), "hex"));
}

test("upb's refusals: field 0, wire types 6 and 7, a stray end group, long varints, long tags and lengths, deep groups, truncation", () => {
  const bad: [string, string][] = [
    ["00 01", "bad tag"], // field number 0
    ["0e", "bad tag"], ["0f", "bad tag"], // wire types 6 and 7
    ["0c", "bad tag"], // end group with no group
    ["10 ff ff ff ff ff ff ff ff ff ff 01", "varint over 10 bytes"],
    ["ff ff ff ff ff ff ff ff ff ff 01", "bad tag"], // a tag over 10 bytes
    ["88 80 80 80 80 00 01", "bad tag"], // a tag over 5 bytes (upb's limit)
    ["80 80 80 80 10 01", "bad tag"], // a tag past 32 bits (field number 2^29)
    ["0a 85 80 80 80 80 00 61 61 61 61 61", "bad length"], // a length over 5 bytes
    ["10", "truncated varint"], ["10 80", "truncated varint"],
    ["0a 05 61 62", "truncated field"], // a string cut short
    ["0a", "truncated varint"],
    ["5d 01 02", "truncated field"], // a fixed32 cut short (Snapshot.checksum)
    ["99 01 01", "truncated field"], // unknown field 19, a fixed64 cut short
    ["a3 01 08 01", "truncated varint"], // a group never closed
    ["a3 01 ac 01", "unmatched end group"], // group 20 closed as 21
    ["a3 01 00", "truncated varint"], // field 0 in a group is read past, as upb does; its value is cut
    ["2a 02 81 81", "truncated varint"], // a packed run whose last varint crosses its end
    ["3a 01 80", "truncated varint"], // Snapshot.texts: a TextState whose one tag is cut by its end
  ];
  for (const [bytes, message] of bad) {
    assert.throws(() => changes.decodeSnapshot(h(bytes)), (e: unknown) => e instanceof WireError && e.message === message, bytes);
  }
  // A nested message with a bad inside is refused too; its own end bounds its fields.
  assert.throws(() => changes.decodeChangeSet(h("22 02 10 80 10 01")), WireError);
  assert.throws(() => changes.decodeChangeSet(h("22 03 0a 05 61")), /truncated field/);
  // Malformed packed fixed32 (not a multiple of 4).
  const packedFixed = h("5a 03 01 02 03");
  assert.doesNotThrow(() => changes.decodeSnapshot(packedFixed)); // field 11 is not repeated: skipped
  // Groups deep beyond 100 are refused.
  const deep = h("a3 01".repeat(102) + "a4 01".repeat(102));
  assert.throws(() => changes.decodeVersion(deep), /groups nest too deep/);
  const ok = h("a3 01".repeat(50) + "a4 01".repeat(50) + "12 01 07");
  assert.deepEqual(changes.decodeVersion(ok).seqs, [7n]);
  // Groups and messages nest 100 deep together at most (upb's limit).
  assert.throws(() => changes.decodeVersion(h("a3 01".repeat(101) + "a4 01".repeat(101))), /groups nest too deep/);
  assert.deepEqual(changes.decodeVersion(h("a3 01".repeat(100) + "a4 01".repeat(100))).seqs, []);
  // Inside a group, upb reads past fields numbered 0 (it refuses them only as a message's own).
  assert.deepEqual(changes.decodeVersion(h("a3 01 00 00 01 01 02 03 04 05 06 07 08 a4 01 12 01 07")).seqs, [7n]);
  assert.throws(() => changes.decodeVersion(h("a3 01 04 a4 01")), /unmatched end group/);
  // A tag or a length of 5 bytes is read.
  assert.deepEqual(changes.decodeVersion(h("8a 80 80 80 00 85 80 80 80 00 61 61 61 61 61")).clients, ["aaaaa"]);
  // Invalid UTF-8 in a string: a WireError (a DecodeError), as upb refuses it.
  assert.throws(() => changes.decodeVersion(h("0a 02 c3 28")), (e: unknown) => e instanceof WireError && e instanceof DecodeError && e.message === "invalid UTF-8 in a string field");
});

test("a known field with another wire type is skipped as unknown; unknown fields are skipped", () => {
  // Version: clients (1, string) sent as a varint, seqs (2, uint64) sent as fixed32/fixed64,
  // then unknown fields of every wire type and a group, then the real fields.
  const bytes = h("08 05 15 01 02 03 04 11 01 02 03 04 05 06 07 08 b8 01 2a c2 01 02 61 62 cd 01 01 02 03 04 d3 01 08 01 12 03 61 62 63 d4 01 0a 01 78 10 09");
  const v = changes.decodeVersion(bytes);
  assert.deepEqual(v.clients, ["x"]);
  assert.deepEqual(v.seqs, [9n]);
});

test("repeated numbers are read packed or unpacked, mixed, in order", () => {
  const packedBytes = h("32 03 02 04 06"); // Change.ints packed: 1, 2, 3
  const unpacked = h("30 02 30 04 30 06");
  const mixed = h("30 02 32 01 04 30 06");
  for (const b of [packedBytes, unpacked, mixed]) assert.deepEqual(changes.decodeChange(b).ints, [1, 2, 3]);
  assert.deepEqual(changes.decodeChange(h("32 00")).ints, []);
  // Packed strings do not exist: a length-delimited strs field is one string.
  assert.deepEqual(changes.decodeChange(h("4a 01 61 4a 00")).strs, ["a", ""]);
});

test("the last value of a singular field wins; a message field merges; a oneof switches", () => {
  assert.equal(changes.decodeChange(h("08 01 08 07")).client, 7);
  assert.equal(changes.decodeChange(h("42 01 61 42 01 62")).values, "b");
  // uint32 keeps the low 32 bits of a longer varint, as upb does.
  assert.equal(changes.decodeChange(h("08 81 80 80 80 10")).client, 1);
  // Two Hello members merge: the first's client id and the second's token.
  const env = protocol.decodeEnvelope(h("0a 03 12 01 61 0a 03 1a 01 74"));
  assert.equal(env.body.case, "hello");
  assert.equal(env.body.case === "hello" && env.body.value.clientId, "a");
  assert.equal(env.body.case === "hello" && env.body.value.token, "t");
  // Another member replaces it.
  const other = protocol.decodeEnvelope(h("0a 03 12 01 61 4a 02 08 05"));
  assert.equal(other.body.case, "ping");
  assert.equal(other.body.case === "ping" && other.body.value.nonce, 5n);
  // A bool is any non-zero varint.
  const err = protocol.decodeError(h("18 80 01 20 00"));
  assert.equal(err.retryable, true);
  assert.equal(err.fatal, false);
  // Zigzag, both ends of the 64-bit range.
  assert.deepEqual(changes.decodeChange(h("32 14 fe ff ff ff ff ff ff ff ff 01 ff ff ff ff ff ff ff ff ff 01")).ints,
    [2n ** 63n - 1n, -(2n ** 63n)]);
  assert.deepEqual(changes.decodeChange(h("3a 14 fe ff ff ff ff ff ff ff ff 01 ff ff ff ff ff ff ff ff ff 01")).hlcs,
    [2n ** 63n - 1n, -(2n ** 63n)]);
  assert.deepEqual(changes.decodeChange(h("32 0a fe ff ff ff ff ff ff 0f fd 7f")).ints.map(String),
    [String(2n ** 52n - 1n), "-8191"]);
});

test("bytes fields are views of the input, not copies", () => {
  const data = protocol.encodePush({ docId: "d", batchId: 1, changes: new Uint8Array([1, 2, 3]) });
  const push = protocol.decodePush(data);
  assert.equal(push.changes.buffer, data.buffer);
  assert.deepEqual([...push.changes], [1, 2, 3]);
});

test("long strings, long messages and multi-byte lengths round trip", () => {
  const text = "é".repeat(5000) + "😀".repeat(300) + "x".repeat(20_000);
  const ints = Array.from({ length: 5000 }, (_, i) => i * 7919 - 10_000_000);
  const set = { format: 2, clients: ["a"], names: ["t"], changes: [{ client: 0, start: 1n, text, ints }] };
  const bytes = changes.encodeChangeSet(set);
  const back = changes.decodeChangeSet(bytes);
  assert.equal(back.changes[0]?.text, text);
  assert.deepEqual(back.changes[0]?.ints, ints);
  const desc = registry.getMessage("synckit.v1.ChangeSet")!;
  assert.equal(hex(bytes), hex(toBinary(desc, create(desc, set as never))));
});

/** The public readers of bytes, each with the only error it may throw on bad bytes. */
const READERS: [string, (b: Uint8Array) => unknown, (e: unknown) => boolean][] = [
  ["Document.apply", (b) => new Document("r").apply(b), (e) => e instanceof DecodeError],
  ["Document.load", (b) => Document.load(b, "r"), (e) => e instanceof DecodeError],
  ["VersionVector.decode", (b) => VersionVector.decode(b), (e) => e instanceof DecodeError],
  ["Cursor.decode", (b) => Cursor.decode(b), (e) => e instanceof DecodeError],
  ["decodeFrame", (b) => decodeFrame(b), () => false],
  ["client decodeVersion", (b) => clientDecodeVersion(b), (e) => e instanceof ProtocolError],
];

test("mutated bytes: every raw decoder decodes or throws WireError; public readers their typed error", () => {
  const a = new Document("alice");
  a.set("title", "Groceries");
  a.getList("items").append("milk");
  a.getText("notes").insert(0, "Buy before Friday é😀");
  a.getCounter("n").increment(3);
  const seeds = [a.changes(), a.save(), a.version().encode(), a.getText("notes").cursor(3).encode(),
    protocol.encodeEnvelope({ seq: 3, body: { case: "presence", value: { docId: "d", entries: [{ key: "k", state: new Uint8Array([123, 125]) }] } } })];
  const raw = [...codecs().values()];
  const mutate = fc.tuple(fc.nat(seeds.length - 1), fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.nat(3)), { minLength: 1, maxLength: 4 }))
    .map(([i, edits]) => {
      let b = [...(seeds[i] as Uint8Array)];
      for (const [at, byte, kind] of edits) {
        const p = b.length ? at % b.length : 0;
        if (kind === 0) b[p] = byte;
        else if (kind === 1) b = b.slice(0, p);
        else if (kind === 2) b.splice(p, 0, byte);
        else b.splice(p, 1);
      }
      return new Uint8Array(b);
    });
  fc.assert(fc.property(mutate, (bytes) => {
    for (const c of raw) {
      try {
        c.decode(bytes);
      } catch (e) {
        assert.ok(e instanceof WireError, String(e));
      }
    }
    for (const [name, read, typed] of READERS) {
      try {
        read(bytes);
      } catch (e) {
        assert.ok(typed(e), `${name}: ${String(e)}`);
      }
    }
  }), { numRuns: 1500, seed: 11 });
});
