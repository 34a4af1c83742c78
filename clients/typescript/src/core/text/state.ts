/**
 * {@link TextState}: one collaborative text; reading it, local edits, remote deletes, the
 * snapshot calls (Python: `synckit.core._text._state`).
 *
 * Local typing fast path: the last local insert remembers where it ended (block, item,
 * text offset); the next insert at that position with the next seq grows the item.
 *
 * @module
 */

import type { ItemId } from "../ids.js";
import { InvalidValueError, PositionError } from "../../errors.js";
import { MAX_ITEMS, MAX_TEXT, codePoints, spliceIn } from "./block.js";
import { Integration } from "./yata.js";
import { opRuns, opsSince } from "./history.js";
import type { TextOp } from "./ops.js";
import { decodeState, encodeState, type EncodedState } from "./codec.js";
import type { History } from "./loadChecks.js";

/**
 * The state of one collaborative text: a YATA sequence CRDT over run-length-encoded items
 * (see this package's README). Clients are indexes into the document's client table;
 * positions and lengths are in code points.
 */
export class TextState extends Integration {
  /** Visible length in code points (Python `len(state)`). */
  get length(): number {
    return this._len;
  }

  /** The visible text (Python `str(state)`). */
  override toString(): string {
    let out = "";
    for (const blk of this._blocks) out += blk.text.join("");
    return out;
  }

  /** Id of the visible character at `pos` (0 <= pos < length); PositionError otherwise. Python `char_id`. */
  charId(pos: number): ItemId {
    if (!(pos >= 0 && pos < this._len)) {
      throw new PositionError(`no character at ${pos} in a text of length ${this._len}`);
    }
    const [b, bpos, i, ipos] = this._locate(pos);
    const blk = this._blocks[b]!;
    return [blk.clients[i]!, blk.seqs[i]! + (pos - bpos - ipos)];
  }

  /**
   * Where character `(client, seq)` is: `[visible characters before it, whether it is
   * visible itself]`; null if it is not here. Python `char_position`.
   */
  charPosition(client: number, seq: number): [number, boolean] | null {
    const found = this._find(client, seq);
    if (found === null) return null;
    const [blk, i] = found;
    const before = this._blockStart(blk.idx) + blk.visibleOffset(i);
    if (blk.lens[i]! > 0) return [before + (seq - blk.seqs[i]!), true];
    return [before, false];
  }

