/**
 * The SyncKit sync protocol, client side, without I/O: {@link ClientSession} turns protocol
 * events into frame bytes and back and enforces what may be sent when; the HTTP exchange
 * builds and reads `POST /v1/docs/{id}/sync` bodies. See `docs/protocol.md`.
 *
 * @module
 */
export * from "./events.js";
export * from "./frames.js";
export * from "./state.js";
export * from "./session.js";
export * from "./http.js";
