/**
 * YATA integration: where a remote insert goes, and putting it there
 * (Python: `synckit.core._text._yata`).
 *
 * A remote insert is placed between its origins; concurrent inserts competing for one gap
 * are ordered by the YATA rules, "YjsMod" variant, ties broken by comparing client id
 * *strings* (by code point, as Python compares `str`). The rule is stated in
 * `_yataPlace`. Fast paths as in Python: remote typing grows the item the last remote
 * insert made; nothing concurrent: no scan.
 *
 * @module
 */

import { type ItemId, sameId } from "../ids.js";
import { InvalidValueError } from "../../errors.js";
import { MAX_ITEMS, MAX_TEXT, codePoints, lessByCodePoints, spliceIn } from "./block.js";
import { TextBase, cmpPos, type ItemPos } from "./base.js";

const NO_POS: ItemPos = [-1, 0, 0]; // position of the "start of document" origin
const END_POS: ItemPos = [Number.MAX_SAFE_INTEGER, 0, 0]; // position of the "end of document" origin

/** Remote inserts of a text state; {@link TextState} is the class to use. */
export class Integration extends TextBase {
  /**
   * Does this insert continue the item the last remote insert made or grew (same client,
   * next seq, same right origin)? Then {@link Integration.applyInsert} takes its remote
   * typing fast path, and both origins are known characters here. Python `continues_remote`.
   */
  continuesRemote(client: number, seq: number, left: ItemId | null, right: ItemId | null): boolean {
    const rt = this._rtail;
    return (
      rt !== null &&
      rt.next === seq &&
      rt.client === client &&
      left !== null &&
      left[0] === client &&
      left[1] === seq - 1 &&
      sameId(right, rt.right)
    );
  }

  /**
   * Integrate a remote insert of `content` by `client` (an index into the client table)
   * with first seq `seq` and origins `left`/`right`. Throws InvalidValueError (the text
   * stays as it was) if its ids are not new or an origin is unknown. `checked`: the caller
   * guarantees the ids are new. Python `apply_insert`.
   */
  applyInsert(
    client: number,
    seq: number,
    left: ItemId | null,
    right: ItemId | null,
    content: string,
    checked = false,
  ): void {
    const cps = codePoints(content);
    const n = cps.length;
    if (!n) throw new InvalidValueError("apply_insert: empty content");
    this._tailPos = -1;
    this._recent = null;
    const rt = this._rtail;
    if (rt !== null && this.continuesRemote(client, seq, left, right)) {
      // Remote typing on: grow the item the previous remote insert ended.
      const blk = rt.blk;
      const i = rt.i;
      const off = rt.off;
      if (this._edits !== null) this._record(this._blockStart(blk.idx) + off, 0, content);
      blk.lens[i] = blk.lens[i]! + n;
      blk.text = spliceIn(blk.text, off, cps);
      this._resize(blk, n);
      if (blk.size > MAX_TEXT) {
        this._rtail = null;
        this._splitBlock(blk.idx);
      } else {
        this._rtail = { client, next: seq + n, blk, i, off: off + n, right };
      }
      return;
    }
    this._rtail = null;
    if (!checked) this._checkNewIds(client, seq, n);
    const blocks = this._blocks;
    let leftPos: ItemPos;
    let b: number;
    let j: number;
    // Split so that `left` ends an item and `right` starts one.
    if (left !== null) {
      const found = this._find(left[0], left[1]);
      if (found === null) throw new InvalidValueError(`apply_insert: unknown left origin (${left[0]}, ${left[1]})`);
      const [lblk, li] = found;
      const k = left[1] - lblk.seqs[li]!;
      if (k < Math.abs(lblk.lens[li]!) - 1) this._split(lblk, li, k + 1);
      leftPos = [lblk.idx, li, k];
      b = lblk.idx;
      j = li + 1;
    } else {
      leftPos = NO_POS;
      b = 0;
      j = 0;
    }
    // Usually nothing was inserted here concurrently: the right origin starts the very
    // next item (or both are the end): nothing to scan.
    const nxt = this._itemAt(b, j);
    let db: number;
    let dj: number;
    if (
      right === null
        ? nxt === null
        : nxt !== null && nxt[0].seqs[nxt[1]] === right[1] && nxt[0].clients[nxt[1]] === right[0]
    ) {
      db = b;
      dj = j;
    } else {
      [db, dj, right] = this._yataPlace(client, left, right, leftPos, b, j);
    }
    const blk = blocks[db]!;
    let rc: number;
    let rs: number;
    if (right === null) {
      rc = -1;
      rs = 0;
    } else {
      [rc, rs] = right;
    }
    let extend = false;
    if (dj > 0 && left !== null && left[0] === client && left[1] === seq - 1) {
      const p = dj - 1;
      extend =
        blk.clients[p] === client &&
        blk.lens[p]! > 0 &&
        blk.seqs[p]! + blk.lens[p]! === seq &&
        blk.rcs[p] === rc &&
        (rc < 0 || blk.rss[p] === rs);
    }
    const off = blk.visibleOffset(dj);
    if (this._edits !== null) this._record(this._blockStart(db) + off, 0, content);
    if (extend) {
      blk.lens[dj - 1] = blk.lens[dj - 1]! + n;
    } else {
      if (left === null) blk.insertItem(dj, client, seq, n, -1, 0, rc, rs);
      else blk.insertItem(dj, client, seq, n, left[0], left[1], rc, rs);
      if (this._index !== null) this._indexAdd(client, seq, blk); // (else built later, with it)
    }
    blk.text = spliceIn(blk.text, off, cps);
    this._resize(blk, n);
    if (blk.lens.length > MAX_ITEMS || blk.size > MAX_TEXT) {
      this._splitBlock(db);
    } else {
      // Arm the remote typing fast path if the next item is the right origin and this is
      // the client's latest item.
      const ti = extend ? dj - 1 : dj;
      if (this._isLatestItem(client, blk.seqs[ti]!) && sameId(this._nextId(db, ti), right)) {
        this._rtail = { client, next: seq + n, blk, i: ti, off: off + n, right };
      }
    }
  }

