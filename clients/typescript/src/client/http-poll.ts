/**
 * The HTTP transport: `POST /v1/docs/{docId}/sync` for every open document, round after
 * round, with back-off while the server cannot be reached, and `DELETE /v1/docs/{docId}`.
 * The engine builds and reads every body; this module only moves them with `fetch`.
 *
 * @module
 */
import { InvalidValueError } from "../errors.js";
import { HTTP_MEDIA_TYPE } from "../protocol/http.js";
import type { ClientShell } from "./shell.js";
import { httpDocUrl, httpSyncUrl, retryDelay } from "./url.js";

/** Requests per document and round while the engine says "again". */
const REQUESTS_PER_ROUND = 4;

/** HTTP polling over a {@link ClientShell} (see the module comment). */
export class HttpPoller {
  constructor(private readonly shell: ClientShell) {}

  /** Whether the server answers HTTP at all (any status): the WebSocket upgrade is refused. */
  async reachable(): Promise<boolean> {
    const shell = this.shell;
    try {
      const probe = httpSyncUrl(shell.baseUrl, shell.engine.docIds[0] ?? "probe");
      await this.fetcher()(probe, { method: "GET", signal: this.requestSignal() });
      return true;
    } catch {
      return false;
    }
  }

  /** Sync every open document over HTTP until `deadline` (Date.now() ms) or close. */
  async poll(deadline: number): Promise<void> {
    const shell = this.shell;
    const options = shell.options;
    let failures = 0;
    shell.active = "http";
    try {
      while (!shell.closed && Date.now() < deadline) {
        if (shell.engine.terminalError !== null) {
          shell.setOnline(false);
          await shell.sleep(2 ** 31 - 1);
          continue;
        }
        let reached: boolean | null;
        try {
          await shell.freshToken();
          reached = await this.round();
        } catch (exc) {
          shell.tokenFailed(exc);
          reached = false;
        }
        if (reached === false) {
          shell.setOnline(false);
          await shell.sleep(retryDelay(options, failures));
          failures += 1;
          continue;
        }
        if (reached) failures = 0;
        await shell.sleep(Math.min(options.pollIntervalMs ?? 1000, deadline - Date.now()));
      }
    } finally {
      if (options.transport !== "http") shell.active = "websocket";
    }
  }

  /**
   * Delete `docId` with `DELETE /v1/docs/{docId}`; the engine records the outcome.
   *
   * @throws what `fetch` or the token callback throws.
   */
  async delete(docId: string): Promise<void> {
    const shell = this.shell;
    await shell.freshToken();
    const body = shell.engine.httpDeleteRequest();
    const response = await this.fetcher()(httpDocUrl(shell.baseUrl, docId), {
      method: "DELETE",
      body: body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
      headers: { "content-type": HTTP_MEDIA_TYPE, accept: HTTP_MEDIA_TYPE },
      signal: this.requestSignal(),
    });
    const answer = new Uint8Array(await response.arrayBuffer());
    shell.engine.receiveHttpDelete(docId, response.status === 200, answer, response.status,
      response.headers.get("content-type") ?? "");
    await shell.writes.settled;
    shell.progress();
  }

  private fetcher(): typeof fetch {
    const f = this.shell.options.fetch ?? globalThis.fetch;
    if (f === undefined) throw new InvalidValueError("no fetch function: pass options.fetch");
    return f;
  }

  /** Aborted by a timeout or by the client's close. */
  private requestSignal(): AbortSignal {
    const shell = this.shell;
    return AbortSignal.any([shell.stopping.signal, AbortSignal.timeout(shell.options.responseTimeoutMs ?? 20_000)]);
  }

  /** Each open document once: true when the server answered, false when not, null: none open. */
  private async round(): Promise<boolean | null> {
    const docIds = this.shell.engine.docIds;
    if (!docIds.length) return null;
    const results = await Promise.all(docIds.map((d) => this.syncDoc(d)));
    return results.some((r) => r);
  }

  private async syncDoc(docId: string): Promise<boolean> {
    const shell = this.shell;
    const engine = shell.engine;
    const url = httpSyncUrl(shell.baseUrl, docId);
    for (let i = 0; i < REQUESTS_PER_ROUND; i++) {
      if (engine.document(docId) === undefined) return true; // closed meanwhile
      await shell.writes.settled; // edits are stored before they are sent
      const body = engine.httpRequest(docId);
      let response: Response;
      let answer: Uint8Array;
      try {
        response = await this.fetcher()(url, {
          method: "POST",
          body: body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
          headers: { "content-type": HTTP_MEDIA_TYPE, accept: HTTP_MEDIA_TYPE },
          signal: this.requestSignal(),
        });
        answer = new Uint8Array(await response.arrayBuffer());
      } catch (exc) {
        engine.httpFailed(docId, `HTTP sync of '${docId}' failed: ${String(exc)}`);
        return false;
      }
      const outcome = engine.receiveHttp(docId, response.status === 200, answer,
        response.headers.get("content-type") ?? "");
      if (outcome !== "unreachable" && engine.terminalError === null && !shell.online) {
        shell.connections += 1;
        shell.setOnline(true);
      }
      shell.progress();
      if (outcome !== "again") return outcome !== "unreachable";
    }
    return true;
  }
}
