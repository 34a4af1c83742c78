/**
 * The generator of `src/gen/`: static protobuf codecs for the messages of `../../proto` (the
 * `.proto` files the Python package is generated from), over the hand-written wire runtime
 * `src/core/wire.ts`. The bundle thus carries no protobuf library.
 *
 *     npm run gen                              # rewrites src/gen/ from ../../proto
 *     node build/scripts/protogen.js --check   # exit 1 if src/gen/ is not what it would write
 *
 * The descriptors are read at build time: `buf build` (the `@bufbuild/buf` devDependency)
 * compiles the `.proto` files to a `FileDescriptorSet`, which `@bufbuild/protobuf` (also a
 * devDependency, never bundled) turns into descriptors. For each message `X` it writes:
 *
 * - `interface X`: a decoded message (proto3: every scalar present, zero when not sent; a
 *   message field `undefined` when not sent; 64-bit integers as `bigint`; a oneof as
 *   `{ case, value }`, as protobuf-es shapes them);
 * - `interface XInit`: what the encoder takes (every field optional; 64-bit integers as
 *   `bigint` or `number`);
 * - `encodeX(init)` / `decodeX(bytes)`, and `writeX` / `readX`, their halves over a writer
 *   or reader (`decodeX` throws `WireError`, a `DecodeError`, on bytes upb refuses);
 *
 * and for each enum a TypeScript `enum` with protobuf-es's value names (the enum's prefix
 * stripped). The encoders give protobuf-es's (and upb's) bytes: fields in number order, zero
 * values left out, repeated numbers packed. Only what these `.proto` files use is supported
 * (proto3, implicit presence, no maps or groups, oneofs of messages); anything else stops the
 * generator with an error instead of being written wrong.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createFileRegistry, fromBinary, ScalarType, type DescEnum, type DescField, type DescFile, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";

/** How a scalar type is read, written and typed. */
interface Scalar {
  readonly ts: string;
  readonly init: string;
  readonly zero: string;
  readonly read: string;
  readonly write: string;
  /** Writer of a repeated field (packed for numbers); absent: not supported. */
  readonly writeList?: string;
  /** Reader of a packed run; absent: strings and bytes, never packed. */
  readonly packed?: string;
  readonly wire: number;
}

const SCALARS: Partial<Record<ScalarType, Scalar>> = {
  [ScalarType.UINT32]: { ts: "number", init: "number", zero: "0", read: "W.u32", write: "W.wU32", writeList: "W.wU32s", packed: "W.u32", wire: 0 },
  [ScalarType.INT32]: { ts: "number", init: "number", zero: "0", read: "W.i32", write: "W.wI32", writeList: "W.wI32s", packed: "W.i32", wire: 0 },
  [ScalarType.UINT64]: { ts: "bigint", init: "bigint | number", zero: "0n", read: "W.u64", write: "W.wU64", writeList: "W.wU64s", packed: "W.u64", wire: 0 },
  [ScalarType.INT64]: { ts: "bigint", init: "bigint | number", zero: "0n", read: "W.i64", write: "W.wU64", writeList: "W.wU64s", packed: "W.i64", wire: 0 },
  [ScalarType.SINT64]: { ts: "bigint", init: "bigint | number", zero: "0n", read: "W.s64", write: "W.wS64", writeList: "W.wS64s", packed: "W.s64", wire: 0 },
  [ScalarType.BOOL]: { ts: "boolean", init: "boolean", zero: "false", read: "W.bool", write: "W.wBool", writeList: "W.wBools", packed: "W.bool", wire: 0 },
  [ScalarType.FIXED32]: { ts: "number", init: "number", zero: "0", read: "W.f32", write: "W.wF32", wire: 5 },
  [ScalarType.STRING]: { ts: "string", init: "string", zero: '""', read: "W.str", write: "W.wStr", writeList: "W.wStrs", wire: 2 },
  [ScalarType.BYTES]: { ts: "Uint8Array", init: "Uint8Array", zero: "new Uint8Array(0)", read: "W.bytes", write: "W.wBytes", writeList: "W.wBytesList", wire: 2 },
};

