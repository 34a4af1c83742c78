/**
 * Collaborative text: a YATA sequence CRDT over run-length-encoded items, ported from the
 * Python core's `synckit.core._text` (see README.md in this folder).
 *
 * @module
 */

export { TextState } from "./state.js";
export { History, type Checkpoint } from "./loadChecks.js";
export type { InsertOp, DeleteOp, TextOp } from "./ops.js";
export type { EncodedState } from "./codec.js";
export type { TextEditRecord } from "./base.js";
export { DEFLATE_FROM, DEFLATE_LEVEL, deflateContent, inflateContent } from "./deflate.js";
