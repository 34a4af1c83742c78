/**
 * Comparing snapshots: byte for byte, except the DEFLATE bytes of long texts, which come
 * from another implementation (fflate) than Python's zlib and may differ while holding the
 * same text.
 */
import { unzlibSync } from "fflate";
import { changesProto } from "../../src/index.js";

/** A snapshot with every deflated text inflated into `content`, and no checksum. */
export function inflated(snapshot: Uint8Array): string {
  const snap = changesProto.decodeSnapshot(snapshot);
  for (const ts of snap.texts) {
    if (ts.contentDeflate.length) {
      ts.content = new TextDecoder().decode(unzlibSync(ts.contentDeflate));
      ts.contentDeflate = new Uint8Array(0);
    }
  }
  snap.checksum = 0;
  return Buffer.from(changesProto.encodeSnapshot(snap)).toString("hex");
}

/** Whether a snapshot deflates any text. */
export function deflates(snapshot: Uint8Array): boolean {
  return changesProto.decodeSnapshot(snapshot).texts.some((t) => t.contentDeflate.length > 0);
}
