/** content_deflate: reading Python's zlib bytes, round trips, and hostile bytes. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { zlibSync } from "fflate";
import { deflateContent, inflateContent } from "../src/core/text/index.js";
import { DecodeError } from "../src/errors.js";

const FILE = resolve(import.meta.dirname, "..", "..", "test", "vectors", "text", "deflate.json");
const rows = JSON.parse(readFileSync(FILE, "utf8")) as { content: string; zlib: string }[];

test("Python's deflated text reads back; ours round-trips", () => {
  for (const { content, zlib } of rows) {
    const bytes = Uint8Array.from(Buffer.from(zlib, "hex"));
    assert.equal(inflateContent(bytes, 10_000, "t"), content);
    assert.equal(inflateContent(deflateContent(content), 10_000, "t"), content);
  }
});

test("hostile deflated text: DecodeError, naming the problem", () => {
  const good = deflateContent("ab😀c".repeat(100));
  const bad = (data: Uint8Array, max: number, what: RegExp): void => {
    assert.throws(() => inflateContent(data, max, "t"), (e: unknown) => e instanceof DecodeError && what.test(e.message));
  };
  bad(good.subarray(0, good.length - 6), 10_000, /truncated|corrupt/);
  bad(good.subarray(0, 3), 10_000, /truncated/);
  bad(good, 10, /longer than the version allows/);
  bad(Uint8Array.from([...good, 1, 2, 3]), 10_000, /corrupt/);
  const flipped = Uint8Array.from(good);
  flipped[flipped.length - 1]! ^= 1;
  bad(flipped, 10_000, /corrupt/);
  bad(Uint8Array.from([1, 2, 3, 4, 5, 6, 7]), 10_000, /corrupt/);
  bad(zlibSync(Uint8Array.from([0xff, 0xfe, 0x80])), 10_000, /not UTF-8/);
  // a bomb: a megabyte of zeros from a kilobyte, refused for a short text
  bad(zlibSync(new Uint8Array(1 << 20), { level: 9 }), 1000, /longer than the version allows/);
});
