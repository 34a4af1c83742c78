/**
 * SyncKit's TypeScript client.
 *
 * The document model and the wire format are those of the Python package (`synckit.core`,
 * `proto/synckit/v1/*.proto`); the generated protobuf messages are re-exported for callers
 * that speak the protocol themselves.
 */
export * as changesProto from "./gen/synckit/v1/changes_pb.js";
export * as protocolProto from "./gen/synckit/v1/protocol_pb.js";
export * from "./errors.js";
export * from "./protocol/index.js";
export { connect, SyncClient } from "./client/client.js";
export type {
  ClientOptions, DeletedCallback, ErrorCallback, RejectedCallback, StatusCallback, TokenSource,
  Transport,
} from "./client/client.js";
export type { SyncedDocument } from "./client/document.js";
export { MemoryStore } from "./client/store.js";
export type { OfflineStore, StoredDocument } from "./client/store.js";
export { IndexedDBStore } from "./client/indexeddb.js";
export { PresenceHandle } from "./client/presence.js";
export type { PeerPresence, PresenceCallback, PresenceChange, PresenceState } from "./client/presence.js";
export { SyncEngine } from "./client/engine.js";
export type { HttpOutcome } from "./client/engine.js";
export type { Deletion } from "./client/replicas.js";
export { syncUrl, httpSyncUrl, httpDocUrl } from "./client/url.js";
export { decodeVersion, encodeVersion } from "./client/version.js";
export type { VersionMap } from "./client/version.js";
