// SyncKit clients for bench_scale.py on Node: one process holding `count` clients of one server,
// each driven by SyncKit's TypeScript client as its own build bundles it
// (clients/typescript/dist/index.js, `npm run build`).
//
// The Node twin of _scale_clients.py (same configuration in argv[2], same JSON lines on
// stdin/stdout, same behaviour): each client is a bare WebSocket (`ws`, the TypeScript client's
// own dev dependency, without permessage-deflate) driven by a protocol ClientSession with its
// own Document. Subscribed and Broadcast changes are applied to the document (except the
// throughput writers', which decode every frame but do not apply the others' broadcasts);
// pushes carry doc.changes(since). The peers' clients (peers/hocuspocus4/clients.mjs) are all
// Node, so this makes the SyncKit rows measure the server with clients on the same runtime.
// Times are wall-clock milliseconds (performance.timeOrigin + performance.now()), comparable
// across processes on one host.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const { ClientSession, Document, VERSION_DELTAS, hello, syncUrl } = await import(
  new URL("../clients/typescript/dist/index.js", import.meta.url).href
);
const WebSocket = createRequire(new URL("../clients/typescript/package.json", import.meta.url))(
  "ws",
);

const cfg = JSON.parse(process.argv[2]);
cfg.name ??= `bench-${cfg.scenario}`;
const now = () => performance.timeOrigin + performance.now();
// resolves once written: a pipe is written asynchronously, and the process exits at the end
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const say = (obj) =>
  new Promise((resolve) => process.stdout.write(`${JSON.stringify(obj)}\n`, resolve));
// a refused push, a dropped connection: the run is void
const die = async (message) => {
  await say({ error: message });
  process.exit(1);
};

// One client: a WebSocket, its protocol session, its document of `docId`.
class Replica {
  constructor(clientId, docId) {
    this.clientId = clientId;
    this.docId = docId;
    this.doc = new Document(clientId);
    this.session = new ClientSession();
    this.ws = null;
    this.batch = 0;
    this.applyBroadcasts = true;
    this.onAck = () => {};
    this.closing = false;
  }

  flush() {
    for (const frame of this.session.dataToSend()) this.ws.send(frame);
  }

  send(event) {
    this.session.send(event);
    this.flush();
  }

  // Connect, say Hello, subscribe and apply what the server has; then keep reading.
  connect(url) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(syncUrl(url), { perMessageDeflate: false, maxPayload: 0 });
      this.ws = ws;
      ws.on("open", () => this.send(hello(this.clientId, "", [VERSION_DELTAS])));
      ws.on("error", (err) => (this.closing ? undefined : reject(err)));
      ws.on("close", (code) => {
        if (!this.closing) die(`${this.clientId}: connection closed (${code})`);
      });
      ws.on("message", (data) => {
        const frame = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        const events = this.session.receive(frame);
        this.flush(); // a Pong, an Error
        for (const event of events) {
          if (event.type === "error") {
            die(`${this.clientId}: server error ${JSON.stringify(event)}`);
          } else if (event.type === "welcome") {
            const version = this.doc.version().encode();
            this.send({ type: "subscribe", docId: this.docId, version });
          } else if (event.type === "subscribed") {
            this.doc.apply(event.changes);
            resolve();
          } else if (event.type === "broadcast") {
            if (this.applyBroadcasts) this.doc.apply(event.changes);
          } else if (event.type === "ack") {
            this.onAck(event);
          }
        }
      });
    });
  }

  // Send what the document gained since `since` as one Push (without waiting).
  push(since) {
    this.batch += 1;
    const changes = this.doc.changes(since);
    this.send({ type: "push", docId: this.docId, batchId: this.batch, changes });
  }

  close() {
    this.closing = true;
    this.ws?.close();
  }
}

async function openMany(docs) {
  const out = [];
  for (let start = 0; start < docs.length; start += 50) {
    const batch = docs
      .slice(start, start + 50)
      .map((doc, k) => new Replica(`${cfg.name}-${cfg.first + start + k}`, doc));
    await Promise.all(batch.map((r) => r.connect(cfg.url)));
    out.push(...batch);
  }
  return out;
}

