/**
 * The sync engine: the WebSocket logic of {@link SessionSync} plus the HTTP fallback (a port of
 * `synckit.client._http_sync`): one document per `POST /v1/docs/{docId}/sync`, without I/O:
 *
 * ```ts
 * const body = engine.httpRequest(docId);   // POST it; then, with the answer:
 * const outcome = engine.receiveHttp(docId, ok, answerBody, contentType);
 * // or, when no answer came (refused, reset, timed out):
 * engine.httpFailed(docId);
 * // outcome "again": build and send the next request for docId at once
 * ```
 *
 * @module
 */
import { LocalProtocolError, ProtocolError } from "../errors.js";
import { ErrorCode, errorEvent, errorCodeName, errorToException, type ErrorEvent } from "../protocol/events.js";
import { HTTP_MEDIA_TYPE, decodeHttpAnswer, encodeHttpRequest, type HttpSyncAnswer } from "../protocol/http.js";
import { isTerminal, type Replica } from "./replicas.js";
import { SessionSync } from "./session-sync.js";
import { decodeVersion, encodeVersion, seqOf, type VersionMap } from "./version.js";

/**
 * What {@link SyncEngine.receiveHttp} made of an answer: `"done"` (the server holds what it was
 * sent), `"again"` (send the next request for the document at once), `"refused"` (the error
 * is recorded for the document, or as the terminal error), `"unreachable"` (not a SyncKit
 * answer, or the server is shutting down: back off as after a network failure).
 */
export type HttpOutcome = "done" | "again" | "refused" | "unreachable";

/** The engine every transport of the client drives. */
export class SyncEngine extends SessionSync {
  /**
   * The body of the next `POST /v1/docs/{docId}/sync`. While the server's version is unknown
   * it carries only the document's version; after that exactly the edits the server lacks
   * (with `version` the document's version without them), or none. Nothing is pushed while a
   * non-retryable error about the document stands.
   *
   * @throws LocalProtocolError: `docId` is not open, a request for it is already out, or a
   *   WebSocket session is active.
   */
  httpRequest(docId: string): Uint8Array {
    if (this.session !== null) {
      throw new LocalProtocolError("a WebSocket session is active: sync over it, not HTTP");
    }
    const rep = this.replicas.get(docId);
    if (rep === undefined) throw new LocalProtocolError(`document '${docId}' is not open`);
    if (rep.httpPending) throw new LocalProtocolError(`an HTTP sync request for '${docId}' is already out`);
    const me = this.actorId;
    const version = this.versionOf(rep.doc);
    let since: VersionMap = version;
    let changes: Uint8Array = new Uint8Array();
    let reached = 0;
    const server = this.server(rep);
    const blocked = rep.error !== null && !rep.error.retryable;
    if (server !== null && !blocked && Math.max(seqOf(server, me), rep.stored) < seqOf(version, me)) {
      since = this.ownSince(version, server);
      // A backlog of more operations than a push may hold goes in parts, one a round.
      [changes, reached] = this.ownPart(rep.doc, version, since, 0);
    }
    let body = this.httpBody(since, changes);
    const limit = this.maxFrameBytes;
    if (changes.length && limit && body.length > limit) {
      rep.error = errorEvent(ErrorCode.FRAME_TOO_LARGE,
        `unsent edits of '${docId}' take ${changes.length} bytes, more than the frame limit of ${limit}`,
        { docId });
      changes = new Uint8Array();
      body = this.httpBody(version, changes);
      reached = 0;
    }
    rep.httpPending = true;
    rep.httpPushed = changes.length;
    rep.httpSeqs = changes.length ? reached - seqOf(since, me) : 0;
    rep.httpMine = reached;
    return body;
  }

  private httpBody(version: VersionMap, changes: Uint8Array): Uint8Array {
    return encodeHttpRequest({ clientId: this.actorId, token: this.token, version: encodeVersion(version), changes });
  }

  /**
   * Take the answer to the request {@link httpRequest} made for `docId`. `ok`: HTTP 200;
   * `contentType`: the answer's, when known (anything but `application/x-protobuf` is not
   * from a SyncKit server and counts as a network failure).
   *
   * @throws LocalProtocolError: no request for `docId` is out.
   */
  receiveHttp(docId: string, ok: boolean, body: Uint8Array, contentType?: string | null): HttpOutcome {
    const rep = this.replicas.get(docId);
    if (rep === undefined) return "done";
    if (!rep.httpPending) throw new LocalProtocolError(`no HTTP sync request for '${docId}' is out`);
    rep.httpPending = false;
    const kind = ok ? "success" : "error";
    if (contentType !== undefined && contentType !== null) {
      const mediaType = (contentType.split(";", 1)[0] ?? "").trim().toLowerCase();
      if (mediaType !== HTTP_MEDIA_TYPE) {
        return this.unreachable(docId, `${kind} answer of type '${mediaType}' is not from SyncKit`);
      }
    }
    const answer = decodeHttpAnswer(body, ok);
    if (answer === null) return this.unreachable(docId, `the ${kind} answer for '${docId}' is not SyncKit's`);
    if (answer.type === "httpAnswer") return this.httpSynced(docId, rep, answer);
    return this.httpRefused(docId, rep, answer);
  }

