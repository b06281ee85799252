#!/usr/bin/env node
// Banter's browser rig: drives Debian's headless Chromium through
// playwright-core (never a downloaded browser) for Go tests.
//
// Usage: node browser_rig.js <url> <scenario> [--screenshots DIR]
//   <url>       the page every browser page opens first
//   <scenario>  a JSON file, or a name resolved to scenarios/<name>.json
//   DIR         where screenshots go (on failure, and for "screenshot" steps)
//
// Scenario: {"pages": 2, "timeoutMs": 60000, "steps": [step...]}
// Each page lives in its own browser context (separate storage), like two
// users on two machines. A step is {"page": i, "action": A, ...}:
//   goto         value: URL, absolute or relative to <url>
//   click        selector
//   hover        selector (the mouse rests on it: hover menus open)
//   fill         selector, value
//   press        selector, value: key name ("Enter")
//   waitSelector selector (visible)
//   waitText     selector, value: text the element's textContent must contain
//   eval         value: a JS expression evaluated in the page (awaited);
//                expect: JSON value it must equal (polled until timeout);
//                save: name under which the value goes to "results"
//   screenshot   value: file name (without .png)
//   viewport     value: "WIDTHxHEIGHT" in CSS pixels ("390x844" for a phone)
//   colorScheme  value: "light" or "dark" (emulates prefers-color-scheme)
// Optional per step: timeoutMs (default 10000).
//
// Output: one JSON line {"ok": true, "steps": n, "results": {...},
// "console": [...]} and exit 0; on failure a line {"ok": false, "error": ...,
// "step": i, "screenshots": [...]} and exit 1. Bad usage exits 2. Uncaught
// errors in a page fail the run.
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.BANTER_CHROMIUM || '/usr/bin/chromium';
// The machine has no internet: without these flags Chromium keeps trying to
// reach Google's services; --no-sandbox because tests run as root.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic',
];
const DEFAULT_STEP_TIMEOUT = 10000;
const DEFAULT_TIMEOUT = 60000;

