// Bundles the two apps into public/build/ (esbuild). The file: packages (@synckit/client,
// @synckit/react) have node_modules of their own: react is aliased to this folder's copy so
// the page holds one React.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

await build({
  entryPoints: { todo: "src/todo.tsx", notes: "src/notes.tsx" },
  outdir: "public/build",
  bundle: true,
  format: "esm",
  minify: true,
  sourcemap: true,
  target: "es2022",
  alias: { react: here("./node_modules/react"), "react-dom": here("./node_modules/react-dom") },
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "info",
});
