// Yjs clients for bench_scale.py: one process holding `count` clients of one server, each a
// Y.Doc with its ecosystem's provider — @hocuspocus/provider for Hocuspocus, y-websocket's
// WebsocketProvider for pycrdt-websocket — over `ws` without permessage-deflate.
//
// argv[2] is a JSON object {kind, url, doc, first, count, scenario, window, seconds, keys,
// joins}. The process talks JSON lines: it prints {"ready": true} once every client is synced,
// then reads commands on stdin and answers on stdout (see bench_scale.py, which drives the
// Python twin of this script, _scale_clients.py, the same way). Times are wall-clock
// milliseconds (performance.timeOrigin + performance.now()), comparable across processes on
// one host.
import { createInterface } from "node:readline";
import { HocuspocusProvider } from "@hocuspocus/provider";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import WebSocket from "ws";
import { Awareness } from "y-protocols/awareness";
import * as syncProtocol from "y-protocols/sync";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";

const cfg = JSON.parse(process.argv[2]);
process.setMaxListeners(0); // each provider socket listens for the process exit
const now = () => performance.timeOrigin + performance.now();
// resolves once written: a pipe is written asynchronously, and the process exits at the end
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const say = (obj) =>
  new Promise((resolve) => process.stdout.write(`${JSON.stringify(obj)}\n`, resolve));

class PlainWebSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols, { perMessageDeflate: false });
  }
}

// A client: {ydoc, map, provider, synced (a promise)}.
function open(room) {
  const ydoc = new Y.Doc();
  let provider;
  const synced = new Promise((resolve) => {
    if (cfg.kind === "hocuspocus") {
      provider = new HocuspocusProvider({
        url: cfg.url.replace("http", "ws"),
        name: room,
        document: ydoc,
        WebSocketPolyfill: PlainWebSocket,
        onSynced: () => resolve(),
      });
    } else {
      // No local awareness state, so none is sent: y-websocket's provider re-sends every
      // awareness change it hears, its own or not, so n clients joining one room make n^3
      // messages (pycrdt-websocket did not get 100 clients joined that way).
      const awareness = new Awareness(ydoc);
      awareness.setLocalState(null);
      provider = new WebsocketProvider(cfg.url.replace("http", "ws"), room, ydoc, {
        WebSocketPolyfill: PlainWebSocket,
        disableBc: true,
        awareness,
      });
      provider.once("sync", () => resolve());
    }
  });
  return { ydoc, map: ydoc.getMap("m"), provider, synced };
}

async function openMany(rooms) {
  const out = [];
  // The first client alone: with pycrdt-websocket, clients joining while their room is being
  // created sometimes get no answer and sit until y-websocket reconnects them 30 s later.
  for (let start = 0; start < rooms.length; start += start === 0 ? 1 : 50) {
    const batch = rooms.slice(start, start === 0 ? 1 : start + 50).map(open);
    await Promise.all(batch.map((c) => c.synced));
    out.push(...batch);
  }
  return out;
}

// pycrdt-websocket has no acknowledgement: a sync step 1 sent after some updates is answered
// with a step 2 only once the server has handled them (one connection's messages are handled
// in order), so a step 2 acknowledges every update sent before its step 1.
function probe(client) {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 0); // messageSync
  syncProtocol.writeSyncStep1(encoder, client.ydoc);
  client.provider.ws.send(encoding.toUint8Array(encoder));
}

