/**
 * The client's browser bundle (`dist/index.js`): `src/index.ts` bundled by esbuild as one
 * minified ES module, the generated files' embedded descriptors decoded at build time (see
 * `src/descriptors.ts`) so that the protobuf runtime's copy of `descriptor.proto` is not
 * bundled.
 *
 *     node build/scripts/bundle.js     # writes dist/index.js (npm run build does)
 *
 * @module
 */
import { build, type BuildOptions, type Plugin } from "esbuild";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { FileDescriptorProtoSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import type { DescriptorJson } from "../src/descriptors.js";

/** `fileDesc("<base64>"` where a generated file hydrates its descriptor. */
const FILE_DESC = /\bfileDesc\("([A-Za-z0-9+/=]+)"/g;

/**
 * A decoded descriptor message as {@link DescriptorJson}: messages carry `$t` (their index in
 * `types`) instead of `$typeName`, and empty lists are left out (`lists` names them).
 */
export function descriptorJson(proto: FileDescriptorProto): DescriptorJson {
  const types: string[] = [];
  const defaults: Record<string, unknown>[] = [];
  const lists: string[][] = [];
  const plain = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(plain);
    if (typeof value === "bigint" || value instanceof Uint8Array) {
      throw new Error("descriptor holds 64-bit or bytes values: not supported by src/descriptors.ts");
    }
    if (value === null || typeof value !== "object") return value;
    const fields = value as Record<string, unknown>;
    const typeName = fields["$typeName"];
    if (typeof typeName !== "string") throw new Error("descriptor holds an object that is no message");
    let t = types.indexOf(typeName);
    if (t < 0) {
      t = types.push(typeName) - 1;
      const inherited: Record<string, unknown> = {};
      const proto = Object.getPrototypeOf(value) as Record<string, unknown> | null;
      if (proto !== null && proto !== Object.prototype) {
        for (const key of Object.getOwnPropertyNames(proto)) inherited[key] = plain(proto[key]);
      }
      defaults.push(inherited);
      lists.push(Object.keys(fields).filter((k) => Array.isArray(fields[k])));
    }
    const out: Record<string, unknown> = { $t: t };
    for (const key of Object.keys(fields)) {
      const v = fields[key];
      if (key === "$typeName" || v === undefined) continue;
      if (Array.isArray(v) && v.length === 0 && (lists[t] as string[]).includes(key)) continue;
      out[key] = plain(v);
    }
    return out;
  };
  const file = plain(proto);
  return { types, defaults, lists, file };
}

/** The embedded descriptor `b64` decoded, as `fileFromJson` takes it. */
export function decodeEmbedded(b64: string): DescriptorJson {
  return descriptorJson(fromBinary(FileDescriptorProtoSchema, base64Decode(b64)));
}

/** The esbuild plugin: `fileDesc("<base64>", deps)` in src/gen/ becomes `fileFromJson(<json>, deps)`. */
export function embeddedDescriptors(packageDir: string): Plugin {
  const helper = resolve(packageDir, "src", "descriptors.ts");
  return {
    name: "synckit-embedded-descriptors",
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/]gen[\\/].*_pb\.ts$/ }, async (args) => {
        const source = await readFile(args.path, "utf8");
        let found = 0;
        const rewritten = source.replace(FILE_DESC, (_m, b64: string) => {
          found += 1;
          return `fileFromJson(${JSON.stringify(decodeEmbedded(b64))}`;
        });
        if (found === 0) throw new Error(`${args.path}: no fileDesc("<base64>") call found`);
        return {
          contents: `import { fileFromJson } from ${JSON.stringify(helper)};\n${rewritten}`,
          loader: "ts",
        };
      });
    },
  };
}

/** The esbuild options of the bundle of `entry` (relative to `packageDir`). */
export function bundleOptions(packageDir: string): BuildOptions {
  return {
    absWorkingDir: packageDir,
    bundle: true,
    format: "esm",
    minify: true,
    platform: "browser",
    target: "es2022",
    plugins: [embeddedDescriptors(packageDir)],
  };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.dirname, "bundle.js")) {
  const packageDir = resolve(import.meta.dirname, "..", "..");
  await build({
    ...bundleOptions(packageDir),
    entryPoints: [resolve(packageDir, "src", "index.ts")],
    outfile: resolve(packageDir, "dist", "index.js"),
    logLevel: "warning",
  });
}
