/**
 * The connection state machine of the sync protocol, as a table (a port of
 * `synckit.protocol._state`).
 *
 * Both ends track the same state, since both see the same frames in the same order. Whoever
 * is about to send or has just received a frame looks up (sender's role, state) in
 * {@link TRANSITIONS}; a message missing from that row is illegal. A fatal `Error` may be sent
 * by either side in any state but `CLOSED` and moves the connection to `CLOSED`.
 *
 * @module
 */
import type { Event } from "./events.js";

/** Which end of a connection. */
export type Role = "client" | "server";

/** A connection's state. */
export enum State {
  AWAITING_HELLO = "AWAITING_HELLO",
  HANDSHAKE = "HANDSHAKE",
  OPEN = "OPEN",
  CLOSED = "CLOSED",
}

type Row = Readonly<Partial<Record<Event["type"], State>>>;

const O = State.OPEN;

/** `"role:state"` → {message type: next state}. */
export const TRANSITIONS: Readonly<Record<string, Row>> = {
  [`client:${State.AWAITING_HELLO}`]: { hello: State.HANDSHAKE },
  [`server:${State.HANDSHAKE}`]: { welcome: O },
  [`client:${O}`]: {
    hello: O, // re-authentication with a fresh token, same client id
    subscribe: O,
    push: O,
    unsubscribe: O,
    presenceSet: O,
    deleteDoc: O,
    ping: O,
    pong: O,
    error: O,
  },
  [`server:${O}`]: {
    welcome: O, // answers a re-authenticating Hello
    subscribed: O,
    ack: O,
    broadcast: O,
    presence: O,
    docDeleted: O,
    ping: O,
    pong: O,
    error: O,
  },
};

/** The next state when `role` sends `type` in `state`, or `undefined` when not allowed. */
export function transition(role: Role, state: State, type: Event["type"]): State | undefined {
  return TRANSITIONS[`${role}:${state}`]?.[type];
}
