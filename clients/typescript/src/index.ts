/**
 * SyncKit's TypeScript client.
 *
 * The document model and the wire format are those of the Python package (`synckit.core`,
 * `proto/synckit/v1/*.proto`); the generated protobuf messages are re-exported for callers
 * that speak the protocol themselves.
 */
export * as changesProto from "./gen/synckit/v1/changes_pb.js";
export * as protocolProto from "./gen/synckit/v1/protocol_pb.js";
export * from "./core/text/index.js";
