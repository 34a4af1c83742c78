/**
 * The web examples in headless Chromium against a real `synckit serve`: two people editing
 * one todo list with one of them offline, unsent edits kept across a reload, a revoked
 * permission shown in the page, the Python command-line client's edit reaching the page, and
 * another user's cursor in the note editor. Screenshots go to artifacts/browser/.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Server, addTodo, eventually, launch, mintToken, screenshot, secretFile, todoCli, todos,
} from "./support.mjs";

/** @type {import("playwright-core").Browser} */
let browser;
const servers = [];
const scratch = mkdtempSync(join(tmpdir(), "synckit-browser-cli-"));

async function server(args = []) {
  const s = new Server(args);
  servers.push(s);
  await s.start();
  return s;
}

/**
 * A switch for a context's sync traffic. Chromium's offline emulation (`setOffline`) does
 * not end WebSockets already open, so every sync WebSocket goes through a Playwright route:
 * `cut()` closes those open and refuses new ones (and the HTTP fallback), `restore()` lets
 * them through again.
 */
async function syncSwitch(context) {
  let cut = false;
  const open = new Set();
  await context.routeWebSocket(/\/v1\/sync/, (ws) => {
    if (cut) {
      ws.close({ code: 1011, reason: "network cut by the test" });
      return;
    }
    const server = ws.connectToServer();
    open.add([ws, server]);
  });
  await context.route(/\/v1\/docs\//, (route) => (cut ? route.abort("internetdisconnected") : route.continue()));
  return {
    async cut() {
      cut = true;
      for (const [ws, server] of open) {
        await ws.close({ code: 1011, reason: "network cut by the test" }).catch(() => {});
        await server.close().catch(() => {});
      }
      open.clear();
    },
    restore() {
      cut = false;
    },
  };
}

/** A page of `app` as `user` in a fresh context (its own IndexedDB), once connected. */
async function open(url, app, user, query = "") {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  const sync = await syncSwitch(context);
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error(`[${user}] page error: ${error.message}`));
  await page.goto(`${url}/${app}.html?user=${user}${query}`);
  await page.waitForSelector("[data-testid=status][data-state=online]", { timeout: 15_000 });
  return { context, page, sync };
}

/** Take `who` offline: the browser's network state, and its sync connection. */
async function goOffline(who) {
  await who.context.setOffline(true);
  await who.sync.cut();
  await who.page.waitForSelector("[data-testid=status][data-state=offline][data-connected=false]", { timeout: 15_000 });
}