  /**
   * @internal Where a remote insert goes among items concurrent with it: [block, item
   * index, the right origin it keeps]. `(b, j)` is the item right after the left origin
   * (already split so that the origin ends an item). A right origin that is not after the
   * left one (only hostile input makes one) is dropped, as in Python.
   *
   * The rule (YjsMod), with L and R our origins, walking the items o from right after L up
   * to R (or the end); `(db, dj)` follows the walk unless `scanning`:
   * - o's left origin is before L: stop.
   * - o's left origin is L: same right origin R: the lower client id string goes first
   *   (stop if ours is lower, else go after o); o's right origin before R: pass o
   *   tentatively (`scanning` on); after R or none: go after o (`scanning` off).
   * - o's left origin is after L: pass o, `scanning` as it was.
   */
  _yataPlace(
    client: number,
    left: ItemId | null,
    right: ItemId | null,
    leftPos: ItemPos,
    b: number,
    j: number,
  ): [number, number, ItemId | null] {
    const blocks = this._blocks;
    let rb = -2;
    let ri = -2;
    let rightPos: ItemPos = END_POS;
    if (right !== null) {
      const found = this._find(right[0], right[1]);
      if (found === null) throw new InvalidValueError(`apply_insert: unknown right origin (${right[0]}, ${right[1]})`);
      const [rblk, ri0] = found;
      ri = ri0;
      const k = right[1] - rblk.seqs[ri]!;
      if (cmpPos([rblk.idx, ri, k], leftPos) <= 0) {
        right = null;
        rb = -2;
        ri = -2;
      } else {
        if (k) {
          this._split(rblk, ri, k);
          ri += 1;
        }
        rb = rblk.idx;
        rightPos = [rb, ri, 0];
      }
    }
    const names = this._clientIds;
    const mine = names[client]!;
    const lc0 = left === null ? -1 : left[0];
    const ls0 = left === null ? 0 : left[1];
    const rc0 = right === null ? -1 : right[0];
    const rs0 = right === null ? 0 : right[1];
    let pc = lc0; // last character of the item before item j
    let pl = ls0;
    let scanning = false;
    let db = b;
    let dj = j;
    const nblocks = blocks.length;
    let blk = blocks[b]!;
    for (;;) {
      if (j === blk.lens.length && b + 1 < nblocks) {
        b += 1;
        blk = blocks[b]!;
        j = 0;
        continue;
      }
      if (!scanning) {
        db = b;
        dj = j;
      }
      if (j === blk.lens.length || (j === ri && b === rb)) break;
      if (left === null && blk.lcs[j]! >= 0) {
        // Every item with a left origin is after ours (the start): skip to the next item
        // without one, or to the block's end.
        const stop = b === rb ? ri : blk.lens.length;
        let q = j;
        while (q < stop && blk.lcs[q] !== -1) q++;
        j = q;
        continue;
      }
      let oc = blk.lcs[j]!;
      const os = blk.lss[j]!;
      if (oc === lc0 && (oc < 0 || os === ls0)) {
        oc = blk.rcs[j]!;
        if (oc === rc0 && (oc < 0 || blk.rss[j] === rs0)) {
          if (lessByCodePoints(mine, names[blk.clients[j]!]!)) break;
          scanning = false;
        } else if (oc >= 0 && this._before(oc, blk.rss[j]!, rightPos)) {
          scanning = true;
        } else {
          scanning = false;
        }
      } else if ((oc !== pc || os !== pl) && (oc < 0 || this._before(oc, os, leftPos))) {
        break; // its left origin is before ours
      }
      pc = blk.clients[j]!;
      pl = blk.seqs[j]! + Math.abs(blk.lens[j]!) - 1;
      j += 1;
    }
    return [db, dj, right];
  }
}
