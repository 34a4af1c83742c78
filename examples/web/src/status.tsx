/**
 * The bar at the top of each app: who you are, whether you are connected, whether edits are
 * waiting to be sent, and a banner when the server refuses your edits (read-only access).
 */
import { useEffect, useState, type ReactNode } from "react";
import { errorCodeName } from "@synckit/client";
import { useClient, useConnection } from "@synckit/react";

/** Unsent edits of the client, polled (the client has no event for acknowledgements). */
function usePending(): number {
  const client = useClient();
  const [pending, setPending] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setPending(client.engine.unsynced().length), 300);
    return () => clearInterval(timer);
  }, [client]);
  return pending;
}

/** Whether the browser thinks it has a network. */
function useNavigatorOnline(): boolean {
  const [online, setOnline] = useState(navigator.onLine);
  useEffect(() => {
    const update = (): void => setOnline(navigator.onLine);
    addEventListener("online", update);
    addEventListener("offline", update);
    return () => {
      removeEventListener("online", update);
      removeEventListener("offline", update);
    };
  }, []);
  return online;
}

/** Props of {@link StatusBar}. */
export interface StatusBarProps {
  readonly title: string;
  readonly user: string;
  readonly color: string;
  readonly persistent: boolean;
  readonly children?: ReactNode;
}

/** The app's header: title, user, connection and sync state. */
export function StatusBar({ title, user, color, persistent, children }: StatusBarProps): ReactNode {
  const { online, rejections } = useConnection();
  const network = useNavigatorOnline();
  const pending = usePending();
  const state = !network ? "offline" : online ? "online" : "connecting";
  const label = state === "online" ? "Connected" : state === "offline" ? "Offline" : "Connecting…";
  const sync = rejections.size > 0
    ? "Edits not accepted by the server"
    : pending > 0
      ? (state === "online" ? "Syncing…" : "Unsent edits saved on this device")
      : "All changes synced";
  return (
    <header className="bar">
      <h1>{title}</h1>
      {children}
      <div className="bar-right">
        <span className={`status status-${state}`} data-testid="status" data-state={state}
          data-connected={online ? "true" : "false"}>
          <span className="dot" /> {label}
        </span>
        <span className="sync" data-testid="sync" data-pending={pending}>{sync}{persistent ? "" : " (not kept: no IndexedDB)"}</span>
        <span className="me" style={{ borderColor: color }}>{user}</span>
      </div>
      {[...rejections].map(([docId, error]) => (
        <div key={docId} className="banner" role="alert" data-testid="rejected">
          Read-only: the server refused your edits to “{docId}” ({errorCodeName(error.code)}
          {error.message ? `: ${error.message}` : ""}). They stay on this device.
        </div>
      ))}
    </header>
  );
}
