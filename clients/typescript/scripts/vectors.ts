/**
 * `npm run vectors`: write the TypeScript-made vectors (test/vectors/from-ts/) that the
 * Python suite checks (tests/typescript/test_ts_vectors.py).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FROM_TS, generateFromTs } from "../test/helpers/fromts.js";

const files = generateFromTs();
mkdirSync(FROM_TS, { recursive: true });
for (const [name, data] of files) writeFileSync(join(FROM_TS, name), data);
console.log(`wrote ${files.size} files into ${FROM_TS}`);