function onStep2(client, callback) {
  client.provider.ws.addEventListener("message", (event) => {
    const decoder = decoding.createDecoder(new Uint8Array(event.data));
    if (decoding.readVarUint(decoder) === 0 && decoding.readVarUint(decoder) === 1) callback();
  });
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
    client.map.observe((event, transaction) => {
      if (transaction.local) return;
      const t = now();
      for (const key of event.keysChanged) {
        if (!key.startsWith("e")) continue;
        const i = Number(key.slice(1));
        samples.push([i, t - client.map.get(key)]);
        const n = (got.get(i) ?? 0) + 1;
        got.set(i, n);
        if (n === expected(i)) say({ got: i });
      }
    });
  }
  say({ ready: true });
  const cpu = cpuMs(); // the clients' CPU while edits go, all joined
  for (let cmd = await command(); cmd !== null; cmd = await command()) {
    if (cmd.edit !== undefined) {
      wrote.add(cmd.edit);
      clients[cmd.client].map.set(`e${cmd.edit}`, now());
      if (expected(cmd.edit) === 0) say({ got: cmd.edit });
    } else if (cmd.done) {
      await say({ samples, cpu_ms: cpuMs() - cpu });
      break;
    }
  }
  for (const c of clients) c.provider.destroy();
}

async function writers() {
  const clients = await openMany(Array.from({ length: cfg.count }, () => cfg.doc));
  say({ ready: true });
  const cmd = await command();
  const started = now();
  const ends = started + cmd.seconds * 1000;
  const every = 8; // pycrdt: a probe after every 8 updates, two probes in flight (16 updates)
  const results = await Promise.all(
    clients.map(
      (client, w) =>
        new Promise((resolve) => {
          let sent = 0;
          let acked = 0;
          let probes = 0;
          let pumping = false;
          const finish = () => resolve({ sent, acked });
          const pump = () => {
            if (pumping) return;
            pumping = true;
            const key = `w${cfg.first + w}`;
            while (now() < ends) {
              if (cfg.kind === "hocuspocus") {
                if (client.provider.unsyncedChanges >= cfg.window) break;
                client.map.set(key, sent++);
              } else {
                if (probes >= cfg.window / every) break;
                client.map.set(key, sent++);
                if (sent % every === 0) {
                  probes++;
                  probe(client);
                }
              }
            }
            pumping = false;
          };
          if (cfg.kind === "hocuspocus") {
            client.provider.on("unsyncedChanges", ({ number }) => {
              if (pumping) return;
              acked = sent - number;
              if (now() >= ends) {
                if (number === 0) finish();
              } else pump();
            });
          } else {
            onStep2(client, () => {
              probes--;
              acked += every;
              if (now() >= ends) {
                if (probes === 0) finish();
              } else pump();
            });
          }
          pump();
        }),
    ),
  );
  const sent = results.reduce((a, r) => a + r.sent, 0);
  const acked = results.reduce((a, r) => a + r.acked, 0);
  await say({ sent, acked, seconds: (now() - started) / 1000 });
  for (const c of clients) c.provider.destroy();
}

async function make() {
  const [client] = await openMany([cfg.doc]);
  client.ydoc.transact(() => {
    for (let i = 0; i < cfg.keys; i++) client.map.set(`k${i}`, i);
  });
  await new Promise((resolve) => {
    if (cfg.kind === "hocuspocus") {
      const check = ({ number }) => number === 0 && resolve();
      client.provider.on("unsyncedChanges", check);
    } else {
      onStep2(client, resolve);
      probe(client);
    }
  });
  say({ ready: true });
  await command(); // held until stdin closes
  client.provider.destroy();
}

async function join() {
  const times = [];
  for (let r = 0; r < cfg.joins; r++) {
    const t0 = now();
    const client = open(cfg.doc);
    await client.synced;
    const last = client.map.get(`k${cfg.keys - 1}`);
    times.push(now() - t0);
    const ok = last === cfg.keys - 1 && client.map.size === cfg.keys;
    client.provider.destroy();
    if (!ok) {
      await say({ error: `joined with ${client.map.size} keys, not ${cfg.keys}` });
      return;
    }
  }
  await say({ times });
}

async function idle() {
  const rooms = Array.from({ length: cfg.count }, (_, i) => `${cfg.doc}-${(cfg.first + i) % 100}`);
  const clients = await openMany(rooms);
  say({ ready: true });
  await command(); // held until stdin closes
  for (const c of clients) c.provider.destroy();
}

const scenarios = { latency, writers, make, join, idle };
await scenarios[cfg.scenario]();
process.exit(0);
