/**
 * The fields of a text state and the structure edits every kind of edit shares
 * (Python: `_fields`, `_blocks._BlockList`, `_id_index`, `_edit_records`).
 *
 * The document order is a list of {@link Block}s. Finding a position walks the block sizes
 * from a cursor (the block of the previous lookup and its starting position); blocks
 * made by `decodeState` are big and halved when a lookup lands in one. Splitting items
 * and blocks and merging tombstones happen exactly where Python does them, so the items
 * (and so `encodeState`) come out the same.
 *
 * Ids are found through the id index (Python `_id_index`): per client, its items' first
 * seqs sorted, with the block holding each; built on the first lookup, then kept up to
 * date by every structure edit, so pure local editing and decoding never pay for it.
 *
 * @module
 */

import type { ItemId } from "../ids.js";
import { InvalidValueError } from "../../errors.js";
import { Block, MAX_ITEMS, bisectRight, sameRight, codePoints } from "./block.js";
import { DeleteLog, type TextOp } from "./ops.js";

/** `(pos, deleted, inserted)`: replace `deleted` code points at `pos` by `inserted`. */
export type TextEditRecord = [pos: number, deleted: number, inserted: string];

/** Position of an item's character in the document order: block, item, offset. */
export type ItemPos = readonly [number, number, number];

/** The remote typing fast path's memory (see `TextBase._rtail`). */
export interface RemoteTail {
  /** Client of the item. */
  client: number;
  /** Next seq that would continue it. */
  next: number;
  /** Block holding the item. */
  blk: Block;
  /** Item index in the block. */
  i: number;
  /** Text offset of the item's end in the block. */
  off: number;
  /** The item's right origin. */
  right: ItemId | null;
}

/** The latest local op (see `TextBase._recent`). */
export interface RecentOp {
  /** Its client. */
  client: number;
  /** End of that client's previous text op. */
  prevEnd: number;
  /** First seq. */
  first: number;
  /** Last seq. */
  last: number;
  /** The ops. */
  ops: TextOp[];
}

/** One client's items sorted by first seq, with the block holding each (Python `_ClientIndex`). */
export class ClientIndex {
  /** First seq of each item, ascending. */
  starts: number[] = [];
  /** The block holding each item. */
  owners: Block[] = [];
}

/**
 * The shared fields and structure edits of a text state; {@link TextState} is the class
 * to use. Members starting with `_` are internal to this package.
 */
export class TextBase {
  /** @internal The document's client ids by client index; YATA breaks ties with them. */
  _clientIds: readonly string[];
  /** @internal The document order as blocks of items. */
  _blocks: Block[];
  /** @internal Visible length of the text, in code points. */
  _len = 0;
  /** @internal Cursor of the position index: block index. */
  _curB = 0;
  /** @internal Cursor of the position index: visible position where block `_curB` starts. */
  _curBpos = 0;
  /** @internal The id index, built on first use; null until then. */
  _index: Map<number, ClientIndex> | null = null;
  /** @internal Per client, its delete operations. */
  _dels = new Map<number, DeleteLog>();
  /** @internal Local typing fast path: the last local insert ended at this position (-1: not valid). */
  _tailPos = -1;
  /** @internal Local typing fast path: the seq that continues it. */
  _tailSeq = 0;
  /** @internal Local typing fast path: its client. */
  _tailClient = -1;
  /** @internal Local typing fast path: the block of the item. */
  _tailBlk: Block;
  /** @internal Local typing fast path: the item index. */
  _tailI = 0;
  /** @internal Local typing fast path: text offset of the item's end. */
  _tailOff = 0;
  /** @internal The latest local op, for `opsSince` right after it. */
  _recent: RecentOp | null = null;
  /** @internal Remote typing fast path; null: not valid. */
  _rtail: RemoteTail | null = null;
  /** @internal Edits of remote ops while recording; null: off. */
  _edits: TextEditRecord[] | null = null;

  /** @param clientIds - the document's client table (shared, by reference). */
  constructor(clientIds: readonly string[]) {
    this._clientIds = clientIds;
    this._blocks = [Block.empty(0)];
    this._tailBlk = this._blocks[0]!;
  }

  // ---------------------------------------------------------------- id lookups

  /** Is character `item` here (deleted or not)? Python `has_item`. */
  hasItem(item: ItemId): boolean {
    return this._find(item[0], item[1]) !== null;
  }

  /**
   * Are all characters `first .. first+count-1` of `client` here (deleted or not)?
   * `count < 0` means `first, first-1, ..., first-|count|+1`. Python `has_run`.
   */
  hasRun(client: number, first: number, count: number): boolean {
    if (count === 0) return false;
    let cur: number;
    let hi: number;
    if (count > 0) {
      cur = first;
      hi = first + count - 1;
    } else {
      cur = first + count + 1;
      hi = first;
    }
    while (cur <= hi) {
      const found = this._find(client, cur);
      if (found === null) return false;
      const [blk, i] = found;
      cur = blk.seqs[i]! + Math.abs(blk.lens[i]!);
    }
    return true;
  }

