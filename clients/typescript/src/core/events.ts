/**
 * What a subscriber of a document is told (Python: `_events.py`).
 */

/**
 * One splice of a collaborative text, in code points: the `deleted` characters at `pos`
 * were replaced by `inserted`.
 */
export class TextEdit {
  /**
   * @param pos - where the edit starts.
   * @param deleted - how many code points were removed there.
   * @param inserted - what was inserted there.
   */
  constructor(readonly pos: number, readonly deleted: number, readonly inserted: string) {}

  /** `text` with this edit made (positions in code points). */
  applyTo(text: string): string {
    const cps = Array.from(text);
    return cps.slice(0, this.pos).join("") + this.inserted + cps.slice(this.pos + this.deleted).join("");
  }
}

/** A path to a nested container: its top-level name, then a key per map, an index per list. */
export type Path = readonly (string | number)[];

/** One change to a document, local or remote. */
export interface ChangeEvent {
  /** True for an edit made through this document's API, false for applied changes. */
  readonly local: boolean;
  /** The top-level fields and containers whose value may have changed. */
  readonly names: ReadonlySet<string>;
  /** For each top-level text that changed, its edits in order, by name. */
  readonly textEdits: ReadonlyMap<string, readonly TextEdit[]>;
  /** For each nested container that changed and is shown, where it is. */
  readonly paths: readonly Path[];
  /** Like `textEdits`, for texts inside nested containers, keyed by `JSON.stringify(path)`. */
  readonly nestedTextEdits: ReadonlyMap<string, readonly TextEdit[]>;
}

/** A change callback. */
export type Subscriber = (event: ChangeEvent) => unknown;
/** Calling it stops the callback it was returned for; calling it again does nothing. */
export type Unsubscribe = () => void;
