/**
 * Server URLs and back-off delays: small helpers of the client shell.
 *
 * @module
 */
import { InvalidValueError } from "../errors.js";
import { checkDocId } from "../protocol/events.js";
import type { ClientOptions } from "./options.js";

function base(url: string, schemes: Record<string, string>): [URL, string, string] {
  let parts: URL;
  try {
    parts = new URL(url);
  } catch {
    throw new InvalidValueError(`server URL must be http(s):// or ws(s)://host[:port][/path], got ${url}`);
  }
  const scheme = schemes[parts.protocol.replace(/:$/, "")];
  if (scheme === undefined || !parts.host) {
    throw new InvalidValueError(`server URL must be http(s):// or ws(s)://host[:port][/path], got ${url}`);
  }
  let path = parts.pathname.replace(/\/+$/, "");
  if (path.endsWith("/v1/sync")) path = path.slice(0, -"/v1/sync".length);
  return [parts, scheme, path];
}

/**
 * The WebSocket URL of the sync endpoint under a server's base URL: `http://h:8080` and
 * `ws://h:8080` become `ws://h:8080/v1/sync`; https/wss become wss.
 *
 * @throws InvalidValueError: not an http(s) or ws(s) URL with a host.
 */
export function syncUrl(url: string): string {
  const [parts, scheme, path] = base(url, { http: "ws", ws: "ws", https: "wss", wss: "wss" });
  return `${scheme}://${parts.host}${path}/v1/sync${parts.search}`;
}

/**
 * The URL of document `docId`'s HTTP sync endpoint under a server's base URL
 * (`http://h:8080/v1/docs/{docId}/sync`; ws → http, wss → https).
 *
 * @throws InvalidValueError: a bad URL or document id.
 */
export function httpSyncUrl(url: string, docId: string): string {
  const problem = checkDocId(docId);
  if (problem !== null) throw new InvalidValueError(problem);
  const [parts, scheme, path] = base(url, { http: "http", ws: "http", https: "https", wss: "https" });
  return `${scheme}://${parts.host}${path}/v1/docs/${encodeURIComponent(docId)}/sync${parts.search}`;
}

/**
 * The URL of document `docId` under a server's base URL (`http://h:8080/v1/docs/{docId}`:
 * its JSON view, and `DELETE` deletes it); as {@link httpSyncUrl} without `/sync`.
 *
 * @throws InvalidValueError: a bad URL or document id.
 */
export function httpDocUrl(url: string, docId: string): string {
  const problem = checkDocId(docId);
  if (problem !== null) throw new InvalidValueError(problem);
  const [parts, scheme, path] = base(url, { http: "http", ws: "http", https: "https", wss: "https" });
  return `${scheme}://${parts.host}${path}/v1/docs/${encodeURIComponent(docId)}${parts.search}`;
}

/**
 * Exponential back-off with full jitter: a delay uniform in
 * `[0, min(maxMs, baseMs * 2 ** failures)]`.
 */
export function backoffDelay(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return random() * Math.min(maxMs, baseMs * 2 ** failures);
}

/** {@link backoffDelay} after `failures` failures, with the client's back-off options and their defaults. */
export function retryDelay(options: ClientOptions, failures: number): number {
  return backoffDelay(failures, options.backoffBaseMs ?? 50, options.backoffMaxMs ?? 5000, options.random ?? Math.random);
}
