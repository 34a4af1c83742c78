/**
 * Support of the browser tests: a real `synckit serve` with the examples as static files,
 * Chromium (playwright-core, the system's browser), tokens, the Python command-line client.
 */
import { spawn, execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { chromium } from "playwright-core";

const execFileAsync = promisify(execFile);

/** examples/web. */
export const WEB = resolve(import.meta.dirname, "..");
/** The repository root. */
export const ROOT = resolve(WEB, "..", "..");
/** Python with synckit installed. */
export const PYTHON = process.env.SYNCKIT_PYTHON ?? join(ROOT, ".venv", "bin", "python");
/** Where screenshots go (git-ignored). */
export const ARTIFACTS = process.env.SYNCKIT_ARTIFACTS ?? join(ROOT, "artifacts", "browser");
/** The Chromium binary. */
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** A running `synckit serve --static examples/web/public`. */
export class Server {
  /** @param {string[]} args more `synckit serve` flags */
  constructor(args = []) {
    this.args = args;
    this.url = "";
    this.dir = mkdtempSync(join(tmpdir(), "synckit-browser-"));
    this.child = null;
  }

  /** Start; resolves with the base URL once it listens. */
  async start() {
    const child = spawn(PYTHON, ["-m", "synckit.cli", "serve", "--host", "127.0.0.1", "--port", "0",
      "--data", join(this.dir, "data"), "--static", join(WEB, "public"), ...this.args],
    { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    let out = "";
    child.stderr.on("data", (d) => { out += d.toString(); });
    this.url = await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`synckit serve did not start: ${out}`)), 30_000);
      child.stdout.on("data", (d) => {
        out += d.toString();
        const found = /listening on (http:\/\/[^\s]+)/.exec(out);
        if (found) {
          clearTimeout(timer);
          ok(found[1]);
        }
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        fail(new Error(`synckit serve exited (${code}): ${out}`));
      });
    });
    return this.url;
  }

  /** Stop it and remove its data. */
  async dispose() {
    const child = this.child;
    if (child !== null && child.exitCode === null) {
      await new Promise((ok) => {
        child.once("exit", ok);
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Headless Chromium. */
export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}

/** A secret for `--jwt-secret-file`, written into `dir`; returns [path, secret]. */
export function secretFile(dir) {
  const secret = "browser-tests-secret-0123456789abcdef";
  const path = join(dir, "jwt-secret");
  writeFileSync(path, secret);
  return [path, secret];
}

/** An HS256 JWT as `synckit token` mints it. */
export function mintToken(secret, sub, docs, { admin = false, ttl = 3600 } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const enc = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const head = enc({ alg: "HS256", typ: "JWT" });
  const body = enc({ sub, iat: now - 5, exp: now + ttl, synckit: admin ? { docs, admin: true } : { docs } });
  const sig = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

/** Run examples/todo_cli.py against `url`; its output. */
export async function todoCli(url, dir, ...args) {
  const { stdout } = await execFileAsync(PYTHON, [join(ROOT, "examples", "todo_cli.py"), "--url", url,
    "--user", "terminal", "--store", join(dir, "cli.db"), ...args], { timeout: 60_000 });
  return stdout;
}

/** Save a screenshot of `page` as ARTIFACTS/name.png; returns the path. */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The todo titles a page shows, in order, with a ✓ for done ones. */
export async function todos(page) {
  return page.$$eval("[data-testid=todo]", (items) => items.map((li) => {
    const title = li.querySelector("input.title").value;
    return li.querySelector("input[type=checkbox]").checked ? `${title} ✓` : title;
  }));
}

/** Add an item through the page's form. */
export async function addTodo(page, title) {
  await page.fill("input[aria-label='new item']", title);
  await page.click("button[type=submit]");
  await page.waitForFunction((t) => [...document.querySelectorAll("input.title")].some((i) => i.value === t), title);
}

/** Resolves once `check()` holds (polled), or rejects after `ms`. */
export async function eventually(check, ms = 15_000, what = "condition") {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await check();
    if (last === true) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export { existsSync };