  /** @internal The id index, built now if it is not yet. */
  _ensureIndex(): Map<number, ClientIndex> {
    let index = this._index;
    if (index === null) {
      const lists = new Map<number, [number, Block][]>();
      for (const blk of this._blocks) {
        for (let i = 0; i < blk.clients.length; i++) {
          const c = blk.clients[i]!;
          let list = lists.get(c);
          if (list === undefined) {
            list = [];
            lists.set(c, list);
          }
          list.push([blk.seqs[i]!, blk]);
        }
      }
      index = new Map();
      for (const [c, list] of lists) {
        list.sort((x, y) => x[0] - y[0]);
        const ci = new ClientIndex();
        ci.starts = list.map((x) => x[0]);
        ci.owners = list.map((x) => x[1]);
        index.set(c, ci);
      }
      this._index = index;
    }
    return index;
  }

  /** @internal Add a new item's start to the id index (which must exist). */
  _indexAdd(client: number, seq: number, blk: Block): void {
    const index = this._index!;
    let ci = index.get(client);
    if (ci === undefined) {
      ci = new ClientIndex();
      index.set(client, ci);
    }
    const starts = ci.starts;
    if (!starts.length || starts[starts.length - 1]! < seq) {
      starts.push(seq);
      ci.owners.push(blk);
    } else {
      const q = bisectRight(starts, seq);
      starts.splice(q, 0, seq);
      ci.owners.splice(q, 0, blk);
    }
  }

  /** @internal The block and item index holding character `(client, seq)`, if any. */
  _find(client: number, seq: number): [Block, number] | null {
    const ci = this._ensureIndex().get(client);
    if (ci === undefined) return null;
    const q = bisectRight(ci.starts, seq) - 1;
    if (q < 0) return null;
    const blk = ci.owners[q]!;
    const start = ci.starts[q]!;
    const i = blk.find(client, start);
    if (seq >= start + Math.abs(blk.lens[i]!)) return null;
    return [blk, i];
  }

  /** @internal Is the highest-starting item of `client` the one starting at `start`? */
  _isLatestItem(client: number, start: number): boolean {
    const starts = this._ensureIndex().get(client)!.starts;
    return starts[starts.length - 1] === start;
  }

  /** @internal Is character `(client, seq)` (which exists) before position `pos`? */
  _before(client: number, seq: number, pos: ItemPos): boolean {
    const ci = this._ensureIndex().get(client)!;
    const q = bisectRight(ci.starts, seq) - 1;
    const blk = ci.owners[q]!;
    const b = blk.idx;
    if (b !== pos[0]) return b < pos[0]; // other blocks: no need to find the item
    const start = ci.starts[q]!;
    return cmpPos([b, blk.find(client, start), seq - start], pos) < 0;
  }

  /** @internal Throws InvalidValueError unless ids `(client, seq..seq+n-1)` are all new. */
  _checkNewIds(client: number, seq: number, n: number): void {
    if (seq < 0) throw new InvalidValueError(`negative seq ${seq}`);
    const ci = this._ensureIndex().get(client);
    if (ci === undefined) return;
    const q = bisectRight(ci.starts, seq + n - 1) - 1;
    if (q < 0) return;
    const start = ci.starts[q]!;
    const blk = ci.owners[q]!;
    const i = blk.find(client, start);
    if (start + Math.abs(blk.lens[i]!) > seq) {
      throw new InvalidValueError(`apply_insert: ids (${client}, ${seq})+${n} already exist`);
    }
  }

  // ---------------------------------------------------------------- positions

  /**
   * @internal Item holding visible char `p`: [block index, block start pos, item index,
   * visible offset of the item in its block]. Moves the cursor there.
   */
  _locate(p: number): [number, number, number, number] {
    const blocks = this._blocks;
    let b = this._curB;
    let bpos = this._curBpos;
    let blk: Block;
    if (p < bpos) {
      while (p < bpos) {
        b -= 1;
        bpos -= blocks[b]!.size;
      }
      blk = blocks[b]!;
    } else {
      blk = blocks[b]!;
      let end = bpos + blk.size;
      while (p >= end) {
        b += 1;
        bpos = end;
        blk = blocks[b]!;
        end += blk.size;
      }
    }
    this._curB = b;
    this._curBpos = bpos;
    if (blk.lens.length > MAX_ITEMS) {
      this._splitBlock(b);
      return this._locate(p);
    }
    let r = p - bpos;
    let ipos = 0;
    const lens = blk.lens;
    for (let i = 0; i < lens.length; i++) {
      const li = lens[i]!;
      if (li > 0) {
        if (r < li) return [b, bpos, i, ipos];
        r -= li;
        ipos += li;
      }
    }
    throw new Error("position index out of sync");
  }

