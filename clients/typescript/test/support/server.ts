/**
 * Test support: a real `synckit serve` as a child process, the Python helper, JWTs, and a
 * test double of `SyncedDocument` backed by change sets Python made.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { SyncedDocument } from "../../src/client/document.js";
import { decodeVersion, seqOf } from "../../src/client/version.js";

const execFileAsync = promisify(execFile);

/** The package root (clients/typescript), from build/test/support. */
export const PACKAGE = resolve(import.meta.dirname, "..", "..", "..");
/** The Python interpreter with synckit installed. */
export const PYTHON = process.env.SYNCKIT_PYTHON ?? resolve(PACKAGE, "..", "..", ".venv", "bin", "python");
const HELPER = join(PACKAGE, "test", "fixtures", "synckit_helper.py");

/** A running `synckit serve`. */
export class Server {
  url = "";
  port = 0;
  private child: ChildProcess | null = null;
  readonly dataDir: string;

  /** @param args - more `synckit serve` flags (may be added to before {@link start}). */
  constructor(readonly args: string[] = [], private readonly env: NodeJS.ProcessEnv = {}) {
    this.dataDir = mkdtempSync(join(tmpdir(), "synckit-ts-e2e-"));
  }

  /** Start (again, on the same port when it ran before); resolves once it listens. */
  /** Start with a fresh JWT secret (a file under the data directory); returns the secret. */
  async startWithJwtSecret(): Promise<string> {
    const [path, value] = secretFile(this.dataDir);
    this.args.push("--jwt-secret-file", path);
    await this.start();
    return value;
  }

  async start(): Promise<void> {
    const child = spawn(PYTHON, ["-m", "synckit.cli", "serve", "--host", "127.0.0.1",
      "--port", String(this.port), "--data", this.dataDir, ...this.args],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...this.env } });
    this.child = child;
    let err = "";
    child.stderr!.on("data", (d: Buffer) => { err += d.toString(); });
    this.url = await new Promise<string>((ok, fail) => {
      let out = "";
      const timer = setTimeout(() => fail(new Error(`synckit serve did not start: ${out}${err}`)), 30_000);
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const found = /listening on (http:\/\/[^\s]+)/.exec(out);
        if (found) {
          clearTimeout(timer);
          ok(found[1]!);
        }
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        fail(new Error(`synckit serve exited (${code}): ${out}${err}`));
      });
    });
    this.port = Number(new URL(this.url).port);
  }

  /** Stop the process (SIGTERM, then SIGKILL); resolves once it exited. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((ok) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      child.once("exit", () => { clearTimeout(timer); ok(); });
      child.kill("SIGTERM");
    });
  }

  /** Stop and remove the data directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Run the Python helper; its JSON output. */
export async function python(...args: string[]): Promise<unknown> {
  const { stdout } = await execFileAsync(PYTHON, [HELPER, ...args], { timeout: 60_000 });
  return JSON.parse(stdout);
}

/**
 * A Python client following `docId` (the helper's `watch`): `ready` resolves once it is
 * synced; `result` with what it saw once the document was deleted (or after 30 s).
 */
export function pythonWatch(url: string, docId: string, token = ""): { ready: Promise<void>; result: Promise<unknown> } {
  const child = spawn(PYTHON, [HELPER, "watch", url, docId, ...(token ? [token] : [])],
    { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let readyLine: (() => void) | null = null;
  const ready = new Promise<void>((ok) => { readyLine = ok; });
  child.stderr!.on("data", (d: Buffer) => { err += d.toString(); });
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    if (out.includes('"ready"')) readyLine?.();
  });
  const result = new Promise<unknown>((ok, fail) => {
    child.on("exit", (code) => {
      const lines = out.trim().split("\n");
      if (code !== 0 || lines.length < 2) {
        fail(new Error(`python watch exited ${code}: ${out}${err}`));
        return;
      }
      ok(JSON.parse(lines.at(-1)!));
    });
  });
  return { ready: Promise.race([ready, result.then(() => undefined)]), result };
}

/** Change sets Python made: a document under `clientId` whose map "m" holds `pairs`. */
export async function pythonChanges(clientId: string, pairs: Record<string, string>): Promise<{ changes: Uint8Array; version: Uint8Array }> {
  const out = (await python("changes", clientId, ...Object.entries(pairs).map(([k, v]) => `${k}=${v}`))) as
    { changes: string; version: string };
  return { changes: Buffer.from(out.changes, "hex"), version: Buffer.from(out.version, "hex") };
}

/** What a document made of `changeSets` holds, read by Python. */
export async function pythonDecode(changeSets: Uint8Array[]): Promise<unknown> {
  return python("decode", ...changeSets.map((c) => Buffer.from(c).toString("hex")));
}

/** A JWT (HS256) as `synckit token` mints it. */
export function mintToken(secret: string, sub: string, docs: Record<string, string>, ttlSeconds: number): string {
  const now = Math.floor(Date.now() / 1000);
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const head = enc({ alg: "HS256", typ: "JWT" });
  const body = enc({ sub, iat: now - 200, exp: now + ttlSeconds, synckit: { docs } });
  const sig = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

/** A secret file for `--jwt-secret-file`; returns [path, secret]. */
export function secretFile(dir: string): [string, string] {
  const secret = "s".repeat(16) + "e".repeat(16) + "cret-for-tests";
  const path = join(dir, "jwt-secret");
  writeFileSync(path, secret);
  return [path, secret];
}

/**
 * A `SyncedDocument` double: its own operations are change sets Python made (under the
 * client's actor id); what it receives from the server is recorded, not decoded.
 */
export class FakeDoc implements SyncedDocument {
  own: { changes: Uint8Array; version: Uint8Array } | null = null;
  readonly received: Uint8Array[] = [];
  private readonly listeners = new Set<() => void>();
  onApply: (() => void) | null = null;

  constructor(readonly actorId: string) {}

  /** A local edit: the document now holds `own` (all its own operations so far). */
  edit(own: { changes: Uint8Array; version: Uint8Array }): void {
    this.own = own;
    for (const l of [...this.listeners]) l();
  }

  version(): Uint8Array {
    return this.own?.version ?? new Uint8Array();
  }

  changes(since?: Uint8Array): Uint8Array {
    if (this.own === null) return new Uint8Array();
    const held = since === undefined ? 0 : seqOf(decodeVersion(since), this.actorId);
    if (held >= seqOf(decodeVersion(this.own.version), this.actorId)) return new Uint8Array();
    return this.own.changes;
  }

  apply(changes: Uint8Array): void {
    this.received.push(changes);
    this.onApply?.();
  }

  save(): Uint8Array {
    return this.own?.changes ?? new Uint8Array();
  }

  onLocalChange(callback: () => void): () => void {
    this.listeners.add(callback);
    return () => this.listeners.delete(callback);
  }
}

/** Resolve once `check()` holds (polled), or reject after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 15_000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
