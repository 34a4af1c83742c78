/**
 * usePresence and useConnection against a real `synckit serve` (SYNCKIT_PYTHON: the Python
 * with synckit installed; the repository's .venv by default).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { ReactNode } from "react";
import { act, create, type ReactTestRenderer } from "react-test-renderer";
import { WebSocket } from "ws";
import { MemoryStore, connect, openDocument, type SyncClient } from "@synckit/client";
import { SyncKitProvider, useConnection, usePresence } from "../src/index.js";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const PYTHON = process.env.SYNCKIT_PYTHON ?? resolve(import.meta.dirname, "..", "..", "..", "..", ".venv", "bin", "python");

async function eventually(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return;
    await act(async () => { await new Promise((r) => setTimeout(r, 50)); });
  }
  throw new Error(`timed out waiting for ${what}`);
}

let renders = { people: 0, status: 0 };

function People(): ReactNode {
  renders.people += 1;
  const { others } = usePresence("room");
  return <ul>{others.map((p) => <li key={p.key}>{String(p.state["name"])}</li>)}</ul>;
}

function Status(): ReactNode {
  renders.status += 1;
  return <b>{useConnection().online ? "online" : "offline"}</b>;
}

describe("usePresence and useConnection with a server", { skip: existsSync(PYTHON) ? false : `no Python at ${PYTHON}` }, () => {
  let server: ChildProcess;
  let url = "";
  const dir = mkdtempSync(join(tmpdir(), "synckit-react-"));
  const clients: SyncClient[] = [];
  let renderer: ReactTestRenderer;

  before(async () => {
    server = spawn(PYTHON, ["-m", "synckit.cli", "serve", "--port", "0", "--data", dir], { stdio: ["ignore", "pipe", "pipe"] });
    url = await new Promise<string>((ok, fail) => {
      let out = "";
      server.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const found = /listening on (http:\/\/[^\s]+)/.exec(out);
        if (found) ok(found[1]!);
      });
      server.on("exit", (code) => fail(new Error(`synckit serve exited ${code}`)));
    });
  });

  after(async () => {
    act(() => renderer?.unmount());
    for (const c of clients) await c.close();
    server.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  });

  test("others' presence appears, changes and goes; the connection status re-renders its reader only", async () => {
    const mine = await connect(url, { clientId: "me", store: new MemoryStore(), WebSocket });
    clients.push(mine);
    await act(async () => {
      renderer = create(<SyncKitProvider client={mine}><People /><Status /></SyncKitProvider>);
    });
    await eventually(() => renderer.root.findByType("b").children.join("") === "online", 15_000, "online");
    const other = await connect(url, { clientId: "other", store: new MemoryStore(), WebSocket });
    clients.push(other);
    await openDocument(other, "room", { wait: true, timeoutMs: 15_000 });
    renders = { people: 0, status: 0 };
    other.presence("room").set({ name: "Grace" });
    await eventually(() => renderer.root.findAllByType("li").map((li) => li.children.join("")).join() === "Grace", 15_000, "Grace");
    other.presence("room").set({ name: "Grace Hopper" });
    await eventually(() => renderer.root.findAllByType("li").map((li) => li.children.join("")).join() === "Grace Hopper", 15_000, "the new name");
    assert.equal(renders.status, 0, "presence does not re-render the status");
    assert.ok(renders.people >= 2 && renders.people <= 4, `people rendered ${renders.people} times`);
    await other.close();
    await eventually(() => renderer.root.findAllByType("li").length === 0, 15_000, "Grace to leave");
  });
});
