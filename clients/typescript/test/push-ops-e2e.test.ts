/**
 * A backlog of more operations than the server takes in one push (`max_push_ops`): over a
 * WebSocket the client reads the limit from the Welcome and sends parts that fit; over HTTP,
 * where no Welcome comes, it halves its parts after each refusal. A real `synckit serve` whose
 * `[limits]` table sets a small `max_push_ops`.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDocument } from "../src/client/bind.js";
import { countOps } from "../src/client/replicas.js";
import { MemoryStore } from "../src/client/store.js";
import { Server, eventually, python } from "./support/server.js";
import { TestClients } from "./support/clients.js";

const MAX_OPS = 50;
const clients = new TestClients();

describe("a backlog of more operations than a push holds", () => {
  const server = new Server();

  before(async () => {
    const config = join(server.dataDir, "synckit.toml");
    writeFileSync(config, `[limits]\nmax_push_ops = ${MAX_OPS}\n`);
    server.args.push("--config", config);
    await server.start();
  });

  after(async () => {
    await clients.closeAll();
    await server.dispose();
  });

  for (const transport of ["websocket", "http"] as const) {
    test(`over ${transport}: 300 edits made offline arrive whole, in parts that fit`, async () => {
      const store = new MemoryStore();
      const clientId = `ts-ops-${transport}`;
      const docId = `ops-${transport}`;
      const dead = await clients.connect("http://127.0.0.1:9", { clientId, store, transport });
      const offline = await openDocument(dead, docId);
      const expected: Record<string, number> = {};
      for (let i = 0; i < 300; i++) {
        offline.set(`k${i}`, i);
        expected[`k${i}`] = i;
      }
      assert.ok(countOps(offline.changes()) >= 300);
      await eventually(async () => ((await store.load(docId))?.changes.length ?? 0) > 0, 5000, "the store write");
      await dead.close();
      const c = await clients.connect(server.url, { clientId, store, transport });
      const doc = await openDocument(c, docId, { wait: true, timeoutMs: 15_000 });
      assert.deepEqual(doc.toJSON(), expected);
      await c.waitSynced(30_000);
      assert.ok(c.engine.maxPushOps > 0 && c.engine.maxPushOps <= MAX_OPS, `limit ${c.engine.maxPushOps}`);
      if (transport === "websocket") {
        assert.equal(c.engine.maxPushOps, MAX_OPS);
        assert.ok(c.engine.ackedPushes >= 6, `pushes acknowledged: ${c.engine.ackedPushes}`);
      }
      assert.deepEqual(c.engine.rejections(), new Map());
      assert.deepEqual(await python("read", server.url, docId), expected);
    });
  }
});
