/**
 * The client's browser bundle (`dist/index.js`): `src/index.ts` bundled by esbuild as one
 * minified ES module. The protobuf codecs are generated code (`src/gen/`, see
 * `scripts/protogen.ts`), so no protobuf library is bundled.
 *
 *     node build/scripts/bundle.js     # writes dist/index.js (npm run build does)
 *
 * @module
 */
import { build, type BuildOptions } from "esbuild";
import { resolve } from "node:path";

/** The esbuild options of the bundle of `entry` (relative to `packageDir`). */
export function bundleOptions(packageDir: string): BuildOptions {
  return {
    absWorkingDir: packageDir,
    bundle: true,
    format: "esm",
    minify: true,
    platform: "browser",
    target: "es2022",
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