  /**
   * No answer came to the request for `docId` (refused, reset, timed out): the server's
   * version is forgotten and errors about the document cleared. Back off before the next one.
   */
  httpFailed(docId: string, reason = ""): void {
    if (reason) this.lastError = errorEvent(ErrorCode.UNSPECIFIED, reason);
    const rep = this.replicas.get(docId);
    if (rep === undefined) return;
    rep.httpPending = false;
    rep.serverRaw = null;
    rep.error = null;
    rep.stored = 0;
  }

  private unreachable(docId: string, reason: string): HttpOutcome {
    this.httpFailed(docId, reason);
    return "unreachable";
  }

  private httpSynced(docId: string, rep: Replica, answer: HttpSyncAnswer): HttpOutcome {
    const raw = answer.serverVersion;
    let server: VersionMap;
    try {
      server = decodeVersion(raw);
    } catch (exc) {
      return this.unreachable(docId, `the answer for '${docId}' does not decode: ${String(exc)}`);
    }
    this.checkRolledBack(docId, rep, seqOf(this.versionOf(rep.doc), this.actorId), server);
    if (!this.applyRemote(docId, rep, answer.changes)) {
      return this.unreachable(docId, `changes for '${docId}' do not decode`);
    }
    rep.serverRaw = raw;
    rep.serverCache = [raw, server];
    rep.received = true;
    rep.stored = Math.max(seqOf(server, this.actorId), rep.httpMine); // a 200 answer: committed
    if (rep.error !== null) {
      if (!rep.error.retryable) return "done"; // pushes refused: only receive
      rep.error = null;
    }
    return rep.stored >= seqOf(this.versionOf(rep.doc), this.actorId) ? "done" : "again";
  }

  /**
   * The body of `DELETE /v1/docs/{docId}` (HTTP polling's way to delete a document): this
   * replica's client id and token.
   */
  httpDeleteRequest(): Uint8Array {
    return encodeHttpRequest({ clientId: this.actorId, token: this.token });
  }

  /**
   * Take the answer to `DELETE /v1/docs/{docId}`: on success the document is dropped here
   * (see `dropDeleted`). `ok` and `contentType` as for {@link receiveHttp}.
   *
   * @throws PermissionDeniedError, ...: the server refused (nothing changed).
   * @throws ProtocolError: the answer is not SyncKit's (an older server, or a proxy).
   */
  receiveHttpDelete(docId: string, ok: boolean, body: Uint8Array, status: number, contentType?: string | null): void {
    const mediaType = (contentType ?? HTTP_MEDIA_TYPE).split(";", 1)[0]?.trim().toLowerCase();
    const answer = mediaType === HTTP_MEDIA_TYPE ? decodeHttpAnswer(body, ok) : null;
    if (answer === null) {
      throw new ProtocolError(`deleting '${docId}': the answer (HTTP ${status}) is not SyncKit's ` +
        "(an older server, or a proxy)");
    }
    if (answer.type !== "httpAnswer") throw errorToException(answer);
    this.dropDeleted(docId, errorEvent(ErrorCode.DOC_DELETED,
      `document '${docId}' was deleted by this client`, { docId }));
  }

  private httpRefused(docId: string, rep: Replica, error: ErrorEvent): HttpOutcome {
    const code = error.code;
    const message = error.message || errorCodeName(code);
    if (code === ErrorCode.DOC_DELETED) {
      this.dropDeleted(docId, errorEvent(code, message, { docId }));
      return "refused";
    }
    if (code === ErrorCode.TOO_MANY && error.docId && !error.retryable && rep.httpMine && this.fewerOps(rep.httpSeqs)) {
      // A push of more operations than the server takes at once (the limit is in a WebSocket
      // Welcome, not here), or whose merge was too much work: half as many, and again. (Over
      // HTTP every error answer ends its request: "fatal".)
      return "again";
    }
    if (error.fatal && isTerminal(error, this.tokenRenewable)) {
      this.terminalError = this.lastError = errorEvent(code, message);
      return "refused";
    }
    if (code === ErrorCode.SHUTTING_DOWN || code === ErrorCode.TOKEN_EXPIRED) {
      return this.unreachable(docId, message); // (a fresh token for the next round)
    }
    this.reject(docId, rep, errorEvent(code, message, {
      retryable: error.retryable, docId, retryAfterMs: error.retryAfterMs }));
    if (code === ErrorCode.PERMISSION_CHANGED) rep.error = null; // asked again next round
    return "refused";
  }
}
