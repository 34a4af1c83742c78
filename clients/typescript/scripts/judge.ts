/**
 * `node build/scripts/judge.js CASES.json`: what the TypeScript core makes of each case
 * (for tests/typescript/test_ts_differential.py, which compares it with the Python core).
 *
 * A case is `{kind: "changes" | "snapshot", hex, base?}` (`base`: the hex of a snapshot to
 * apply the change set on). Prints a JSON array: per case `{error}` (the error class name,
 * or null) with, when accepted, `json` and `waiting`; for a refused change set, `unchanged`
 * says whether the document was left exactly as it was.
 */
import { readFileSync } from "node:fs";
import { Document, SyncKitError } from "../src/index.js";

interface Case {
  kind: "changes" | "snapshot";
  hex: string;
  base?: string;
}

const bytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, "hex"));
const cases = JSON.parse(readFileSync(process.argv[2] as string, "utf8")) as Case[];
const out = cases.map((c) => {
  let doc: Document;
  try {
    if (c.kind === "changes") {
      doc = c.base !== undefined ? Document.load(bytes(c.base), "reader") : new Document("reader");
      const before = Buffer.from(doc.save()).toString("hex");
      try {
        doc.apply(bytes(c.hex));
      } catch (exc) {
        if (!(exc instanceof SyncKitError)) throw exc;
        return { error: exc.constructor.name, unchanged: Buffer.from(doc.save()).toString("hex") === before };
      }
    } else {
      doc = Document.load(bytes(c.hex), "reader");
    }
  } catch (exc) {
    if (!(exc instanceof SyncKitError)) return { error: `crash: ${String(exc)}` };
    return { error: exc.constructor.name };
  }
  return { error: null, json: doc.toJSON(), waiting: doc.waiting };
});
process.stdout.write(JSON.stringify(out));
