/**
 * JSON text as Python's `json` module reads and writes it, so that values received from
 * other replicas are sent on exactly as Python would send them (Python: `_dumps`/`_loads`
 * of `_codec.py`).
 *
 * A JavaScript value loses what Python keeps: `1.0` apart from `1`, integers beyond 2^53,
 * and the order of integer-like object keys ("2" before "1"). So the decoder keeps, beside
 * each decoded value, its *Python text*: what `json.dumps(json.loads(text))` gives, computed
 * here by one pass over the text. Writers use it in place of the value's own encoding (see
 * {@link RAW}); views show the JavaScript value.
 */
import { pyFloatRepr } from "./values.js";

/** Invalid JSON, or JSON Python's decoder refuses. */
export class PyJsonError extends Error {}

/**
 * The Python text of values decoded from other replicas, by the operation (or field
 * register) holding the value, kept only where it differs from the value's own encoding.
 */
export const RAW = new WeakMap<object, string>();

/** Keep `from`'s Python text (if any) for `to` too; returns `to`. */
export function copyRaw<T extends object>(from: object, to: T): T {
  const raw = RAW.get(from);
  if (raw !== undefined) RAW.set(to, raw);
  return to;
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/y;
const MAX_DEPTH = 900; // Python's decoder recurses: far deeper input fails there too

class Canonical {
  pos = 0;
  constructor(readonly text: string) {}

  fail(what: string): never {
    throw new PyJsonError(`${what} at position ${this.pos}`);
  }

  ws(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.pos++;
    }
  }

  value(depth: number): string {
    this.ws();
    const c = this.text[this.pos];
    switch (c) {
      case "[": return this.array(depth + 1);
      case "{": return this.object(depth + 1);
      case '"': return JSON.stringify(this.string());
      case "t": return this.literal("true");
      case "f": return this.literal("false");
      case "n": return this.literal("null");
      default: return this.number();
    }
  }

  literal(word: string): string {
    if (!this.text.startsWith(word, this.pos)) this.fail("expecting a value");
    this.pos += word.length;
    return word;
  }

  number(): string {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (m === null) this.fail("expecting a value");
    this.pos += m[0].length;
    if (m[1] !== undefined || m[2] !== undefined) {
      const x = Number(m[0]);
      if (!Number.isFinite(x)) this.fail(`${m[0]} is too large for a finite number`);
      return pyFloatRepr(x);
    }
    if (m[0].length > 4300) this.fail("an integer of more than 4300 digits");
    // The grammar above admits only canonical integers (no leading zeros, no plus sign),
    // which Python writes back as they came, but for "-0": the text itself, without
    // making a BigInt of each (a first sync reads thousands).
    return m[0] === "-0" ? "0" : m[0];
  }

  string(): string {
    const t = this.text;
    const start = this.pos++;
    for (;;) {
      if (this.pos >= t.length) this.fail("unterminated string");
      const c = t[this.pos++];
      if (c === '"') break;
      if (c === "\\") this.pos++;
    }
    try {
      return JSON.parse(t.slice(start, this.pos)) as string;
    } catch {
      return this.fail("invalid string");
    }
  }

  array(depth: number): string {
    if (depth > MAX_DEPTH) this.fail("nested too deep");
    this.pos++;
    this.ws();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return "[]";
    }
    const items: string[] = [];
    for (;;) {
      items.push(this.value(depth));
      this.ws();
      const c = this.text[this.pos++];
      if (c === "]") return "[" + items.join(",") + "]";
      if (c !== ",") this.fail("expecting ',' or ']'");
    }
  }

  object(depth: number): string {
    if (depth > MAX_DEPTH) this.fail("nested too deep");
    this.pos++;
    this.ws();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return "{}";
    }
    // A repeated key keeps its first place and takes its last value, as in a Python dict.
    const order: string[] = [];
    const values = new Map<string, string>();
    for (;;) {
      this.ws();
      if (this.text[this.pos] !== '"') this.fail("expecting a property name");
      const key = this.string();
      this.ws();
      if (this.text[this.pos++] !== ":") this.fail("expecting ':'");
      const v = this.value(depth);
      if (!values.has(key)) order.push(key);
      values.set(key, v);
      this.ws();
      const c = this.text[this.pos++];
      if (c === "}") return "{" + order.map((k) => JSON.stringify(k) + ":" + (values.get(k) as string)).join(",") + "}";
      if (c !== ",") this.fail("expecting ',' or '}'");
    }
  }
}

/**
 * The Python text of each element of the JSON array `text` (null when `text` is valid JSON
 * but not an array). Throws {@link PyJsonError} where Python's decoder fails.
 */
export function pythonElements(text: string): string[] | null {
  const p = new Canonical(text);
  p.ws();
  let out: string[] | null = null;
  if (p.text[p.pos] === "[") {
    p.pos++;
    p.ws();
    out = [];
    if (p.text[p.pos] === "]") p.pos++;
    else {
      for (;;) {
        out.push(p.value(1));
        p.ws();
        const c = p.text[p.pos++];
        if (c === "]") break;
        if (c !== ",") p.fail("expecting ',' or ']'");
      }
    }
  } else {
    p.value(0);
  }
  p.ws();
  if (p.pos !== text.length) p.fail("extra data");
  return out;
}
