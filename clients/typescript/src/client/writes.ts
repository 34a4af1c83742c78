/**
 * The offline store's write queue: every {@link StoreWrite} the engine asks for runs after
 * the ones before it, so the store sees them in order and an edit is stored before it is
 * sent (the transports wait for {@link WriteQueue.settled} before writing frames).
 *
 * @module
 */
import type { StoreWrite } from "./replicas.js";
import type { OfflineStore } from "./store.js";

/** Store writes, one after another (see the module comment). */
export class WriteQueue {
  private tail: Promise<void> = Promise.resolve();

  /**
   * @param store - where the writes go.
   * @param onError - told of a write that failed (the queue goes on with the next one).
   */
  constructor(private readonly store: OfflineStore, private readonly onError: (error: unknown) => void) {}

  /** Resolves once the writes queued so far are done (failed ones included). */
  get settled(): Promise<void> {
    return this.tail;
  }

  /** Queue `write` after the writes queued so far; never rejects. */
  push(write: StoreWrite): void {
    const store = this.store;
    this.tail = this.tail.then(async () => {
      try {
        if (write.kind === "append") await store.append(write.docId, write.changes);
        else if (write.kind === "snapshot") await store.saveSnapshot(write.docId, write.snapshot);
        else await store.deleteDoc(write.docId);
      } catch (exc) {
        this.onError(exc);
      }
    });
  }
}
