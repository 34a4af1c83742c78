/**
 * SyncKit for React: `<SyncKitProvider client={client}>` and hooks that read documents and
 * presence, re-rendering a component only when what it reads changed.
 *
 * @module
 */
export { SyncKitProvider, useClient, type SyncKitProviderProps } from "./context.js";
export {
  itemKey, useConnection, useCounter, useDocument, useDocumentState, useField, useList, useListKeys,
  useMap, usePath, usePresence, useText, valueAt, type Connection, type DocumentState, type PathStep,
  type Presence,
} from "./hooks.js";
export { DocumentHub, hubOf, type HubListener } from "./hub.js";
export { targetOf, type HandleTarget } from "./handles.js";