const IMPLICIT = 2; // FeatureSet.FieldPresence.IMPLICIT

/**
 * Repeated `sint64` fields decoded as `number` where the value is a safe integer and `bigint`
 * only beyond (type `(number | bigint)[]`): the long integer columns of change sets and
 * snapshots, whose values are small, so that reading them makes no bigint per value.
 */
const NUMBER_WHERE_SAFE = new Set(["synckit.v1.Change.ints", "synckit.v1.TextState.ints", "synckit.v1.TextState.deletes"]);

function numberWhereSafe(f: DescField): boolean {
  if (!NUMBER_WHERE_SAFE.has(`${f.parent.typeName}.${f.name}`)) return false;
  if (f.fieldKind !== "list" || f.listKind !== "scalar" || f.scalar !== ScalarType.SINT64) fail(f, "number-where-safe decoding of this type");
  return true;
}

function fail(f: DescField | DescMessage, what: string): never {
  throw new Error(`protogen: ${f.toString()}: ${what} is not supported (extend scripts/protogen.ts and src/core/wire.ts)`);
}

function scalarOf(f: DescField, t: ScalarType): Scalar {
  const s = SCALARS[t];
  if (s === undefined) fail(f, `scalar type ${ScalarType[t]}`);
  return s;
}

/** A TypeScript name: nested types joined with `_`, as protobuf-es names them. */
function tsName(d: DescMessage | DescEnum): string {
  return d.typeName.slice(d.file.proto.package.length + 1).replace(/\./g, "_");
}

/** Leading comments of the file's elements by source path (`4,0,2,1`: message 0, field 1). */
function commentsOf(proto: FileDescriptorProto): Map<string, string> {
  const out = new Map<string, string>();
  for (const loc of proto.sourceCodeInfo?.location ?? []) {
    const text = loc.leadingComments.trim();
    if (text) out.set(loc.path.join(","), text);
  }
  return out;
}

