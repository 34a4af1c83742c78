/**
 * How many bytes the client costs a web page: `src/index.ts` (everything the package
 * exports; there is no React code in it) bundled as `dist/index.js` is (`scripts/bundle.ts`:
 * esbuild, one ES module, minified), then gzipped at level 9 by Node's zlib. Prints the total and the minified bytes per
 * top-level module (from esbuild's metafile), biggest first.
 *
 *     npm run size            # the tables: the whole client, and `Document` alone
 *     npm run size -- --json  # the figures as JSON
 *
 * Only the total is gzipped exactly; a module's gzip figure is its share of the minified
 * bytes applied to the gzipped total (gzip does not attribute bytes to inputs).
 */
import { build, type Metafile } from "esbuild";
import { bundleOptions } from "./bundle.js";
import { resolve, relative } from "node:path";
import { gzipSync } from "node:zlib";

/** Size of the bundle and its parts. */
export interface SizeReport {
  minified: number;
  gzipped: number;
  /** Top-level modules (a folder or file of src/, or an npm package), biggest first. */
  modules: { module: string; minified: number; gzipShare: number }[];
}

/** The top-level module an esbuild input path belongs to. */
function topLevel(input: string): string {
  const nm = input.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = input.slice(nm + "node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const parts = input.split("/");
  const i = parts.indexOf("src");
  if (i < 0) return input;
  const under = parts.slice(i + 1);
  // src/core/text and src/gen are reported on their own; the rest by their first folder.
  if (under[0] === "core" && under[1] === "text") return "src/core/text";
  return `src/${under[0]}`;
}

/** Bundle `entry` (minified ESM) and measure it. */
export async function measureSize(packageDir: string, entry = "src/index.ts", only?: string[]): Promise<SizeReport> {
  // With `only`: a page importing just those names from `entry` (tree-shaken).
  const input = only === undefined
    ? { entryPoints: [resolve(packageDir, entry)] }
    : { stdin: { contents: `export { ${only.join(", ")} } from "./${entry.replace(/\.ts$/, ".js")}";`, resolveDir: packageDir, sourcefile: "only.ts", loader: "ts" as const } };
  const result = await build({
    ...bundleOptions(packageDir),
    ...input,
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const out = result.outputFiles[0]!;
  const code = out.contents;
  const meta: Metafile = result.metafile;
  const output = Object.values(meta.outputs)[0]!;
  const groups = new Map<string, number>();
  for (const [input, info] of Object.entries(output.inputs)) {
    const key = topLevel(relative(packageDir, resolve(packageDir, input)));
    groups.set(key, (groups.get(key) ?? 0) + info.bytesInOutput);
  }
  const gzipped = gzipSync(code, { level: 9 }).length;
  const modules = [...groups]
    .map(([module, minified]) => ({ module, minified, gzipShare: Math.round((gzipped * minified) / code.length) }))
    .sort((a, b) => b.minified - a.minified);
  return { minified: code.length, gzipped, modules };
}

/** The report as a markdown table. */
export function sizeTable(r: SizeReport): string {
  const kb = (n: number): string => (n / 1024).toFixed(1);
  const lines = [
    `minified: ${r.minified.toLocaleString("en-US")} bytes; minified + gzip -9: **${r.gzipped.toLocaleString("en-US")} bytes (${kb(r.gzipped)} KiB)**; target: under 20 KB`,
    "",
    "| module | minified bytes | share | ≈ gzip bytes (pro rata) |",
    "|---|---:|---:|---:|",
  ];
  for (const m of r.modules) {
    lines.push(`| ${m.module} | ${m.minified.toLocaleString("en-US")} | ${((100 * m.minified) / r.minified).toFixed(1)}% | ${m.gzipShare.toLocaleString("en-US")} |`);
  }
  return lines.join("\n");
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.dirname, "size.js")) {
  const packageDir = resolve(import.meta.dirname, "..", "..");
  const report = await measureSize(packageDir);
  const docOnly = await measureSize(packageDir, "src/index.ts", ["Document"]);
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify({ client: report, documentOnly: docOnly }, null, 2));
  } else {
    console.log("## The whole client (`src/index.ts`)\n");
    console.log(sizeTable(report));
    console.log("\n## A page that imports only `Document` (tree-shaken)\n");
    console.log(sizeTable(docOnly));
  }
}