describe("the web examples in Chromium", () => {
  before(async () => {
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    for (const s of servers) await s.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  test("todo: two people edit one list, one offline; both converge when it is back", async () => {
    const { url } = await server();
    const list = "&list=groceries";
    const ada = await open(url, "todo", "ada", list);
    const bob = await open(url, "todo", "bob", list);
    await ada.page.fill("input[aria-label='list name']", "Groceries for the weekend");
    for (const t of ["Milk", "Bread", "Eggs", "Coffee beans"]) await addTodo(ada.page, t);
    await eventually(async () => (await todos(bob.page)).length === 4, 15_000, "bob to see ada's items");

    await goOffline(bob);
    // Both edit while bob is offline: bob adds, ticks and drags; ada adds, ticks and moves.
    await addTodo(bob.page, "Oranges (bob, offline)");
    await bob.page.click("input[aria-label='done: Bread']");
    const milk = (await todos(bob.page)).indexOf("Milk");
    await bob.page.locator("[data-testid=todo] input.title").nth(milk).fill("Oat milk"); // while ada ticks it
    await bob.page.dragAndDrop("[data-testid=todo]:nth-child(4) .handle", "[data-testid=todo]:nth-child(1)");
    await addTodo(ada.page, "Flowers (ada)");
    await ada.page.click("input[aria-label='done: Milk']");
    await ada.page.click("button[aria-label='move down: Eggs']");
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!(await todos(ada.page)).some((t) => t.startsWith("Oranges")), "bob's offline edit must not reach ada yet");
    assert.match(await bob.page.textContent("[data-testid=sync]"), /Unsent edits saved on this device/);
    await screenshot(bob.page, "todo-offline");

    bob.sync.restore();
    await bob.context.setOffline(false);
    await bob.page.waitForSelector("[data-testid=status][data-state=online]", { timeout: 15_000 });
    await eventually(async () => {
      const [a, b] = [await todos(ada.page), await todos(bob.page)];
      return a.length === 6 && JSON.stringify(a) === JSON.stringify(b);
    }, 20_000, "the two lists to converge");
    const final = await todos(ada.page);
    // Bob's new title and ada's tick of the same item are both kept (each field merges alone).
    for (const t of ["Oat milk ✓", "Bread ✓", "Oranges (bob, offline)", "Flowers (ada)"]) assert.ok(final.includes(t), `${t} in ${final}`);
    assert.equal(await ada.page.textContent("[data-testid=done-count]"), "2");
    assert.equal(await bob.page.textContent("[data-testid=done-count]"), "2");
    // Bob dragged Coffee beans to the top while offline; ada's Eggs move is kept too.
    assert.equal(final[0], "Coffee beans");
    await screenshot(ada.page, "todo");
    await ada.context.close();
    await bob.context.close();
  });

  test("todo: the shared done counter agrees across two people and with the ticked items", async () => {
    const { url } = await server();
    const list = "&list=chores";
    const ada = await open(url, "todo", "ada", list);
    const bob = await open(url, "todo", "bob", list);
    for (const t of ["Dishes", "Laundry", "Plants", "Bins"]) await addTodo(ada.page, t);
    await eventually(async () => (await todos(bob.page)).length === 4, 15_000, "bob to see ada's items");
    /** Both pages show the same items and the same done count, and the count is the ticks shown. */
    const agreed = async (done) => {
      const [a, b] = [await todos(ada.page), await todos(bob.page)];
      const counts = [await ada.page.textContent("[data-testid=done-count]"), await bob.page.textContent("[data-testid=done-count]")];
      const ticked = a.filter((t) => t.endsWith(" ✓")).length;
      return JSON.stringify(a) === JSON.stringify(b) && ticked === done && counts.every((c) => c === String(done));
    };
    // Online: each ticks a different item; each sees the other's tick counted.
    await ada.page.click("input[aria-label='done: Dishes']");
    await bob.page.click("input[aria-label='done: Laundry']");
    await eventually(() => agreed(2), 15_000, "2 done on both pages");
    // Bob offline: both tick Plants (the same item), ada unticks Dishes while bob ticks Bins.
    await goOffline(bob);
    await bob.page.click("input[aria-label='done: Plants']");
    await bob.page.click("input[aria-label='done: Bins']");
    await ada.page.click("input[aria-label='done: Plants']");
    await ada.page.click("input[aria-label='done: Dishes']");
    assert.equal(await bob.page.textContent("[data-testid=done-count]"), "4");
    assert.equal(await ada.page.textContent("[data-testid=done-count]"), "2");
    bob.sync.restore();
    await bob.context.setOffline(false);
    await bob.page.waitForSelector("[data-testid=status][data-state=online]", { timeout: 15_000 });
    // Plants ticked twice is one done item: Laundry, Plants, Bins.
    await eventually(() => agreed(3), 20_000, "3 done on both pages, as many as the ticked items").catch(async (error) => {
      const seen = [await todos(ada.page), await todos(bob.page),
        await ada.page.textContent("[data-testid=done-count]"), await bob.page.textContent("[data-testid=done-count]")];
      throw new Error(`${error.message}: ${JSON.stringify(seen)}`);
    });
    assert.deepEqual(await todos(ada.page), ["Dishes", "Laundry ✓", "Plants ✓", "Bins ✓"]);
    await ada.context.close();
    await bob.context.close();
  });

  test("todo: edits made with no connection survive a reload and are sent once connected", async () => {
    const { url } = await server();
    const cara = await open(url, "todo", "cara", "&list=errands");
    await addTodo(cara.page, "Post the letter");
    await cara.page.waitForSelector("[data-testid=sync]:has-text('All changes synced')");
    await goOffline(cara);
    await addTodo(cara.page, "Pick up the parcel (unsent)");
    await cara.page.click("input[aria-label='done: Post the letter']");
    await new Promise((r) => setTimeout(r, 500)); // the IndexedDB write
    // The tab is closed while offline; the app is opened again with the sync endpoints still
    // cut (the page loads, its client cannot sync), and reloaded once more.
    await cara.page.close();
    await cara.context.setOffline(false);
    cara.page = await cara.context.newPage();
    await cara.page.goto(`${url}/todo.html?user=cara&list=errands`);
    await cara.page.waitForSelector("[data-testid=todo]");
    await cara.page.reload();
    await cara.page.waitForSelector("[data-testid=todo]");
    assert.deepEqual(await todos(cara.page), ["Post the letter ✓", "Pick up the parcel (unsent)"]);
    assert.notEqual(await cara.page.getAttribute("[data-testid=status]", "data-state"), "online");
    const before = await todoCli(url, scratch, "--list", "errands", "list");
    assert.ok(!before.includes("Pick up the parcel"), before);
    cara.sync.restore();
    await cara.page.waitForSelector("[data-testid=status][data-state=online]", { timeout: 20_000 });
    await eventually(async () => (await todoCli(url, scratch, "--list", "errands", "list")).includes("Pick up the parcel (unsent)"),
      20_000, "the server to hold the edit made before the reload");
    await cara.context.close();
  });

  test("todo: a Python command-line client's edit appears in the page", async () => {
    const { url } = await server();
    const dan = await open(url, "todo", "dan", "&list=shared");
    await addTodo(dan.page, "Made in the browser");
    await todoCli(url, scratch, "--list", "shared", "add", "Made in a terminal");
    await todoCli(url, scratch, "--list", "shared", "move", "2", "1");
    await todoCli(url, scratch, "--list", "shared", "done", "1");
    await eventually(async () => JSON.stringify(await todos(dan.page)) === JSON.stringify(["Made in a terminal ✓", "Made in the browser"]),
      15_000, "the terminal's edits in the page");
    assert.equal(await dan.page.textContent("[data-testid=done-count]"), "1");
    await dan.context.close();
  });

  test("todo: a revoked permission shows in the page", async () => {
    const dir = mkdtempSync(join(tmpdir(), "synckit-browser-jwt-"));
    const [secretPath, secret] = secretFile(dir);
    const { url } = await server(["--jwt-secret-file", secretPath]);
    const token = mintToken(secret, "erin", { "team-*": "write" });
    const erin = await open(url, "todo", "erin", `&list=team-list&token=${token}`);
    await addTodo(erin.page, "Allowed edit");
    await erin.page.waitForSelector("[data-testid=sync]:has-text('All changes synced')");
    const admin = mintToken(secret, "ops", {}, { admin: true });
    const put = await fetch(`${url}/v1/admin/access/erin`, {
      method: "PUT",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ docs: { "team-*": "read" } }),
    });
    assert.equal(put.status, 200, await put.text());
    await addTodo(erin.page, "Edit after the revocation");
    await erin.page.waitForSelector("[data-testid=rejected]", { timeout: 15_000 });
    assert.match(await erin.page.textContent("[data-testid=rejected]"), /Read-only.*team-list.*PERMISSION_DENIED/);
    assert.equal(await erin.page.textContent("[data-testid=sync]"), "Edits not accepted by the server");
    await screenshot(erin.page, "todo-revoked");
    const reader = mintToken(secret, "ops", { "*": "read" }, { admin: true });
    const view = await fetch(`${url}/v1/docs/team-list`, { headers: { authorization: `Bearer ${reader}` } });
    const body = await view.text();
    assert.ok(body.includes("Allowed edit") && !body.includes("Edit after the revocation"), body);
    await erin.context.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("notes: another user's cursor and selection show live, and who is here", async () => {
    const { url } = await server();
    const ada = await open(url, "notes", "ada", "&note=plan");
    const bob = await open(url, "notes", "bob", "&note=plan");
    await ada.page.fill("input[aria-label='note title']", "Offsite plan");
    await ada.page.click("[data-testid=note]");
    await ada.page.keyboard.type("Agenda for Friday:\n- welcome and coffee\n- roadmap review\n- team lunch at noon\n");
    await bob.page.waitForFunction(() => document.querySelector("[data-testid=note]").value.includes("team lunch"));
    await bob.page.click("[data-testid=note]");
    await bob.page.keyboard.press("Control+End");
    await bob.page.keyboard.type("- retro (bob)\n");
    // Ada selects "roadmap review".
    await ada.page.evaluate(() => {
      const ta = document.querySelector("[data-testid=note]");
      const start = ta.value.indexOf("roadmap review");
      ta.focus();
      ta.setSelectionRange(start, start);
    });
    for (let i = 0; i < "roadmap review".length; i++) await ada.page.keyboard.press("Shift+ArrowRight");
    await bob.page.waitForSelector("[data-testid=remote-caret][data-name=ada]", { timeout: 15_000 });
    const selections = () => bob.page.$$eval("[data-testid=remote-selection]", (marks) => marks.map((m) => m.textContent));
    await eventually(async () => JSON.stringify(await selections()) === JSON.stringify(["roadmap review"]),
      15_000, "ada's selection on bob's screen").catch(async (error) => {
      const seen = await bob.page.evaluate(() => JSON.stringify([...window.synckit.client.presence("plan").others.values()]));
      const mine = await ada.page.evaluate(() => JSON.stringify(window.synckit.client.presence("plan").state));
      throw new Error(`${error.message}: bob shows ${JSON.stringify(await selections())}, holds ${seen}; ada's state ${mine}`);
    });
    await ada.page.waitForSelector("[data-testid=remote-caret][data-name=bob]", { timeout: 15_000 });
    assert.match(await bob.page.textContent("[data-testid=people]"), /ada/);
    assert.match(await ada.page.textContent("[data-testid=people]"), /bob/);
    // Concurrent typing keeps both texts equal.
    await bob.page.keyboard.type("- wrap-up");
    await eventually(async () => {
      const a = await ada.page.inputValue("[data-testid=note]");
      return a === (await bob.page.inputValue("[data-testid=note]")) && a.includes("- wrap-up");
    }, 15_000, "the two notes to agree");
    // Ada's own selection stayed on her words while bob's text arrived.
    assert.equal(await ada.page.evaluate(() => {
      const ta = document.querySelector("[data-testid=note]");
      return ta.value.slice(ta.selectionStart, ta.selectionEnd);
    }), "roadmap review");
    await screenshot(bob.page, "notes");
    await ada.context.close();
    await bob.context.close();
  });
});