  /**
   * Insert `content` at code point `pos` as client `client` (index) with first seq `seq`;
   * returns its origins `[left, right]`. Python `local_insert`.
   */
  localInsert(client: number, seq: number, pos: number, content: string): [ItemId | null, ItemId | null] {
    const cps = codePoints(content);
    const n = cps.length;
    let left: ItemId | null;
    let right: ItemId | null;
    if (pos === this._tailPos && seq === this._tailSeq && client === this._tailClient && n) {
      // Typing on: grow the item the previous local insert ended.
      const blk = this._tailBlk;
      const i = this._tailI;
      const off = this._tailOff;
      blk.lens[i] = blk.lens[i]! + n;
      blk.text = spliceIn(blk.text, off, cps);
      blk.size += n;
      this._len += n;
      if (blk.idx < this._curB) this._curBpos += n;
      this._tailPos = blk.size <= MAX_TEXT ? pos + n : -1; // big: split on the next one
      this._tailSeq = seq + n;
      this._tailOff = off + n;
      this._rtail = null;
      const rc = blk.rcs[i]!;
      left = [client, seq - 1];
      right = rc < 0 ? null : [rc, blk.rss[i]!];
      this._remember(client, seq, seq + n - 1, [["i", seq, left, right, content]]);
      return [left, right];
    }
    if (!n) throw new InvalidValueError("local_insert: empty content");
    if (pos < 0 || pos > this._len) {
      throw new PositionError(`insert position ${pos} out of range 0..${this._len}`);
    }
    this._rtail = null;
    const blocks = this._blocks;
    let b: number;
    let blk;
    let j: number;
    let off: number;
    let extend: boolean;
    if (pos === 0) {
      b = 0;
      blk = blocks[0]!;
      this._curB = 0;
      this._curBpos = 0;
      left = null;
      right = blk.lens.length ? [blk.clients[0]!, blk.seqs[0]!] : null;
      j = 0;
      off = 0;
      extend = false;
    } else {
      let bpos: number;
      let i: number;
      let ipos: number;
      [b, bpos, i, ipos] = this._locate(pos - 1);
      blk = blocks[b]!;
      const ci = blk.clients[i]!;
      const si = blk.seqs[i]!;
      const li = blk.lens[i]!;
      const k = pos - 1 - bpos - ipos;
      left = [ci, si + k];
      off = ipos + k + 1;
      if (k < li - 1) {
        this._split(blk, i, k + 1);
        right = [ci, si + k + 1];
        extend = false;
      } else {
        right = this._nextId(b, i);
        extend = ci === client && si + li === seq;
        if (extend) {
          const rc = blk.rcs[i]!;
          extend = right === null ? rc < 0 : rc === right[0] && blk.rss[i] === right[1];
        }
      }
      j = i + 1;
    }
    let tailI: number;
    if (extend) {
      blk.lens[j - 1] = blk.lens[j - 1]! + n;
      tailI = j - 1;
    } else {
      const rc = right === null ? -1 : right[0];
      const rs = right === null ? 0 : right[1];
      if (left === null) blk.insertItem(j, client, seq, n, -1, 0, rc, rs);
      else blk.insertItem(j, client, seq, n, left[0], left[1], rc, rs);
      if (this._index !== null) this._indexAdd(client, seq, blk);
      tailI = j;
    }
    blk.text = spliceIn(blk.text, off, cps);
    blk.size += n;
    this._len += n;
    off += n;
    if (blk.lens.length > MAX_ITEMS || blk.size > MAX_TEXT) {
      if (blk.lens.length === 1) tailI = 1; // _splitBlock cuts the lone item: the tail is its second half
      const mid = this._splitBlock(b);
      if (mid && tailI >= mid) {
        tailI -= mid;
        off -= blk.size;
        blk = blocks[b + 1]!;
        this._curB = b + 1;
        this._curBpos += blocks[b]!.size;
      }
    }
    this._tailPos = pos + n;
    this._tailSeq = seq + n;
    this._tailClient = client;
    this._remember(client, seq, seq + n - 1, [["i", seq, left, right, content]]);
    this._tailBlk = blk;
    this._tailI = tailI;
    this._tailOff = off;
    return [left, right];
  }

  /**
   * Delete `length` code points from `pos` as client `client` with first seq `seq`;
   * returns the deleted runs `[targetClient, targetFirst, count]` in text order (the ops
   * take seqs `seq, seq+count0, ...`). Python `local_delete`.
   */
  localDelete(client: number, seq: number, pos: number, length: number): [number, number, number][] {
    if (length < 1) throw new InvalidValueError(`delete length must be >= 1, got ${length}`);
    if (pos < 0 || pos + length > this._len) {
      throw new PositionError(`delete range ${pos}..${pos + length} out of range 0..${this._len}`);
    }
    this._tailPos = -1;
    this._rtail = null;
    let [b, bpos, i, off] = this._locate(pos);
    const firstB = b;
    const blocks = this._blocks;
    let blk = blocks[b]!;
    let k = pos - bpos - off;
    let remaining = length;
    const runs: [number, number, number][] = [];
    for (;;) {
      const li = blk.lens[i]!;
      if (li > 0) {
        const d = Math.min(li - k, remaining);
        const c = blk.clients[i]!;
        const s = blk.seqs[i]! + k;
        const last = runs[runs.length - 1];
        if (last !== undefined && last[0] === c && last[1] + last[2] === s) last[2] += d;
        else runs.push([c, s, d]);
        const o = off + k;
        blk.text.splice(o, d);
        blk.size -= d;
        i = this._deleteInItem(blk, i, k, d);
        off = o;
        k = 0;
        remaining -= d;
        if (!remaining) break;
      } else {
        i += 1;
      }
      if (i >= blk.lens.length) {
        b += 1;
        blk = blocks[b]!;
        i = 0;
        off = 0;
      }
    }
    this._len -= length;
    if (blk.lens.length > MAX_ITEMS) this._splitBlock(b);
    if (firstB !== b && blocks[firstB]!.lens.length > MAX_ITEMS) this._splitBlock(firstB);
    const log = this._delLog(client);
    const first = seq;
    const ops: TextOp[] = [];
    for (const [c, f, cnt] of runs) {
      log.add(seq, c, f, cnt);
      ops.push(["d", seq, c, f, cnt]);
      seq += cnt;
    }
    this._remember(client, first, seq - 1, ops);
    return runs;
  }

