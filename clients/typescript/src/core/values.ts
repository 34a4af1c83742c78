/**
 * JSON values: checking what users store, copying it so later mutation cannot leak in, and
 * the JSON text the wire format carries, written the way Python's `json` module writes it
 * (Python: `_values.py`, and `_dumps`/`_loads` of `_codec.py`).
 */
import { DecodeError, InvalidTypeError } from "../errors.js";

/** A JSON scalar: null, a boolean, a finite number or a string. */
export type JSONScalar = null | boolean | number | string;
/** A JSON value. */
export type JSONValue = JSONScalar | JSONValue[] | { [key: string]: JSONValue };

const MAX_DEPTH = 64;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Set `obj[key] = value` as an own data property (also for `"__proto__"`). */
export function setProp(obj: { [key: string]: JSONValue }, key: string, value: JSONValue): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/** Whether `s` is valid Unicode text (no lone surrogates: encodable as UTF-8). */
export function isWellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/** Return `value` if it is valid Unicode text, else throw {@link InvalidTypeError}. */
export function checkText(value: string, what = "text"): string {
  const m = LONE_SURROGATE.exec(value);
  if (m !== null) {
    throw new InvalidTypeError(`${what} must be valid Unicode text: position ${m.index} is a lone surrogate`);
  }
  return value;
}

