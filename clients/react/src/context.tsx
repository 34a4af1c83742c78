/**
 * The provider that hands a `SyncClient` to the hooks below it.
 *
 * @module
 */
import { createContext, useContext, type ReactNode } from "react";
import { LocalProtocolError, type SyncClient } from "@synckit/client";

const ClientContext = createContext<SyncClient | null>(null);

/** Props of {@link SyncKitProvider}. */
export interface SyncKitProviderProps {
  /** The client (`await connect(url, {...})`). */
  readonly client: SyncClient;
  readonly children?: ReactNode;
}

/** Make `client` available to the SyncKit hooks of everything inside. */
export function SyncKitProvider({ client, children }: SyncKitProviderProps): ReactNode {
  return <ClientContext.Provider value={client}>{children}</ClientContext.Provider>;
}

/**
 * The client of the nearest {@link SyncKitProvider}.
 *
 * @throws LocalProtocolError: no provider above.
 */
export function useClient(): SyncClient {
  const client = useContext(ClientContext);
  if (client === null) throw new LocalProtocolError("SyncKit hooks need a <SyncKitProvider client={...}> above them");
  return client;
}