const commands = createInterface({ input: process.stdin });
const lines = commands[Symbol.asyncIterator]();
async function command() {
  const { value, done } = await lines.next();
  return done ? null : JSON.parse(value);
}

async function latency() {
  const clients = await openMany(Array.from({ length: cfg.count }, () => cfg.doc));
  const samples = [];
  const got = new Map();
  const wrote = new Set();
  const expected = (i) => cfg.count - (wrote.has(i) ? 1 : 0);
  for (const client of clients) {
    const onChange = (event) => {
      if (event.local) return;
      const t = now();
      for (const name of event.names) {
        if (!name.startsWith("e")) continue;
        const i = Number(name.slice(1));
        samples.push([i, t - client.doc.get(name)]);
        const n = (got.get(i) ?? 0) + 1;
        got.set(i, n);
        if (n === expected(i)) say({ got: i });
      }
    };
    client.doc.subscribe(onChange, { textEdits: false });
  }
  say({ ready: true });
  const cpu = cpuMs(); // the clients' CPU while edits go, all joined
  for (let cmd = await command(); cmd !== null; cmd = await command()) {
    if (cmd.edit !== undefined) {
      const writer = clients[cmd.client];
      wrote.add(cmd.edit);
      const held = writer.doc.version();
      writer.doc.set(`e${cmd.edit}`, now());
      writer.push(held);
      if (expected(cmd.edit) === 0) say({ got: cmd.edit });
    } else if (cmd.done) {
      await say({ samples, cpu_ms: cpuMs() - cpu });
      break;
    }
  }
  for (const c of clients) c.close();
}

// Each writer keeps `window` pushes unacknowledged, one field set per push; the writers decode
// every frame (their sessions must) but do not apply the others' broadcasts, as in the Python
// twin.
async function writers() {
  const clients = await openMany(Array.from({ length: cfg.count }, () => cfg.doc));
  say({ ready: true });
  const cmd = await command();
  const started = now();
  const ends = started + cmd.seconds * 1000;
  let sent = 0;
  let acked = 0;
  await Promise.all(
    clients.map(
      (client, w) =>
        new Promise((resolve) => {
          const key = `w${cfg.first + w}`;
          let outstanding = 0;
          client.applyBroadcasts = false;
          const pump = () => {
            while (outstanding < cfg.window && now() < ends) {
              const held = client.doc.version();
              client.doc.set(key, sent);
              client.push(held);
              sent++;
              outstanding++;
            }
            if (outstanding === 0 && now() >= ends) resolve();
          };
          client.onAck = () => {
            acked++;
            outstanding--;
            pump();
          };
          pump();
        }),
    ),
  );
  await say({ sent, acked, seconds: (now() - started) / 1000 });
  for (const c of clients) c.close();
}

async function make() {
  const [maker] = await openMany([cfg.doc]);
  const acked = new Promise((resolve) => {
    maker.onAck = resolve;
  });
  const held = maker.doc.version();
  const fields = {};
  for (let i = 0; i < cfg.keys; i++) fields[`k${i}`] = i;
  maker.doc.update(fields);
  maker.push(held);
  await acked;
  say({ ready: true });
  await command(); // held until stdin closes
  maker.close();
}

async function join() {
  const times = [];
  for (let r = 0; r < cfg.joins; r++) {
    const t0 = now();
    const replica = new Replica(`${cfg.name}-join-${r}`, cfg.doc);
    await replica.connect(cfg.url); // resolves once Subscribed is applied
    const ok = replica.doc.get(`k${cfg.keys - 1}`) === cfg.keys - 1;
    times.push(now() - t0);
    const size = Object.keys(replica.doc.toJSON()).length;
    replica.close();
    if (!ok || size !== cfg.keys) {
      await say({ error: `joined with ${size} keys, not ${cfg.keys}` });
      return;
    }
  }
  await say({ times });
}

async function idle() {
  const docs = Array.from({ length: cfg.count }, (_, i) => `${cfg.doc}-${(cfg.first + i) % 100}`);
  const clients = await openMany(docs);
  say({ ready: true });
  await command(); // held until stdin closes
  for (const c of clients) c.close();
}

const scenarios = { latency, writers, make, join, idle };
await scenarios[cfg.scenario]();
process.exit(0);