function doc(lines: string[], indent: string, text: string | undefined, fallback?: string): void {
  const body = text ?? fallback;
  if (body === undefined) return;
  const rows = body.split("\n").map((l) => l.replace(/^ /, "").replace(/\*\//g, "*\\/").trimEnd());
  if (rows.length === 1) {
    lines.push(`${indent}/** ${rows[0]} */`);
    return;
  }
  lines.push(`${indent}/**`);
  for (const r of rows) lines.push(r ? `${indent} * ${r}` : `${indent} *`);
  lines.push(`${indent} */`);
}

/** The type of a field's value: decoded (`init` false) or as the encoder takes it. */
function valueType(f: DescField, init: boolean): string {
  const suffix = init ? "Init" : "";
  switch (f.fieldKind) {
    case "scalar": return init ? scalarOf(f, f.scalar).init : scalarOf(f, f.scalar).ts;
    case "enum": return tsName(f.enum);
    case "message": return tsName(f.message) + suffix;
    case "list":
      switch (f.listKind) {
        case "scalar":
          if (!init && numberWhereSafe(f)) return "(number | bigint)[]";
          return `${init ? "readonly " : ""}${init ? scalarOf(f, f.scalar).init.replace(/^(.* \| .*)$/, "($1)") : scalarOf(f, f.scalar).ts}[]`;
        case "enum": return `${init ? "readonly " : ""}${tsName(f.enum)}[]`;
        case "message": return `${init ? "readonly " : ""}${tsName(f.message)}${suffix}[]`;
      }
      break;
    case "map": fail(f, "a map field");
  }
  throw new Error("unreachable");
}

function checkField(f: DescField): void {
  if (f.fieldKind === "map") fail(f, "a map field");
  if ((f as { delimitedEncoding?: boolean }).delimitedEncoding) fail(f, "a group");
  if ((f.fieldKind === "scalar" || f.fieldKind === "enum") && f.presence !== IMPLICIT && f.oneof === undefined) {
    fail(f, "a field with explicit presence (`optional`)");
  }
  if (f.oneof !== undefined && f.fieldKind !== "message") fail(f, "a oneof member that is not a message");
  if (f.fieldKind === "list" && f.listKind !== "message" && f.listKind !== "enum" && !f.packed && f.scalar !== ScalarType.STRING && f.scalar !== ScalarType.BYTES) {
    fail(f, "an unpacked repeated number");
  }
}

function oneofType(m: DescMessage, name: string, init: boolean): string {
  const oneof = m.oneofs.find((o) => o.localName === name);
  if (oneof === undefined) throw new Error("unreachable");
  const cases = oneof.fields.map((f) => `{ case: "${f.localName}"; value: ${valueType(f, init)} }`);
  return [...cases, "{ case: undefined; value?: undefined }"].join("\n    | ");
}

function zeroOf(f: DescField): string {
  switch (f.fieldKind) {
    case "scalar": return scalarOf(f, f.scalar).zero;
    case "enum": return "0";
    case "message": return "undefined";
    case "list": return "[]";
    case "map": return fail(f, "a map field");
  }
}

function emitMessage(m: DescMessage, path: string, comments: Map<string, string>, lines: string[]): void {
  const name = tsName(m);
  const fields = [...m.fields].sort((a, b) => a.number - b.number);
  fields.forEach(checkField);
  const fieldDoc = (f: DescField): string | undefined => comments.get(`${path},2,${m.fields.indexOf(f)}`);
  // Members: plain fields, and each oneof once, in declaration order.
  const members: (DescField | string)[] = [];
  for (const f of m.fields) {
    if (f.oneof === undefined) members.push(f);
    else if (!members.includes(f.oneof.localName)) members.push(f.oneof.localName);
  }

  doc(lines, "", comments.get(path), `\`${m.typeName}\`.`);
  lines.push(`export interface ${name} {`);
  for (const mem of members) {
    if (typeof mem === "string") {
      lines.push(`  ${mem}:\n    | ${oneofType(m, mem, false)};`);
      continue;
    }
    doc(lines, "  ", fieldDoc(mem));
    lines.push(`  ${mem.localName}: ${valueType(mem, false)}${mem.fieldKind === "message" ? " | undefined" : ""};`);
  }
  lines.push("}", "");
  lines.push(`/** What {@link encode${name}} takes: the fields of {@link ${name}}, any of them left out (zero, empty). */`);
  lines.push(`export interface ${name}Init {`);
  for (const mem of members) {
    if (typeof mem === "string") lines.push(`  ${mem}?:\n    | ${oneofType(m, mem, true)};`);
    else lines.push(`  ${mem.localName}?: ${valueType(mem, true)} | undefined;`);
  }
  lines.push("}", "");

  // Writer: fields in number order.
  lines.push(`/** Write \`m\` as a \`${m.typeName}\`. */`);
  lines.push(`export function write${name}(w: W.Writer, m: ${name}Init): void {`);
  for (const f of fields) {
    const no = f.number;
    if (f.oneof !== undefined) {
      const o = f.oneof.localName;
      lines.push(`  W.wOne(w, ${no}, m.${o}, "${f.localName}", write${tsName(f.message as DescMessage)});`);
      continue;
    }
    const v = `m.${f.localName}`;
    switch (f.fieldKind) {
      case "scalar": lines.push(`  ${scalarOf(f, f.scalar).write}(w, ${no}, ${v});`); break;
      case "enum": lines.push(`  W.wI32(w, ${no}, ${v});`); break;
      case "message": lines.push(`  W.wMsg(w, ${no}, ${v}, write${tsName(f.message)});`); break;
      case "list":
        if (f.listKind === "message") lines.push(`  W.wMsgs(w, ${no}, ${v}, write${tsName(f.message)});`);
        else if (f.listKind === "enum") lines.push(`  W.wI32s(w, ${no}, ${v});`);
        else {
          const s = scalarOf(f, f.scalar);
          if (s.writeList === undefined) fail(f, `a repeated ${ScalarType[f.scalar]}`);
          lines.push(`  ${s.writeList}(w, ${no}, ${v});`);
        }
        break;
    }
  }
  lines.push("}", "");
  lines.push(`/** \`m\` as \`${m.typeName}\` bytes. */`);
  lines.push(`export function encode${name}(m: ${name}Init): Uint8Array {`);
  lines.push(`  return W.encode(m, write${name});`, "}", "");

  // Reader: one case per (field, wire type) upb reads it with; anything else is skipped.
  const init = members.map((mem) => (typeof mem === "string" ? `${mem}: { case: undefined }` : `${mem.localName}: ${zeroOf(mem)}`));
  lines.push(`/** Read a \`${m.typeName}\` up to \`r.e\` into \`m\` (merging into it, as protobuf does). */`);
  lines.push(`export function read${name}(r: W.Reader, m: ${name} = { ${init.join(", ")} }): ${name} {`);
  lines.push("  for (let t; (t = W.tag(r)) !== 0; ) {", "    switch (t) {");
  for (const f of fields) {
    const no = f.number;
    const v = `m.${f.localName}`;
    const tagOf = (wire: number): number => no * 8 + wire;
    if (f.oneof !== undefined) {
      const o = `m.${f.oneof.localName}`;
      const sub = `read${tsName(f.message as DescMessage)}`;
      lines.push(`      case ${tagOf(2)}: ${o} = W.one(r, ${o}, "${f.localName}", ${sub}); break;`);
      continue;
    }
    switch (f.fieldKind) {
      case "scalar": {
        const s = scalarOf(f, f.scalar);
        lines.push(`      case ${tagOf(s.wire)}: ${v} = ${s.read}(r); break;`);
        break;
      }
      case "enum": lines.push(`      case ${tagOf(0)}: ${v} = W.i32(r); break;`); break;
      case "message": lines.push(`      case ${tagOf(2)}: ${v} = W.sub(r, read${tsName(f.message)}, ${v}); break;`); break;
      case "list": {
        if (f.listKind === "message") {
          lines.push(`      case ${tagOf(2)}: ${v}.push(W.sub(r, read${tsName(f.message)})); break;`);
          break;
        }
        let s = f.listKind === "enum" ? (SCALARS[ScalarType.INT32] as Scalar) : scalarOf(f, f.scalar);
        if (numberWhereSafe(f)) s = { ...s, read: "W.s64n", packed: "W.s64n" };
        lines.push(`      case ${tagOf(s.wire)}: ${v}.push(${s.read}(r)); break;`);
        if (s.wire === 0) lines.push(`      case ${tagOf(2)}: W.packed(r, ${v}, ${s.packed ?? s.read}); break;`);
        else if (s.wire === 5) lines.push(`      case ${tagOf(2)}: W.packed32(r, ${v}); break;`);
        else if (s.wire !== 2) fail(f, "a repeated 64-bit fixed number");
        break;
      }
    }
  }
  lines.push("      default: W.skip(r, t);", "    }", "  }", "  return m;", "}", "");
  lines.push(`/**\n * Bytes as a \`${m.typeName}\`.\n *\n * @throws WireError (a DecodeError): bytes upb refuses, invalid UTF-8 in a string included.\n */`);
  lines.push(`export function decode${name}(b: Uint8Array): ${name} {`, `  return read${name}(W.reader(b));`, "}", "");

  m.nestedMessages.forEach((n) => emitMessage(n, `${path},3,${m.proto.nestedType.indexOf(n.proto)}`, comments, lines));
  m.nestedEnums.forEach((e) => emitEnum(e, `${path},4,${m.proto.enumType.indexOf(e.proto)}`, comments, lines));
}

function emitEnum(e: DescEnum, path: string, comments: Map<string, string>, lines: string[]): void {
  doc(lines, "", comments.get(path), `\`${e.typeName}\`.`);
  lines.push(`export enum ${tsName(e)} {`);
  e.values.forEach((v, i) => {
    doc(lines, "  ", comments.get(`${path},2,${i}`));
    lines.push(`  ${v.localName} = ${v.number},`);
  });
  lines.push("}", "");
}

/** The generated module of one `.proto` file. */
function emitFile(file: DescFile): string {
  const comments = commentsOf(file.proto);
  if (file.dependencies.length) throw new Error(`protogen: ${file.name}: imports are not supported`);
  const lines = [
    `// Generated by scripts/protogen.ts from proto/${file.proto.name}: do not edit (npm run gen).`,
    "/* eslint-disable */",
    `/**`,
    ` * Codecs of \`${file.proto.package}\` (${file.proto.name}): see \`scripts/protogen.ts\`.`,
    ` *`,
    ` * @module`,
    ` */`,
    `import * as W from "../../../core/wire.js";`,
    "",
  ];
  file.enums.forEach((e) => emitEnum(e, `5,${file.proto.enumType.indexOf(e.proto)}`, comments, lines));
  file.messages.forEach((m) => emitMessage(m, `4,${file.proto.messageType.indexOf(m.proto)}`, comments, lines));
  while (lines[lines.length - 1] === "") lines.pop();
  return lines.join("\n") + "\n";
}

/** What the generator writes: paths relative to `src/gen/` and their contents. */
export function generate(packageDir: string): Map<string, string> {
  const bin = join(packageDir, "node_modules", ".bin", "buf");
  const image = execFileSync(bin, ["build", "../../proto", "--as-file-descriptor-set", "-o", "-"], {
    cwd: packageDir, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20,
  });
  const set = fromBinary(FileDescriptorSetSchema, new Uint8Array(image));
  const registry = createFileRegistry(set);
  const out = new Map<string, string>();
  for (const proto of set.file) {
    const file = registry.getFile(proto.name);
    if (file === undefined) throw new Error(`protogen: ${proto.name} did not load`);
    out.set(proto.name.replace(/\.proto$/, ".ts"), emitFile(file));
  }
  return out;
}

/** The files of `dir` (recursively), relative to it. */
function listFiles(dir: string, prefix = ""): string[] {
  let names: string[] = [];
  let entries;
  try {
    entries = readdirSync(join(dir, prefix), { withFileTypes: true });
  } catch {
    return [];
  }
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    names = e.isDirectory() ? names.concat(listFiles(dir, rel)) : names.concat([rel]);
  }
  return names.sort();
}

/** Differences between `src/gen/` and what the generator writes (empty: up to date). */
export function stale(packageDir: string): string[] {
  const want = generate(packageDir);
  const genDir = join(packageDir, "src", "gen");
  const have = listFiles(genDir);
  const problems: string[] = [];
  for (const [rel, text] of want) {
    if (!have.includes(rel)) problems.push(`src/gen/${rel} is missing`);
    else if (readFileSync(join(genDir, rel), "utf8") !== text) problems.push(`src/gen/${rel} differs`);
  }
  for (const rel of have) if (!want.has(rel)) problems.push(`src/gen/${rel} is not generated`);
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.dirname, "protogen.js")) {
  const packageDir = resolve(import.meta.dirname, "..", "..");
  if (process.argv.includes("--check")) {
    const problems = stale(packageDir);
    for (const p of problems) console.error(`${p}: run npm run gen`);
    process.exit(problems.length ? 1 : 0);
  }
  for (const [rel, text] of generate(packageDir)) {
    const path = join(packageDir, "src", "gen", rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
}
