/**
 * The platform WebSocket behind four callbacks: the browser's global `WebSocket`, or any
 * constructor with the same API (in Node 20, the `ws` package's `WebSocket`).
 *
 * @module
 */
import { InvalidValueError } from "../errors.js";

/** The part of the WebSocket API the client uses. */
export interface SocketLike {
  binaryType: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onclose: ((event: unknown) => void) | null;
}

/** A WebSocket constructor (`new WebSocket(url)`), as the browser's or `ws`'s. */
export type WebSocketConstructor = new (url: string) => unknown;

/** What happens on a socket. */
export interface SocketHandlers {
  onOpen(): void;
  onMessage(frame: Uint8Array): void;
  /** A text message arrived (not the protocol's). */
  onText(): void;
  /** The socket closed (or never opened); called once. */
  onClose(): void;
}

/**
 * Open a WebSocket to `url` with `ctor` (default: the global `WebSocket`) and route its events
 * to `handlers`. A constructor that throws counts as a connection that closed at once.
 *
 * @throws InvalidValueError: no constructor given and no global `WebSocket`.
 */
export function openSocket(url: string, ctor: WebSocketConstructor | undefined, handlers: SocketHandlers): SocketLike {
  const Ctor = ctor ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (Ctor === undefined) {
    throw new InvalidValueError("no WebSocket here: pass options.WebSocket (in Node, the ws package's)");
  }
  let closed = false;
  const closeOnce = () => {
    if (closed) return;
    closed = true;
    handlers.onClose();
  };
  let socket: SocketLike;
  try {
    socket = new Ctor(url) as SocketLike;
  } catch {
    queueMicrotask(closeOnce);
    return { binaryType: "arraybuffer", send() {}, close() {}, onopen: null, onmessage: null, onerror: null, onclose: null };
  }
  socket.binaryType = "arraybuffer";
  socket.onopen = () => handlers.onOpen();
  socket.onmessage = (event) => {
    const data = event.data;
    if (typeof data === "string") handlers.onText();
    else if (data instanceof ArrayBuffer) handlers.onMessage(new Uint8Array(data));
    else if (ArrayBuffer.isView(data)) handlers.onMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    else handlers.onText();
  };
  socket.onerror = () => {
    // A close event follows an error; nothing to do before it.
  };
  socket.onclose = closeOnce;
  return {
    get binaryType() { return socket.binaryType; },
    set binaryType(v: string) { socket.binaryType = v; },
    send(data: Uint8Array) {
      try {
        socket.send(data);
      } catch {
        // Closing already: the close event ends the connection.
      }
    },
    close(code?: number, reason?: string) {
      try {
        socket.close(code, reason);
      } catch {
        socket.close();
      }
    },
    onopen: null, onmessage: null, onerror: null, onclose: null,
  };
}
