/**
 * How an example page joins the server: who the user is (`?user=`, else remembered in
 * localStorage, else a guest name), the token (`?token=`, for a server with JWT keys), and a
 * client whose offline store is this browser's IndexedDB, so edits made offline survive a
 * reload and are sent when the page is opened again.
 */
import { IndexedDBStore, MemoryStore, connect, type OfflineStore, type SyncClient } from "@synckit/client";

/** Who is using the page. */
export interface Session {
  readonly user: string;
  readonly color: string;
  readonly client: SyncClient;
  /** Whether edits are kept in IndexedDB (false: memory only, e.g. a private window). */
  readonly persistent: boolean;
}

const COLORS = ["#d1495b", "#2e86ab", "#3c9d5d", "#8e44ad", "#e08e0b", "#16a085", "#c0392b", "#5d6d7e"];

/** A colour for `name`, the same on every screen. */
export function colorOf(name: string): string {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)!) >>> 0;
  return COLORS[h % COLORS.length]!;
}

/** The user's name: `?user=`, else remembered, else a new guest name (then remembered). */
export function userName(): string {
  const params = new URLSearchParams(location.search);
  const given = params.get("user");
  if (given) return given;
  const known = localStorage.getItem("synckit-user");
  if (known) return known;
  const guest = `guest-${Math.random().toString(16).slice(2, 6)}`;
  localStorage.setItem("synckit-user", guest);
  return guest;
}

/** Connect to the server that served the page (or `?server=`), as {@link userName}. */
export async function startSession(app: string): Promise<Session> {
  const params = new URLSearchParams(location.search);
  const user = userName();
  let store: OfflineStore;
  let persistent = true;
  try {
    store = await IndexedDBStore.open(`synckit-${app}-${user}`);
  } catch {
    store = new MemoryStore();
    persistent = false;
  }
  const token = params.get("token") ?? undefined;
  const client = await connect(params.get("server") ?? location.origin, {
    clientId: user.replace(/[^A-Za-z0-9_.-]/g, "_") || "web",
    store,
    ...(token === undefined ? {} : { token }),
    backoffMaxMs: 2000,
    pingIntervalMs: 3000,
    responseTimeoutMs: 4000,
  });
  return { user, color: colorOf(user), client, persistent };
}
