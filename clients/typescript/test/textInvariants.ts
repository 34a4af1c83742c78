/** Internal invariants of a TextState, for the tests. */
import assert from "node:assert/strict";
import type { TextState } from "../src/core/text/index.js";
import type { ClientIndex } from "../src/core/text/base.js";

/** The id index (if built) equals one built afresh, block for block; block indexes and sizes are right. */
export function checkInvariants(st: TextState): void {
  let len = 0;
  st._blocks.forEach((blk, b) => {
    assert.equal(blk.idx, b, "block idx");
    assert.equal(blk.size, blk.text.length, "block size");
    assert.equal(blk.size, blk.lens.reduce((s, l) => s + Math.max(l, 0), 0), "block visible length");
    len += blk.size;
  });
  assert.equal(st.length, len, "text length");
  const kept: Map<number, ClientIndex> | null = st._index;
  if (kept === null) return;
  st._index = null;
  const fresh = st._ensureIndex();
  st._index = kept;
  assert.deepEqual([...kept.keys()].sort(), [...fresh.keys()].sort(), "index clients");
  for (const [c, ci] of fresh) {
    const k: ClientIndex = kept.get(c)!;
    assert.deepEqual(k.starts, ci.starts, `index starts of client ${c}`);
    assert.ok(k.owners.every((o, q) => o === ci.owners[q]), `index owners of client ${c}`);
  }
}
