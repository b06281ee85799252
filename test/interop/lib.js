// Shared helpers of the interop scenarios: argument parsing, bounded waits,
// deep comparison that treats every binary type as bytes, and the one-line
// JSON report the Go test reads.
'use strict';

const assert = require('assert');

const STEP_TIMEOUT = 5000;

// scenario runs fn(url, check) with an overall timeout and reports:
// stdout gets one JSON line {"scenario", "ok", "checks", ...extra}; exit 0 on
// success, 1 on failure (with the reason on stderr too), 2 on bad usage.
function scenario(name, fn, { timeout = 30000 } = {}) {
  const url = process.argv[2];
  if (!url || !/^https?:\/\//.test(url)) {
    process.stderr.write(`usage: node ${name}.js http://HOST:PORT\n`);
    process.exit(2);
  }
  const checks = [];
  const check = (what) => checks.push(what);
  let done = false;
  const finish = (err, extra) => {
    if (done) return;
    done = true;
    if (err) {
      const msg = `${name}: ${err && err.message || err}`;
      process.stdout.write(JSON.stringify({ scenario: name, ok: false, error: msg, checks }) + '\n');
      process.stderr.write(`FAIL ${msg}\n${err && err.stack || ''}\n`);
      process.exit(1);
    }
    process.stdout.write(JSON.stringify({ scenario: name, ok: true, checks, ...extra }) + '\n');
    process.exit(0);
  };
  setTimeout(() => finish(new Error(`timed out after ${timeout} ms; passed so far: ${checks.join(', ') || 'none'}`)), timeout).unref();
  process.on('unhandledRejection', (e) => finish(e));
  process.on('uncaughtException', (e) => finish(e));
  Promise.resolve().then(() => fn(url.replace(/\/$/, ''), check)).then((extra) => finish(null, extra), (e) => finish(e));
}

// once resolves with the arguments of the next `event` on emitter (an array),
// rejects after ms, or as soon as one of failOn fires (e.g. 'connect_error').
function once(emitter, event, { ms = STEP_TIMEOUT, failOn = [] } = {}) {
  return new Promise((resolve, reject) => {
    const cleanups = [];
    const cleanup = () => cleanups.forEach((f) => f());
    const on = (ev, h) => {
      emitter.on(ev, h);
      cleanups.push(() => (emitter.off || emitter.removeListener).call(emitter, ev, h));
    };
    const timer = setTimeout(() => { cleanup(); reject(new Error(`no "${event}" within ${ms} ms`)); }, ms);
    cleanups.push(() => clearTimeout(timer));
    on(event, (...args) => { cleanup(); resolve(args); });
    for (const ev of failOn) {
      on(ev, (e) => { cleanup(); reject(new Error(`"${ev}" while waiting for "${event}": ${e && e.message || e}`)); });
    }
  });
}

// times resolves once `event` fired n times.
function times(emitter, event, n, ms = STEP_TIMEOUT) {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const h = () => {
      if (++seen === n) { clearTimeout(timer); (emitter.off || emitter.removeListener).call(emitter, event, h); resolve(); }
    };
    const timer = setTimeout(() => reject(new Error(`"${event}" fired ${seen} of ${n} times within ${ms} ms`)), ms);
    emitter.on(event, h);
  });
}

// emitAck emits with an ack callback (works with socket.io-client 2 and 4) and
// resolves with the ack's arguments.
function emitAck(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for "${event}" within ${STEP_TIMEOUT} ms`)), STEP_TIMEOUT);
    socket.emit(event, ...args, (...reply) => { clearTimeout(timer); resolve(reply); });
  });
}

// bytes maps every binary value (Buffer, ArrayBuffer, typed array) to a
// Buffer, recursively: clients decode binary into different types.
function bytes(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(bytes);
  if (v && typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v)) out[k] = bytes(v[k]);
    return out;
  }
  return v;
}

function same(actual, expected, what) {
  try {
    assert.deepStrictEqual(bytes(actual), bytes(expected));
  } catch {
    throw new Error(`${what}: got ${show(actual)}, want ${show(expected)}`);
  }
}

function show(v) {
  return JSON.stringify(bytes(v), (k, x) => (x && x.type === 'Buffer' && Array.isArray(x.data) ? `<bytes ${x.data.join(',')}>` : x));
}

function truthy(cond, what) {
  if (!cond) throw new Error(what);
}

module.exports = { scenario, once, times, emitAck, same, truthy, bytes, STEP_TIMEOUT };
