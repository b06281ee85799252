// Banter operator status page: polls /status.json and shows counts and
// rates (computed from the difference between two polls). It renders
// with textContent only.
"use strict";

const POLL_MS = 2000;
let prev = null; // the previous document, for rates

function $(id) { return document.getElementById(id); }

function fmtInt(n) { return Math.round(n).toLocaleString("en-US"); }

function fmtRate(n) { return n < 10 ? n.toFixed(1) : fmtInt(n); }

function fmtBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function fmtDuration(s) {
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  if (d > 0) return d + "d " + h + "h";
  if (h > 0) return h + "h " + m + "m";
  return m + "m " + (s % 60) + "s";
}

// rate returns the per-second rate of a counter that went from was (in
// the document before) to is (in now), or null when there is no earlier
// document (or the counter went back: the server restarted).
function rate(now, before, is, was) {
  if (!before) return null;
  const dt = (now.time - before.time) / 1000;
  const dv = is - was;
  if (dt <= 0 || dv < 0) return null;
  return dv / dt;
}

function setText(id, text) { $(id).textContent = text; }

function render(doc) {
  setText("connectionsOpen", fmtInt(doc.connectionsOpen));
  setText("usersOnline", fmtInt(doc.usersOnline));
  setText("rooms", fmtInt(doc.rooms));
  const mr = prev && rate(doc, prev, doc.messagesStored, prev.messagesStored);
  const dr = prev && rate(doc, prev, doc.messageDeliveries, prev.messageDeliveries);
  setText("messagesRate", mr == null ? "–" : fmtRate(mr));
  setText("deliveriesRate", dr == null ? "–" : fmtRate(dr));
  setText("slowConsumers", fmtInt(doc.slowConsumers));
  setText("store", doc.store);
  setText("bus", doc.node ? doc.bus + " (node " + doc.node + ")" : doc.bus);
  setText("uptime", fmtDuration(doc.uptimeSeconds));
  setText("messagesStored", fmtInt(doc.messagesStored));
  setText("queuedBytes", fmtBytes(doc.queuedBytes));
  setText("goroutines", fmtInt(doc.goroutines));
  setText("heapBytes", fmtBytes(doc.heapBytes));

  const body = $("connections");
  const rows = [];
  for (const c of doc.connections) {
    const tr = document.createElement("tr");
    const before = prev && prev.connections.find(p => p.gateway === c.gateway && p.transport === c.transport);
    const r = before ? rate(doc, prev, c.opened, before.opened) : null;
    for (const [text, num] of [[c.gateway, false], [c.transport, false], [fmtInt(c.open), true],
                               [fmtInt(c.opened), true], [r === null ? "–" : fmtRate(r), true]]) {
      const td = document.createElement("td");
      td.textContent = text;
      if (num) td.className = "num";
      tr.appendChild(td);
    }
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  prev = doc;
}

function setState(text, cls) {
  const el = $("state");
  el.textContent = text;
  el.className = "state " + cls;
}

async function poll() {
  try {
    const res = await fetch("/status.json", { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    const doc = await res.json();
    render(doc);
    setState("live, updated " + new Date(doc.time).toLocaleTimeString(), "good");
  } catch (err) {
    setState("cannot reach the server (" + err.message + "); retrying", "bad");
  }
  setTimeout(poll, POLL_MS);
}

poll();
