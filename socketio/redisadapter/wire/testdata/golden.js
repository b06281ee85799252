// Writes notepack_golden.json: MessagePack bytes made by notepack.io (the
// codec of @socket.io/redis-adapter and @socket.io/redis-emitter) for the
// values below, with the JSON socket.io-parser would send for them
// (Buffers as placeholders). Regenerate with:
//   NODE_PATH=../../../../node_modules node golden.js > notepack_golden.json
"use strict";
const notepack = require("notepack.io");

function deconstruct(v, atts) {
  if (Buffer.isBuffer(v)) {
    atts.push(v.toString("hex"));
    return { _placeholder: true, num: atts.length - 1 };
  }
  if (Array.isArray(v)) return v.map((e) => deconstruct(e, atts));
  if (v && typeof v === "object" && !(v instanceof Date)) {
    const o = {};
    for (const k of Object.keys(v)) o[k] = deconstruct(v[k], atts);
    return o;
  }
  return v;
}

function reconstruct(v, atts) {
  if (Array.isArray(v)) return v.map((e) => reconstruct(e, atts));
  if (v && typeof v === "object") {
    if (v._placeholder === true) return Buffer.from(atts[v.num], "hex");
    const o = {};
    for (const k of Object.keys(v)) o[k] = reconstruct(v[k], atts);
    return o;
  }
  return v;
}

const long = (n) => "x".repeat(n);
const obj = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => ["k" + i, i]));
const cases = {
  broadcast: ["abc123", { type: 2, data: ["chat message", "hi", 1, { a: [true, false, null] }], nsp: "/" }, { rooms: ["r1"], except: [], flags: {} }],
  emitter: ["emitter", { type: 2, data: ["news", { n: 1 }], nsp: "/admin" }, { rooms: [], flags: { volatile: true }, except: ["x", "y"] }],
  binary: ["bin", Buffer.from([1, 2, 3]), { nested: [Buffer.alloc(0), Buffer.alloc(300, 7)] }],
  ints: [0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -(2 ** 53 - 1)],
  // Not here: integral numbers of 2^64 and more, which notepack writes as a
  // wrong uint64 (Banter writes them as float64: TestHugeIntegralFloat).
  floats: [0.1, -2.5, 1e-7, 123456.789, 5e-324, -1.5e-300],
  integralFloats: [1.0, 1e3, -0],
  strings: ["", "é", "😀 emoji", "\"quoted\\\n\t\u0001", long(31), long(32), long(255), long(256)],
  arrays: [Array(15).fill(1), Array(16).fill(2)],
  maps: [obj(15), obj(16)],
  date: [new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)), new Date(-1000)],
  undefinedValues: [undefined, { a: undefined, b: 1 }],
  nonFinite: [NaN, Infinity, -Infinity],
  request: { uid: "u1", requestId: "r1", type: 7, packet: { type: 2, data: ["ev", Buffer.from("ab")], nsp: "/" }, opts: { rooms: [], except: ["e"], flags: { timeout: 1000 } } },
  ack: { type: 9, requestId: "r1", packet: { ok: true, blob: Buffer.from([255]) } },
};

const out = [];
for (const [name, value] of Object.entries(cases)) {
  const atts = [];
  const encoded = notepack.encode(value);
  const hex = encoded.toString("hex");
  // The JSON of what a Node peer decodes (Dates become ISO strings).
  const json = JSON.stringify(deconstruct(notepack.decode(encoded), atts));
  // Does notepack write the same bytes for the value JSON describes (no
  // Dates, undefined or non-finite numbers)? Then Go must write them too.
  const again = notepack.encode(reconstruct(JSON.parse(json), atts)).toString("hex");
  out.push({ name, hex, json, attachments: atts, encodable: again === hex });
}
process.stdout.write(JSON.stringify(out, null, 1) + "\n");
