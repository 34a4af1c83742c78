/**
 * The connection loop: one WebSocket at a time, reconnected with exponential back-off and
 * full jitter (a server's `retry_after_ms` respected), pings and overdue answers on a ticker,
 * token renewal on the open connection, and with `transport: "auto"` the switch to HTTP
 * polling ({@link HttpPoller}) when the upgrade is refused but the server answers HTTP.
 * Frames go to the engine as they arrive, and out of it on {@link Connection.kick}.
 *
 * @module
 */
import { HttpPoller } from "./http-poll.js";
import type { ClientShell } from "./shell.js";
import { openSocket, type SocketLike } from "./socket.js";
import { retryDelay } from "./url.js";

/** The longest `retry_after_ms` of a server obeyed. */
const MAX_RETRY_AFTER_MS = 60_000;

/** The background loop of a client (see the module comment). */
export class Connection {
  /** The HTTP transport (polling, and deletes while polling). */
  readonly http: HttpPoller;
  private socket: SocketLike | null = null;
  private kickPending = false;
  private ticker: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly shell: ClientShell) {
    this.http = new HttpPoller(shell);
  }

  /**
   * Write what the engine has to send, once the store writes queued so far are done (an
   * edit is stored before it is sent). Calls made before that coalesce.
   */
  kick(): void {
    if (this.kickPending) return;
    this.kickPending = true;
    void this.shell.writes.settled.then(() => {
      this.kickPending = false;
      this.writeFrames();
    });
  }

  /** Close the open WebSocket, if any (the client is closing). */
  closeSocket(): void {
    this.socket?.close(1000, "client closed");
  }

  /** Run until the client is closed. */
  async run(): Promise<void> {
    const shell = this.shell;
    const options = shell.options;
    let failures = 0;
    if (options.transport === "http") {
      await this.http.poll(Infinity);
      return;
    }
    while (!shell.closed) {
      if (shell.engine.terminalError !== null) {
        shell.setOnline(false);
        shell.progress();
        await shell.sleep(2 ** 31 - 1); // refused for good: until closed
        continue;
      }
      const before = shell.connections;
      const errorBefore = shell.engine.lastError;
      let opened = false;
      try {
        await shell.freshToken();
        opened = await this.serve();
      } catch (exc) {
        shell.tokenFailed(exc);
        opened = true; // not the transport's fault
      } finally {
        shell.engine.connectionLost();
        this.socket = null;
        shell.setOnline(false);
      }
      if (shell.closed) break;
      if (!opened && options.transport === "auto" && (await this.http.reachable())) {
        await this.http.poll(Date.now() + (options.upgradeRetryMs ?? 300_000));
        failures = 0;
        continue;
      }
      if (shell.connections > before) failures = 0;
      const delay = retryDelay(options, failures);
      failures += 1;
      const error = shell.engine.lastError;
      if (error !== errorBefore && error !== null && error.retryAfterMs) {
        // The server said when to come back: that wait is kept, whatever reconnectNow() says.
        const until = Date.now() + Math.max(delay, Math.min(error.retryAfterMs, MAX_RETRY_AFTER_MS));
        while (!shell.closed && Date.now() < until) await shell.sleep(until - Date.now());
      } else {
        await shell.sleep(delay);
      }
    }
  }

  private writeFrames(): void {
    const socket = this.socket;
    if (socket === null) return;
    const shell = this.shell;
    shell.engine.flush();
    if (shell.engine.syncError() !== null) shell.progress();
    for (const frame of shell.engine.dataToSend()) socket.send(frame);
    if (shell.engine.closing) socket.close(1000, "session ended");
  }

  /** One WebSocket connection, until it closes; whether it opened at all. */
  private serve(): Promise<boolean> {
    const shell = this.shell;
    return new Promise<boolean>((resolve) => {
      const engine = shell.engine;
      let opened = false;
      const socket = openSocket(shell.url, shell.options.WebSocket, {
        onOpen: () => {
          opened = true;
          engine.connectionMade(performance.now());
          this.kick();
          this.ticker = setInterval(() => this.tick(socket), this.tickInterval());
        },
        onMessage: (frame) => {
          engine.receive(frame, performance.now());
          if (engine.online && !shell.online) {
            shell.connections += 1;
            shell.setOnline(true);
          }
          if (engine.hasDataToSend || engine.closing) this.kick();
          shell.progress();
        },
        onText: () => socket.close(1003, "binary frames only"),
        onClose: () => {
          if (this.ticker !== null) clearInterval(this.ticker);
          this.ticker = null;
          resolve(opened);
        },
      });
      this.socket = socket;
      if (shell.closed) socket.close(1000, "client closed");
    });
  }

  private tickInterval(): number {
    const e = this.shell.engine;
    return Math.min(e.pingIntervalMs / 4, e.responseTimeoutMs / 4, 1000);
  }

  private tick(socket: SocketLike): void {
    const shell = this.shell;
    const engine = shell.engine;
    if (engine.reauthDue(Date.now()) && shell.renewableToken) {
      shell.freshToken().then(() => {
        engine.reauthenticate(engine.token);
        this.kick();
      }, (exc) => shell.tokenFailed(exc));
    }
    if (!engine.tick(performance.now())) {
      socket.close(4000, "no answer from the server");
      return;
    }
    this.kick();
  }
}
