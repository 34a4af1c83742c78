/**
 * The generated protobuf files' descriptors, revived from JSON in the bundle.
 *
 * Each file of `src/gen/` (what `protoc-gen-es` writes from `../../proto`, unchanged) embeds
 * its `FileDescriptorProto` as base64 and decodes it at load time with `fileDesc`, which needs
 * the protobuf runtime's own copy of `descriptor.proto` (about 25 KB minified). The bundle
 * (`scripts/bundle.ts`) decodes those same bytes at build time instead and replaces each
 * `fileDesc("<base64>", deps)` with `fileFromJson(<the decoded message>, deps)`: the same
 * descriptor reaches the same registry, so every schema, and every byte encoded with it, is
 * the same (`test/bundle.test.ts` compares them). Node's build (`tsc`) keeps `fileDesc`.
 *
 * @module
 */
import { createFileRegistry, type DescFile } from "@bufbuild/protobuf";
import { protoCamelCase } from "@bufbuild/protobuf/reflect";
import type { DescriptorProto, FileDescriptorProto } from "@bufbuild/protobuf/wkt";

/**
 * A decoded `FileDescriptorProto` as plain data. Each message is an object of its explicitly
 * set fields (messages nested the same way) and `$t`, the index of its type: `types[$t]` is
 * its type name, `defaults[$t]` the values a decoded message of that type inherits for unset
 * fields (as `fromBinary` gives them), `lists[$t]` its list fields (left out when empty).
 */
export interface DescriptorJson {
  readonly types: readonly string[];
  readonly defaults: readonly { readonly [field: string]: unknown }[];
  readonly lists: readonly (readonly string[])[];
  readonly file: unknown;
}

function revive(value: unknown, data: DescriptorJson): unknown {
  if (Array.isArray(value)) return value.map((v) => revive(v, data));
  if (value === null || typeof value !== "object") return value;
  const fields = value as { readonly [key: string]: unknown };
  const t = fields["$t"] as number;
  const out = Object.create({ ...data.defaults[t] }) as Record<string, unknown>;
  out["$typeName"] = data.types[t];
  for (const key of data.lists[t] ?? []) out[key] = [];
  for (const key of Object.keys(fields)) if (key !== "$t") out[key] = revive(fields[key], data);
  return out;
}

/** As `fileDesc` does: a field without a JSON name gets the lowerCamelCase of its name. */
function restoreJsonNames(message: DescriptorProto): void {
  for (const f of message.field) {
    if (!Object.prototype.hasOwnProperty.call(f, "jsonName") || f.jsonName === undefined) f.jsonName = protoCamelCase(f.name);
  }
  message.nestedType.forEach(restoreJsonNames);
}

/**
 * What `fileDesc(base64, imports)` returns, from the decoded descriptor (see the module
 * comment): the file descriptor, its imports resolved among `imports`.
 *
 * @throws Error: the descriptor does not describe a valid file.
 */
export function fileFromJson(data: DescriptorJson, imports?: readonly DescFile[]): DescFile {
  const root = revive(data.file, data) as FileDescriptorProto;
  root.messageType.forEach(restoreJsonNames);
  root.dependency = imports?.map((f) => f.proto.name) ?? [];
  const registry = createFileRegistry(root, (name) => imports?.find((f) => f.proto.name === name));
  const file = registry.getFile(root.name);
  if (file === undefined) throw new Error(`descriptor of ${root.name} did not load`);
  return file;
}