  /** @internal Visible position where block `b` starts; moves the cursor there. */
  _blockStart(b: number): number {
    const blocks = this._blocks;
    let cb = this._curB;
    let bpos = this._curBpos;
    while (cb > b) {
      cb -= 1;
      bpos -= blocks[cb]!.size;
    }
    while (cb < b) {
      bpos += blocks[cb]!.size;
      cb += 1;
    }
    this._curB = cb;
    this._curBpos = bpos;
    return bpos;
  }

  /** @internal Item `j` of block `b`, or the first item after that block's end (if any). */
  _itemAt(b: number, j: number): [Block, number] | null {
    const blocks = this._blocks;
    let blk = blocks[b]!;
    while (j >= blk.lens.length) {
      b += 1;
      if (b === blocks.length) return null;
      blk = blocks[b]!;
      j = 0;
    }
    return [blk, j];
  }

  /** @internal Id of the first character after item `i` of block `b`. */
  _nextId(b: number, i: number): ItemId | null {
    const blocks = this._blocks;
    let blk = blocks[b]!;
    if (i + 1 < blk.lens.length) return [blk.clients[i + 1]!, blk.seqs[i + 1]!];
    for (let b2 = b + 1; b2 < blocks.length; b2++) {
      blk = blocks[b2]!;
      if (blk.lens.length) return [blk.clients[0]!, blk.seqs[0]!];
    }
    return null;
  }

  /** @internal Block `blk` and the text grew by `delta`. */
  _resize(blk: Block, delta: number): void {
    blk.size += delta;
    this._len += delta;
    if (blk.idx < this._curB) this._curBpos += delta;
  }

  // ---------------------------------------------------------------- splitting and merging

  /** @internal Split item `i` of `blk` after its first `k` characters (0 < k < length). */
  _split(blk: Block, i: number, k: number): void {
    const c = blk.clients[i]!;
    const s = blk.seqs[i]!;
    const li = blk.lens[i]!;
    let rest: number;
    if (li > 0) {
      blk.lens[i] = k;
      rest = li - k;
    } else {
      blk.lens[i] = -k;
      rest = li + k;
    }
    blk.insertItem(i + 1, c, s + k, rest, c, s + k - 1, blk.rcs[i]!, blk.rss[i]!);
    if (this._index !== null) this._indexAdd(c, s + k, blk);
  }

  /**
   * @internal Mark chars `k..k+d-1` of visible item `i` deleted (text already updated);
   * returns the index of the item after them.
   */
  _deleteInItem(blk: Block, i: number, k: number, d: number): number {
    const lens = blk.lens;
    let li = lens[i]!;
    const j = i + 1;
    const n = lens.length;
    const c = blk.clients[i]!;
    const s = blk.seqs[i]!;
    if (
      // Backspace: the tail of this item joins the deleted run that continues it.
      k &&
      k + d === li &&
      j < n &&
      lens[j]! < 0 &&
      blk.clients[j] === c &&
      blk.seqs[j] === s + li &&
      blk.lcs[j] === c &&
      blk.lss[j] === s + li - 1 &&
      sameRight(blk, i, j)
    ) {
      lens[i] = k;
      const ns = s + k;
      blk.seqs[j] = ns;
      lens[j] = lens[j]! - d;
      blk.lss[j] = ns - 1;
      if (this._index !== null) {
        const ci = this._index.get(c)!;
        ci.starts[bisectRight(ci.starts, s + li) - 1] = ns;
      }
      return j;
    }
    const h = i - 1;
    if (
      // Forward delete: the head of this item joins the deleted run it continues.
      !k &&
      d < li &&
      i &&
      lens[h]! < 0 &&
      blk.clients[h] === c &&
      blk.seqs[h]! - lens[h]! === s &&
      blk.lcs[i] === c &&
      blk.lss[i] === s - 1 &&
      sameRight(blk, h, i)
    ) {
      lens[h] = lens[h]! - d;
      const ns = s + d;
      blk.seqs[i] = ns;
      lens[i] = li - d;
      blk.lss[i] = ns - 1;
      if (this._index !== null) {
        const ci = this._index.get(c)!;
        ci.starts[bisectRight(ci.starts, s) - 1] = ns;
      }
      return i;
    }
    if (k) {
      this._split(blk, i, k);
      i += 1;
      li -= k;
    }
    if (d < li) this._split(blk, i, d);
    lens[i] = -d;
    if (i + 1 < lens.length && mergeable(blk, i)) this._merge(blk, i);
    if (i && mergeable(blk, i - 1)) {
      this._merge(blk, i - 1);
      i -= 1;
    }
    return i + 1;
  }