function isPlainObject(value: object): value is { [key: string]: unknown } {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A private copy of `value` if it is a JSON value; {@link InvalidTypeError} if not.
 *
 * JSON values are null, booleans, finite numbers, strings, arrays of JSON values and plain
 * objects of JSON values, nested at most 64 deep.
 */
export function copyJson(value: unknown, what = "value"): JSONValue {
  return copyItem(value, what, -1);
}

function copyItem(value: unknown, what: string, depth: number): JSONValue {
  switch (typeof value) {
    case "string": return checkText(value, what);
    case "boolean": return value;
    case "number":
      if (!Number.isFinite(value)) {
        throw new InvalidTypeError(`${what} must be a JSON value: ${value} is not a finite number`);
      }
      return value;
    case "object": {
      if (value === null) return null;
      const d = depth + 1;
      if (Array.isArray(value)) {
        if (d >= MAX_DEPTH) throw new InvalidTypeError(`${what} is nested more than ${MAX_DEPTH} levels deep`);
        return value.map((v) => copyItem(v, what, d));
      }
      if (isPlainObject(value)) {
        if (d >= MAX_DEPTH) throw new InvalidTypeError(`${what} is nested more than ${MAX_DEPTH} levels deep`);
        const out: { [key: string]: JSONValue } = {};
        for (const k of Object.keys(value)) setProp(out, checkText(k, what), copyItem(value[k], what, d));
        return out;
      }
      break;
    }
    default:
      break;
  }
  throw new InvalidTypeError(
    `${what} must be a JSON value (null, boolean, number, string, array, object), got ${describe(value)}`,
  );
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}

/** A copy of a JSON value a document holds, to hand out (arrays and objects are copied). */
export function cloneJson(value: JSONValue): JSONValue {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(cloneJson);
  const out: { [key: string]: JSONValue } = {};
  for (const k of Object.keys(value)) setProp(out, k, cloneJson(value[k] as JSONValue));
  return out;
}

/** Return `value` if it is a JSON scalar, else throw {@link InvalidTypeError}. */
export function checkScalar(value: unknown, what = "member"): JSONScalar {
  if (typeof value === "string") return checkText(value, what);
  if (value === null || typeof value === "boolean") return value;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  throw new InvalidTypeError(`${what} must be a JSON scalar (null, boolean, finite number, string), got ${String(value)}`);
}

/**
 * The type tag Python's `scalar_key` gives a scalar: `"b"` boolean, `"i"` integer, `"f"`
 * float, `"n"` null, `"s"` string. A number with an integral value counts as an integer
 * (JavaScript has no `1.0` apart from `1`).
 */
export function scalarTag(value: JSONScalar): string {
  if (typeof value === "string") return "s";
  if (typeof value === "boolean") return "b";
  if (typeof value === "number") return Number.isInteger(value) ? "i" : "f";
  return "n";
}

/**
 * A map key that keeps `1`, `true` and `"1"` apart: the type tag, then the value's JSON.
 * `raw` is the Python text of a number received from another replica, which keeps a
 * Python `1.0` (tag `"f"`) apart from `1` and an integer beyond 2^53 exact.
 */
export function scalarKey(value: JSONScalar, raw?: string): string {
  if (typeof value === "number" && raw !== undefined) return (/[.eE]/.test(raw) ? "f" : "i") + raw;
  const tag = scalarTag(value);
  return tag === "s" ? "s" + (value as string) : tag + dumps(value);
}

/** Compare two strings by code point, as Python compares `str` (-1, 0 or 1). */
export function compareStr(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (code points above U+FFFF) sort after U+E000..U+FFFF.
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x < y ? -1 : 1;
    }
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/**
 * Python's `repr` of a float: the shortest digits that round-trip (as JavaScript's), in
 * fixed notation with a `.0` for exponents -4 to 15, else as `1.5e+300`, `1e-05`.
 */
export function pyFloatRepr(x: number): string {
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const exp = x.toExponential(); // shortest round-trip digits
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(exp);
  if (m === null) throw new Error(`unexpected number format ${exp}`);
  const sign = m[1] ?? "";
  const digits = (m[2] ?? "") + (m[3] ?? "");
  const e = Number(m[4]);
  if (e >= -4 && e < 16) {
    if (e < 0) return `${sign}0.${"0".repeat(-e - 1)}${digits}`;
    if (digits.length <= e + 1) return `${sign}${digits}${"0".repeat(e + 1 - digits.length)}.0`;
    return `${sign}${digits.slice(0, e + 1)}.${digits.slice(e + 1)}`;
  }
  const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const es = Math.abs(e) < 10 ? `0${Math.abs(e)}` : String(Math.abs(e));
  return `${sign}${mant}e${e < 0 ? "-" : "+"}${es}`;
}

function dumpNumber(x: number): string {
  if (!Number.isFinite(x)) throw new InvalidTypeError(`${x} is not a JSON number`);
  if (Number.isInteger(x) && Math.abs(x) <= Number.MAX_SAFE_INTEGER) return String(x === 0 ? 0 : x);
  return pyFloatRepr(x);
}

/**
 * JSON text of `value` as Python's `json.dumps(value, separators=(",", ":"),
 * ensure_ascii=False)` writes it: integral numbers (up to 2^53) as integers, other numbers
 * as Python's float `repr`, objects in their key order.
 */
export function dumps(value: JSONValue): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string": return JSON.stringify(value);
    case "boolean": return value ? "true" : "false";
    case "number": return dumpNumber(value);
    default: break;
  }
  if (Array.isArray(value)) return "[" + value.map(dumps).join(",") + "]";
  const parts: string[] = [];
  for (const k of Object.keys(value)) parts.push(JSON.stringify(k) + ":" + dumps(value[k] as JSONValue));
  return "{" + parts.join(",") + "}";
}

function checkFinite(value: unknown): void {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new DecodeError("values: a number is too large for a finite number");
  } else if (Array.isArray(value)) {
    for (const v of value) checkFinite(v);
  } else if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) checkFinite(v);
  }
}

/** Parse JSON text; {@link DecodeError} (naming `what`) if it is not valid JSON. */
export function loads(text: string, what: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (exc) {
    throw new DecodeError(`${what} are not valid JSON (${(exc as Error).message})`);
  }
  try {
    checkFinite(value);
  } catch (exc) {
    throw new DecodeError(`${what} are not valid JSON (${(exc as Error).message})`);
  }
  return value;
}
