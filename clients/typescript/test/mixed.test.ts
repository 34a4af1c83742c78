/**
 * The real Document through the sync client (`openDocument`), and Python and TypeScript
 * clients editing one document through a real `synckit serve`.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { WebSocket } from "ws";
import { connect, type SyncClient } from "../src/client/client.js";
import { closeDocument, openDocument } from "../src/client/bind.js";
import { MemoryStore } from "../src/client/store.js";
import { Document } from "../src/core/document.js";
import { PACKAGE, PYTHON, Server, eventually, python } from "./support/server.js";
import { TestClients } from "./support/clients.js";

const execFileAsync = promisify(execFile);
const MIXED = join(PACKAGE, "test", "fixtures", "mixed_helper.py");

/** The Python client makes `ops` on `docId` (see mixed_helper.py); the JSON it ends with. */
async function pythonEdits(url: string, docId: string, clientId: string, ops: unknown[]): Promise<unknown> {
  const { stdout } = await execFileAsync(PYTHON, [MIXED, url, docId, clientId, JSON.stringify(ops)], { timeout: 60_000 });
  return JSON.parse(stdout);
}

const clients = new TestClients();

const client = (url: string, extra: Parameters<typeof connect>[1] = {}): Promise<SyncClient> =>
  clients.connect(url, extra);

describe("openDocument and mixed Python/TypeScript clients", () => {
  const server = new Server();

  before(async () => {
    await server.start();
  });

  after(async () => {
    await clients.closeAll();
    await server.dispose();
  });

  test("openDocument: a Document that writes under client.actorId and syncs", async () => {
    const c = await client(server.url, { clientId: "ts-bind" });
    const doc = await openDocument(c, "bind-basic", { wait: true, timeoutMs: 15_000 });
    assert.ok(doc instanceof Document);
    assert.equal(doc.clientId, c.actorId);
    assert.equal(await openDocument(c, "bind-basic"), doc, "the same Document when opened again");
    doc.set("title", "Groceries");
    doc.getList("items").append("milk");
    await c.waitSynced(15_000);
    assert.deepEqual(await python("read", server.url, "bind-basic"), { title: "Groceries", items: ["milk"] });
    closeDocument(c, "bind-basic");
    assert.notEqual(await openDocument(c, "bind-basic"), doc, "restored afresh after closeDocument");
  });

  test("offline edits kept in the store are sent when the app opens again", async () => {
    const store = new MemoryStore();
    // A first run with no server reachable: the edit goes only to the store.
    const dead = await client("http://127.0.0.1:9", { clientId: "ts-offline", store, transport: "websocket" });
    const first = await openDocument(dead, "bind-offline");
    first.getList("todos").append("written offline");
    await eventually(async () => ((await store.load("bind-offline"))?.changes.length ?? 0) > 0, 5000, "the store write");
    await dead.close();
    // The next run (same store, e.g. a reopened tab) sends it.
    const c = await client(server.url, { clientId: "ts-offline", store });
    assert.equal(c.actorId, dead.actorId);
    const again = await openDocument(c, "bind-offline", { wait: true, timeoutMs: 15_000 });
    assert.deepEqual(again.toJSON(), { todos: ["written offline"] });
    await c.waitSynced(15_000);
    assert.deepEqual(await python("read", server.url, "bind-offline"), { todos: ["written offline"] });
  });

  test("Python and TypeScript edit fields, todo items and moves, and converge", async () => {
    const c = await client(server.url, { clientId: "ts-mixed" });
    const doc = await openDocument(c, "mixed-todos", { wait: true, timeoutMs: 15_000 });
    const todos = doc.getList("todos");
    for (const title of ["milk", "bread"]) {
      const item = todos.insertMap(todos.length);
      item.set("title", title);
      item.set("done", false);
    }
    doc.set("owner", "ts");
    await c.waitSynced(15_000);
    const py = await pythonEdits(server.url, "mixed-todos", "py-mixed",
      [["todo", "eggs"], ["move", 2, 0], ["done", 1], ["set", "title", "Shopping"]]);
    await eventually(() => JSON.stringify(doc.toJSON()) === JSON.stringify(py), 15_000, "the Python edits");
    assert.deepEqual(doc.toJSON(), {
      todos: [
        { title: "eggs", done: false }, { title: "milk", done: true }, { title: "bread", done: false },
      ],
      owner: "ts", done: 1, title: "Shopping",
    });
    todos.move(0, 2); // TS moves eggs to the end
    await c.waitSynced(15_000);
    const read = (await python("read", server.url, "mixed-todos")) as { todos: { title: string }[] };
    assert.deepEqual(read.todos.map((t) => t.title), ["milk", "bread", "eggs"]);
    assert.deepEqual(read, doc.toJSON());
  });

  test("concurrent text edits by Python and TypeScript converge", async () => {
    const a = await client(server.url, { clientId: "ts-text-a" });
    const docA = await openDocument(a, "mixed-text", { wait: true, timeoutMs: 15_000 });
    docA.getText("body").insert(0, "hello world");
    await a.waitSynced(15_000);
    // A second TypeScript replica edits while it has not seen Python's edit (offline, then
    // its store is opened by a client), while Python edits the same spot.
    const store = new MemoryStore();
    const actorB = await store.actorId("ts-text-b");
    const offline = new Document(actorB);
    offline.apply(docA.changes());
    offline.getText("body").insert(5, ", dear");
    offline.getText("body").delete(0, 1);
    offline.getText("body").insert(0, "H");
    await store.append("mixed-text", offline.changes());
    const py = (await pythonEdits(server.url, "mixed-text", "py-text",
      [["insert", "body", 5, " there"], ["insert", "body", 17, "!"]])) as { body: string };
    assert.equal(py.body, "hello there world!");
    const b = await client(server.url, { clientId: "ts-text-b", store });
    const docB = await openDocument(b, "mixed-text", { wait: true, timeoutMs: 15_000 });
    await b.waitSynced(15_000);
    const read = (await python("read", server.url, "mixed-text")) as { body: string };
    await eventually(() => docA.getText("body").toString() === read.body
      && docB.getText("body").toString() === read.body, 15_000, "the three replicas to agree");
    assert.match(read.body, /^Hello/);
    assert.ok(read.body.includes(", dear") && read.body.includes(" there") && read.body.endsWith("world!"), read.body);
  });
});