  /** @internal Append deleted item `i + 1` of `blk` to deleted item `i`. */
  _merge(blk: Block, i: number): void {
    const j = i + 1;
    blk.lens[i] = blk.lens[i]! + blk.lens[j]!;
    if (this._index !== null) {
      const ci = this._index.get(blk.clients[j]!)!;
      const q = bisectRight(ci.starts, blk.seqs[j]!) - 1;
      ci.starts.splice(q, 1);
      ci.owners.splice(q, 1);
    }
    blk.removeItem(j);
  }

  /** @internal Split block `b` in two halves; returns the number of items left in `b`. */
  _splitBlock(b: number): number {
    const blocks = this._blocks;
    const blk = blocks[b]!;
    let n = blk.lens.length;
    if (n < 2) {
      if (!(blk.size >= 2)) return 0;
      this._split(blk, 0, blk.size >> 1); // one long visible item: cut it in two
      n = 2;
    }
    const h = n >> 1;
    const voff = blk.visibleOffset(h);
    const text = blk.text;
    const nb = new Block(
      b + 1,
      blk.clients.slice(h),
      blk.seqs.slice(h),
      blk.lens.slice(h),
      blk.lcs.slice(h),
      blk.lss.slice(h),
      blk.rcs.slice(h),
      blk.rss.slice(h),
      text.slice(voff),
      blk.size - voff,
    );
    blk.clients.length = h;
    blk.seqs.length = h;
    blk.lens.length = h;
    blk.lcs.length = h;
    blk.lss.length = h;
    blk.rcs.length = h;
    blk.rss.length = h;
    blk.text = text.slice(0, voff);
    blk.size = voff;
    blocks.splice(b + 1, 0, nb);
    for (let b2 = b + 2; b2 < blocks.length; b2++) blocks[b2]!.idx = b2;
    if (this._curB > b) this._curB += 1;
    const index = this._index;
    if (index !== null) {
      for (let q = 0; q < nb.clients.length; q++) {
        const ci = index.get(nb.clients[q]!)!;
        ci.owners[bisectRight(ci.starts, nb.seqs[q]!) - 1] = nb;
      }
    }
    return h;
  }

  // ---------------------------------------------------------------- history helpers

  /** @internal Remember the latest local op (for `opsSince`). */
  _remember(client: number, first: number, last: number, ops: TextOp[]): void {
    const recent = this._recent;
    if (recent !== null && recent.client === client && recent.last < first) {
      this._recent = { client, prevEnd: recent.last, first, last, ops };
    } else {
      this._recent = { client, prevEnd: first - 1, first, last, ops };
    }
  }

  /** @internal The delete log of `client`, made if needed. */
  _delLog(client: number): DeleteLog {
    let log = this._dels.get(client);
    if (log === undefined) {
      log = new DeleteLog();
      this._dels.set(client, log);
    }
    return log;
  }

  // ---------------------------------------------------------------- edit records

  /**
   * Start recording the visible edits `applyInsert` and `applyDelete` make, for
   * {@link TextBase.takeEdits}. Python `record_edits`.
   */
  recordEdits(): void {
    this._edits = [];
  }

  /**
   * The edits recorded since {@link TextBase.recordEdits}, and stop recording. Each is
   * `[pos, deleted, inserted]` (code points), positions counted in the text as the edits
   * before it left it; consecutive edits that continue each other come out as one.
   * Python `take_edits`.
   */
  takeEdits(): TextEditRecord[] {
    const edits = this._edits ?? [];
    this._edits = null;
    return edits;
  }

  /** @internal Note one visible edit. */
  _record(pos: number, deleted: number, inserted: string): void {
    const edits = this._edits!;
    const last = edits[edits.length - 1];
    if (last !== undefined) {
      const [p, d, ins] = last;
      if (!inserted && !ins && p === pos) {
        edits[edits.length - 1] = [p, d + deleted, ""];
        return;
      }
      if (!deleted && !d && p + codePoints(ins).length === pos) {
        edits[edits.length - 1] = [p, 0, ins + inserted];
        return;
      }
    }
    edits.push([pos, deleted, inserted]);
  }
}

/** Compares two item positions `[block, item, offset]` lexicographically. */
export function cmpPos(a: ItemPos, b: ItemPos): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** Can deleted item `i + 1` be appended to deleted item `i`? */
function mergeable(blk: Block, i: number): boolean {
  const lens = blk.lens;
  const a = lens[i]!;
  const j = i + 1;
  if (a >= 0 || lens[j]! >= 0) return false;
  const c = blk.clients[i]!;
  const end = blk.seqs[i]! - a;
  return (
    blk.clients[j] === c &&
    blk.seqs[j] === end &&
    blk.lcs[j] === c &&
    blk.lss[j] === end - 1 &&
    sameRight(blk, i, j)
  );
}

