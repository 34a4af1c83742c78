/**
 * Text positions: SyncKit counts code points, the DOM counts UTF-16 units; and the splice
 * that turns one string into another (what a textarea's input did).
 */

/** The code-point position of UTF-16 offset `offset` in `s`. */
export function toCodePoints(s: string, offset: number): number {
  return Array.from(s.slice(0, offset)).length;
}

/** The UTF-16 offset of code-point position `pos` in `s`. */
export function toUtf16(s: string, pos: number): number {
  let offset = 0;
  let n = 0;
  for (const ch of s) {
    if (n === pos) break;
    offset += ch.length;
    n += 1;
  }
  return offset;
}

/** One splice, in code points: delete `deleted` at `pos`, then insert `inserted` there. */
export interface Splice {
  readonly pos: number;
  readonly deleted: number;
  readonly inserted: string;
}

/** The smallest splice that turns `before` into `after` (common prefix and suffix kept). */
export function diff(before: string, after: string): Splice | null {
  const a = Array.from(before);
  const b = Array.from(after);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let end = 0;
  while (end < a.length - start && end < b.length - start && a[a.length - 1 - end] === b[b.length - 1 - end]) end++;
  const deleted = a.length - start - end;
  const inserted = b.slice(start, b.length - end).join("");
  return deleted === 0 && inserted === "" ? null : { pos: start, deleted, inserted };
}
