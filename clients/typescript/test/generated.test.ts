import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..", "..");

test("src/gen is what buf generates from ../../proto today", () => {
  const out = mkdtempSync(join(tmpdir(), "synckit-gen-"));
  try {
    execFileSync(
      join(ROOT, "node_modules", ".bin", "buf"),
      ["generate", "../../proto", "--template",
        JSON.stringify({ version: "v2", plugins: [{ local: join(ROOT, "node_modules", ".bin", "protoc-gen-es"), out, opt: ["target=ts", "import_extension=js"] }] })],
      { cwd: ROOT, stdio: "pipe" },
    );
    const dir = join("synckit", "v1");
    const names = readdirSync(join(out, dir)).sort();
    assert.deepEqual(names, readdirSync(join(ROOT, "src", "gen", dir)).sort());
    for (const name of names) {
      assert.equal(
        readFileSync(join(ROOT, "src", "gen", dir, name), "utf8"),
        readFileSync(join(out, dir, name), "utf8"),
        `src/gen/${dir}/${name} is stale: run npm run gen`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