  /**
   * Apply a remote delete by `client` with seq `seq` of `targetClient`'s characters
   * `targetFirst, ...` (`count` signed: < 0 is a backspace run). Throws InvalidValueError
   * (the text stays as it was) if a target is unknown. `checked`: the caller has already
   * made sure every target exists. Python `apply_delete`.
   */
  applyDelete(client: number, seq: number, targetClient: number, targetFirst: number, count: number, checked = false): void {
    if (count === 0) throw new InvalidValueError("apply_delete: count must not be 0");
    this._tailPos = -1;
    this._recent = null;
    this._rtail = null;
    if (!checked && !this.hasRun(targetClient, targetFirst, count)) {
      throw new InvalidValueError(`apply_delete: unknown target in (${targetClient}, ${targetFirst}) x ${count}`);
    }
    let lo: number;
    let hi: number;
    if (count > 0) {
      lo = targetFirst;
      hi = targetFirst + count - 1;
    } else {
      lo = targetFirst + count + 1;
      hi = targetFirst;
    }
    let cur = lo;
    while (cur <= hi) {
      const [blk, i] = this._find(targetClient, cur)!;
      const s = blk.seqs[i]!;
      const li = blk.lens[i]!;
      if (li > 0) {
        const k = cur - s;
        const end = Math.min(hi + 1, s + li);
        const d = end - cur;
        const o = blk.visibleOffset(i) + k;
        if (this._edits !== null) this._record(this._blockStart(blk.idx) + o, d, "");
        blk.text.splice(o, d);
        this._resize(blk, -d);
        this._deleteInItem(blk, i, k, d);
        if (blk.lens.length > MAX_ITEMS) this._splitBlock(blk.idx);
        cur = end;
      } else {
        cur = s - li;
      }
    }
    this._delLog(client).add(seq, targetClient, targetFirst, count);
  }

  /** Client `client`'s text operations with a seq above `after`, in seq order. Python `ops_since`. */
  opsSince(client: number, after: number): TextOp[] {
    return opsSince(this, client, after);
  }

  /** Per client, the seq range of each of its items and delete runs here (see {@link opRuns}). */
  opRuns(): Map<number, [number, number][]> {
    return opRuns(this);
  }

  /**
   * `{ ints, content, deletes }`: the items, the visible text, the delete log as int
   * columns (format 2, the same ints as Python's `encode_state`). Python `encode_state`.
   */
  encodeState(): EncodedState {
    return encodeState(this._blocks, this._dels, this.toString());
  }

  /**
   * The state {@link TextState.encodeState} wrote, after checking everything a hostile
   * input could break; throws InvalidValueError naming the problem (nothing is made).
   * `ints`/`deletes` may be numbers or bigints (as protobuf-es gives `sint64`). With
   * `history`, the items and deletes must also fit the document's version and
   * dependencies. Python `TextState.decode_state`.
   */
  static decodeState(
    clientIds: readonly string[],
    ints: ReadonlyArray<number | bigint>,
    content: string,
    deletes: ReadonlyArray<number | bigint>,
    history: History | null = null,
  ): TextState {
    const [blocks, dels, len] = decodeState(clientIds, ints, content, deletes, history);
    const self = new TextState(clientIds);
    self._dels = dels;
    if (blocks.length) {
      self._blocks = blocks;
      self._tailBlk = blocks[0]!;
      self._len = len;
    }
    return self;
  }
}
