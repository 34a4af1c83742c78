/**
 * SyncKit's TypeScript client.
 *
 * The document model and the wire format are those of the Python package (`synckit.core`,
 * `proto/synckit/v1/*.proto`); the generated protobuf codecs (`scripts/protogen.ts`) are re-exported
 * for callers that speak the protocol themselves.
 */
export * as changesProto from "./gen/synckit/v1/changes.js";
export * as protocolProto from "./gen/synckit/v1/protocol.js";
export * from "./errors.js";
export * from "./protocol/index.js";
export { connect, SyncClient } from "./client/client.js";
export type {
  ClientOptions, DeletedCallback, ErrorCallback, RejectedCallback, StatusCallback, TokenSource,
  Transport,
} from "./client/client.js";
export type { SyncedDocument } from "./client/document.js";
export { closeDocument, DocumentAdapter, openDocument, restoreDocument, type OpenOptions } from "./client/bind.js";
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
export { Document, type Clock, type DocumentOptions } from "./core/document.js";
export { Counter } from "./core/counter.js";
export { ORSet } from "./core/orset.js";
export { List } from "./core/list.js";
export { SyncMap } from "./core/map.js";
export { Text } from "./core/textHandle.js";
export { Cursor, type Bind } from "./core/cursor.js";
export { ChangeReview, type ChangeSummary, type Equivocation, type Screen } from "./core/screen.js";
export { VersionVector, type Ordering } from "./core/version.js";
export { TextEdit, type ChangeEvent, type Path, type Subscriber, type Unsubscribe } from "./core/events.js";
export type { JSONScalar, JSONValue } from "./core/values.js";
export * from "./core/text/index.js";
