/**
 * A snapshot text's content as zlib-format DEFLATE bytes (RFC 1950), as the Python
 * snapshot writes `TextState.content_deflate` (`synckit.core._snapshot`: texts of at least
 * {@link DEFLATE_FROM} code points, level 6, `_inflate_text` to read them back).
 *
 * The compressed bytes may differ from Python's (another DEFLATE implementation, fflate);
 * both read each other's. Deviation in messages only: a wrong checksum and junk after the
 * stream are both reported as corrupt (Python tells them apart).
 *
 * @module
 */

import { Unzlib, zlibSync } from "fflate";
import { DecodeError } from "../../errors.js";

/** Texts at least this long (in code points) are saved DEFLATE-compressed (Python `_DEFLATE_FROM`). */
export const DEFLATE_FROM = 256;
/** The compression level Python uses (`_DEFLATE_LEVEL`). */
export const DEFLATE_LEVEL = 6;

/** `content` as UTF-8, zlib-compressed (what goes into `content_deflate`). */
export function deflateContent(content: string): Uint8Array {
  return zlibSync(new TextEncoder().encode(content), { level: DEFLATE_LEVEL });
}

/** Adler-32 of `data` (RFC 1950). */
function adler32(chunks: readonly Uint8Array[]): number {
  let a = 1;
  let b = 0;
  for (const d of chunks) {
    for (let i = 0; i < d.length; ) {
      const e = Math.min(i + 3800, d.length);
      for (; i < e; i++) {
        a += d[i]!;
        b += a;
      }
      a %= 65521;
      b %= 65521;
    }
  }
  return ((b << 16) | a) >>> 0;
}

class TooLong extends Error {}

/**
 * The text of a snapshot's `content_deflate` (Python `_inflate_text`); DecodeError if it
 * is not valid zlib data holding UTF-8. `maxChars` bounds the text (the document's
 * version sum: every visible character has a seq of its own), so at 4 UTF-8 bytes each
 * the inflating stops early on a small hostile input that expands to gigabytes. `name`
 * names the text in messages.
 */
export function inflateContent(data: Uint8Array, maxChars: number, name: string): string {
  const limit = 4 * maxChars + 1;
  const chunks: Uint8Array[] = [];
  let total = 0;
  const u = new Unzlib((chunk: Uint8Array) => {
    total += chunk.length;
    if (total > limit) throw new TooLong();
    chunks.push(chunk);
  });
  const STEP = 16384;
  try {
    if (data.length < 6) throw Object.assign(new Error("unexpected EOF"), { code: 0 });
    for (let off = 0; off < data.length; off += STEP) {
      u.push(data.subarray(off, off + STEP), off + STEP >= data.length);
    }
  } catch (e) {
    if (e instanceof TooLong) {
      throw new DecodeError(`snapshot: text '${name}': deflated text is longer than the version allows`);
    }
    if ((e as { code?: number }).code === 0) {
      throw new DecodeError(`snapshot: text '${name}': deflated text is truncated`);
    }
    throw new DecodeError(`snapshot: text '${name}': corrupt deflated text (${(e as Error).message})`);
  }
  const n = data.length;
  const check = ((data[n - 4]! << 24) | (data[n - 3]! << 16) | (data[n - 2]! << 8) | data[n - 1]!) >>> 0;
  if (adler32(chunks) !== check) {
    throw new DecodeError(`snapshot: text '${name}': corrupt deflated text (incorrect data check, or junk after it)`);
  }
  const raw = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    raw.set(c, o);
    o += c.length;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(raw);
  } catch {
    throw new DecodeError(`snapshot: text '${name}': deflated text is not UTF-8`);
  }
}