function usage(msg) {
  process.stderr.write(`browser_rig: ${msg}\nusage: node browser_rig.js <url> <scenario.json|name> [--screenshots DIR]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const pos = [];
  let shots = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--screenshots') {
      shots = argv[++i];
      if (!shots) usage('--screenshots needs a directory');
    } else {
      pos.push(argv[i]);
    }
  }
  if (pos.length !== 2) usage('expected exactly a URL and a scenario');
  try { new URL(pos[0]); } catch { usage(`not a URL: ${pos[0]}`); }
  return { url: pos[0], scenario: pos[1], shots };
}

function loadScenario(arg) {
  let file = arg;
  if (!arg.endsWith('.json')) {
    if (!/^[a-z0-9_-]+$/i.test(arg)) usage(`bad scenario name: ${arg}`);
    file = path.join(__dirname, 'scenarios', `${arg}.json`);
  }
  let sc;
  try {
    sc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    usage(`cannot read scenario ${file}: ${e.message}`);
  }
  const pages = sc.pages === undefined ? 2 : sc.pages;
  if (!Number.isInteger(pages) || pages < 1 || pages > 8) usage(`scenario ${file}: pages must be 1..8`);
  if (!Array.isArray(sc.steps) || sc.steps.length === 0) usage(`scenario ${file}: steps must be a non-empty array`);
  sc.steps.forEach((s, i) => {
    const where = `scenario ${file} step ${i}`;
    if (!Number.isInteger(s.page || 0) || (s.page || 0) < 0 || (s.page || 0) >= pages) usage(`${where}: page out of range`);
    if (!ACTIONS[s.action]) usage(`${where}: unknown action ${JSON.stringify(s.action)}`);
    for (const f of ACTIONS[s.action].needs) {
      if (typeof s[f] !== 'string') usage(`${where}: ${s.action} needs a string "${f}"`);
    }
  });
  return { pages, timeoutMs: sc.timeoutMs || DEFAULT_TIMEOUT, steps: sc.steps };
}

function sameJSON(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

const ACTIONS = {
  goto: { needs: ['value'], run: (p, s, ctx) => p.goto(new URL(s.value, ctx.url).href, { timeout: s.timeout }) },
  click: { needs: ['selector'], run: (p, s) => p.click(s.selector, { timeout: s.timeout }) },
  hover: { needs: ['selector'], run: (p, s) => p.hover(s.selector, { timeout: s.timeout }) },
  fill: { needs: ['selector', 'value'], run: (p, s) => p.fill(s.selector, s.value, { timeout: s.timeout }) },
  press: { needs: ['selector', 'value'], run: (p, s) => p.press(s.selector, s.value, { timeout: s.timeout }) },
  waitSelector: { needs: ['selector'], run: (p, s) => p.waitForSelector(s.selector, { state: 'visible', timeout: s.timeout }) },
  waitText: {
    needs: ['selector', 'value'],
    run: async (p, s) => {
      try {
        await p.waitForFunction(
          ([sel, text]) => { const el = document.querySelector(sel); return !!el && el.textContent.includes(text); },
          [s.selector, s.value], { timeout: s.timeout, polling: 50 });
      } catch (e) {
        const got = await p.$eval(s.selector, (el) => el.textContent).catch(() => '(no such element)');
        throw new Error(`text ${JSON.stringify(s.value)} not found in ${s.selector} within ${s.timeout} ms; it holds ${JSON.stringify(got.slice(-500))}`);
      }
    },
  },
  eval: {
    needs: ['value'],
    run: async (p, s, ctx) => {
      const evalOnce = () => p.evaluate(`(async () => (${s.value}))()`);
      let v = await evalOnce();
      if (s.expect !== undefined) {
        const deadline = Date.now() + s.timeout;
        while (!sameJSON(v, s.expect)) {
          if (Date.now() > deadline) {
            throw new Error(`eval ${s.value}: got ${JSON.stringify(v)}, want ${JSON.stringify(s.expect)}`);
          }
          await new Promise((r) => setTimeout(r, 50));
          v = await evalOnce();
        }
      }
      if (s.save) ctx.results[s.save] = v;
    },
  },
  viewport: {
    needs: ['value'],
    run: (p, s) => {
      const m = /^(\d{2,4})x(\d{2,4})$/.exec(s.value);
      if (!m) throw new Error(`viewport ${JSON.stringify(s.value)}: want WIDTHxHEIGHT`);
      return p.setViewportSize({ width: Number(m[1]), height: Number(m[2]) });
    },
  },
  colorScheme: {
    needs: ['value'],
    run: (p, s) => {
      if (s.value !== 'light' && s.value !== 'dark') throw new Error(`colorScheme ${JSON.stringify(s.value)}: want light or dark`);
      return p.emulateMedia({ colorScheme: s.value });
    },
  },
  screenshot: {
    needs: ['value'],
    run: async (p, s, ctx) => {
      if (!/^[a-z0-9_-]+$/i.test(s.value)) throw new Error(`bad screenshot name ${s.value}`);
      const file = path.join(ctx.shots, `${s.value}.png`);
      await p.screenshot({ path: file, fullPage: true });
      ctx.results[`screenshot:${s.value}`] = file;
    },
  },
};

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const sc = loadScenario(args.scenario);
  const shots = args.shots || fs.mkdtempSync(path.join(require('os').tmpdir(), 'banter-rig-'));
  fs.mkdirSync(shots, { recursive: true });
  if (!fs.existsSync(CHROMIUM)) {
    emit({ ok: false, error: `no Chromium at ${CHROMIUM}: run scripts/deps.sh (it installs Debian's chromium)`, step: -1 });
    process.exit(1);
  }

  const ctx = { url: args.url, results: {}, shots };
  const consoleLines = [];
  const pageErrors = [];
  let browser;
  let current = -1;
  const pages = [];

  let failing = false;
  const fail = async (err) => {
    // The overall timeout and the step it interrupts may both fail the run.
    if (failing) return;
    failing = true;
    const files = [];
    for (let i = 0; i < pages.length; i++) {
      const file = path.join(shots, `failure-page${i}.png`);
      try {
        await pages[i].screenshot({ path: file, fullPage: true, timeout: 5000 });
        files.push(file);
      } catch (e) {
        consoleLines.push(`rig: screenshot of page ${i} failed: ${e.message}`);
      }
    }
    emit({ ok: false, error: String(err && err.message || err), step: current, screenshots: files, console: consoleLines });
    for (const f of files) process.stderr.write(`SCREENSHOT ${f}\n`);
    if (browser) await browser.close().catch(() => {});
    process.exit(1);
  };

  const overall = setTimeout(() => fail(new Error(`scenario did not finish within ${sc.timeoutMs} ms`)), sc.timeoutMs);

  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 30000 });
    for (let i = 0; i < sc.pages; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.on('console', (m) => consoleLines.push(`page${i} ${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => pageErrors.push(`page${i}: ${e.message}`));
      pages.push(page);
      await page.goto(args.url, { timeout: 15000 });
    }
    for (current = 0; current < sc.steps.length; current++) {
      const s = { ...sc.steps[current] };
      s.timeout = s.timeoutMs || DEFAULT_STEP_TIMEOUT;
      await ACTIONS[s.action].run(pages[s.page || 0], s, ctx);
      if (pageErrors.length) throw new Error(`uncaught error in page: ${pageErrors.join('; ')}`);
    }
  } catch (e) {
    await fail(e);
    return;
  }
  clearTimeout(overall);
  await browser.close();
  emit({ ok: true, steps: sc.steps.length, results: ctx.results, console: consoleLines });
}

main().catch((e) => {
  emit({ ok: false, error: `rig crashed: ${e && e.stack || e}`, step: -1 });
  process.exit(1);
});
