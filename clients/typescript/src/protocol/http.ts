/**
 * The HTTP sync exchange, client side (a port of the client half of
 * `synckit.protocol._http`).
 *
 * `POST /v1/docs/{docId}/sync` carries one `HttpSyncRequest` (the client's version before its
 * changes, and the changes) and gets one answer: an `HttpSyncResponse` (status 200) or an
 * `Error` (any other status). The server plays the request as a short WebSocket session, so
 * the same rules hold on both transports.
 *
 * @module
 */
import { ErrorCode, decodeError, decodeHttpSyncResponse, encodeHttpSyncRequest } from "../gen/synckit/v1/protocol.js";
import { PROTOCOL_VERSION, errorEvent, type ErrorEvent } from "./events.js";

/** The media type of HTTP sync requests and of every answer a SyncKit server gives them. */
export const HTTP_MEDIA_TYPE = "application/x-protobuf";

/** What a client sends in `POST /v1/docs/{docId}/sync`. */
export interface HttpSyncRequest {
  readonly clientId: string;
  readonly token?: string;
  /** The client's encoded version vector before `changes`. */
  readonly version?: Uint8Array;
  /** A change set for the server (may be empty). */
  readonly changes?: Uint8Array;
  readonly protocolVersion?: number;
}

/** The server's answer to a request that succeeded. */
export interface HttpSyncAnswer {
  readonly type: "httpAnswer";
  /** What the server held beyond the request's version when the request arrived. */
  readonly changes: Uint8Array;
  /** The server's version once the request's changes were committed. */
  readonly serverVersion: Uint8Array;
}

/** The body of an HTTP sync request. */
export function encodeHttpRequest(request: HttpSyncRequest): Uint8Array {
  return encodeHttpSyncRequest({
    protocolVersion: request.protocolVersion ?? PROTOCOL_VERSION,
    clientId: request.clientId,
    token: request.token ?? "",
    version: request.version ?? new Uint8Array(),
    changes: request.changes ?? new Uint8Array(),
  });
}

/**
 * Read an answer from a SyncKit server. `ok`: the transport said the request succeeded
 * (HTTP 200). Returns the answer, the server's error (always fatal: the short session ended),
 * or `null` when the bytes are not a SyncKit answer of that kind (garbage, or an error page
 * from something else on the way).
 */
export function decodeHttpAnswer(body: Uint8Array, ok: boolean): HttpSyncAnswer | ErrorEvent | null {
  if (ok) {
    try {
      const answer = decodeHttpSyncResponse(body);
      return { type: "httpAnswer", changes: answer.changes, serverVersion: answer.serverVersion };
    } catch {
      return null;
    }
  }
  let message;
  try {
    message = decodeError(body);
  } catch {
    return null;
  }
  if (message.code === ErrorCode.UNSPECIFIED) return null;
  // A newer server's code: keep the message.
  const code = ErrorCode[message.code] === undefined ? ErrorCode.UNSPECIFIED : message.code;
  return errorEvent(code, message.message, {
    retryable: message.retryable,
    fatal: true,
    docId: message.docId,
    retryAfterMs: message.retryAfterMs <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(message.retryAfterMs) : 0,
  });
}
