/**
 * The committed TypeScript-written vectors (test/vectors/from-ts/, checked by the Python
 * suite) are what `npm run vectors` writes today.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FROM_TS, generateFromTs } from "./helpers/fromts.js";

test("test/vectors/from-ts is current (npm run vectors)", () => {
  const files = generateFromTs();
  assert.deepEqual(readdirSync(FROM_TS).sort(), [...files.keys()].sort());
  for (const [name, data] of files) {
    assert.ok(Buffer.from(readFileSync(join(FROM_TS, name))).equals(Buffer.from(data)), `${name} is stale: run npm run vectors`);
  }
});
