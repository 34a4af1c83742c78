/**
 * An offline backlog larger than the server's frame limit: the client sends it in parts, each
 * under the limit, the next when the last is acknowledged, and it arrives whole (a real
 * `synckit serve` whose `[limits]` table sets a small `max_frame_bytes`).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDocument } from "../src/client/bind.js";
import { MemoryStore } from "../src/client/store.js";
import { Server, eventually, python } from "./support/server.js";
import { TestClients } from "./support/clients.js";

const FRAME_LIMIT = 4096;
const clients = new TestClients();

describe("a backlog larger than a frame", () => {
  const server = new Server();

  before(async () => {
    const config = join(server.dataDir, "synckit.toml");
    writeFileSync(config, `[limits]\nmax_frame_bytes = ${FRAME_LIMIT}\n`);
    server.args.push("--config", config);
    await server.start();
  });

  after(async () => {
    await clients.closeAll();
    await server.dispose();
  });

  test("edits made offline, together over the frame limit, arrive whole in several pushes", async () => {
    const store = new MemoryStore();
    // A first run with no server reachable: every edit goes only to the store.
    const dead = await clients.connect("http://127.0.0.1:9", { clientId: "ts-backlog", store, transport: "websocket" });
    const offline = await openDocument(dead, "backlog");
    const expected: Record<string, string> = {};
    for (let i = 0; i < 150; i++) {
      const value = `item ${i} `.padEnd(60, "x");
      offline.set(`k${i}`, value);
      expected[`k${i}`] = value;
    }
    const backlog = offline.changes().length;
    assert.ok(backlog > 2 * FRAME_LIMIT, `the backlog (${backlog} bytes) must need several frames`);
    await eventually(async () => ((await store.load("backlog"))?.changes.length ?? 0) > 0, 5000, "the store write");
    await dead.close();
    // The next run sends it.
    const c = await clients.connect(server.url, { clientId: "ts-backlog", store });
    const doc = await openDocument(c, "backlog", { wait: true, timeoutMs: 15_000 });
    assert.deepEqual(doc.toJSON(), expected);
    await c.waitSynced(30_000);
    assert.ok(c.engine.ackedPushes >= 3, `pushes acknowledged: ${c.engine.ackedPushes}`);
    assert.equal(c.engine.lastError, null, `no error: ${JSON.stringify(c.engine.lastError)}`);
    assert.deepEqual(await python("read", server.url, "backlog"), expected);
  });
});
