// The farm dashboard (GET /dashboard): one self-contained page that reads
// GET /farm once and then follows GET /farm/events (server-sent events).
// No external resources: it works on a host without Internet access.
#include "daemon/farm_api.h"

namespace vmhive::daemon {

const char kDashboardPage[] = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>vmhive farm</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header .state { padding: 2px 8px; border-radius: 10px; background: #3a4256; }
  header .state.running { background: #1f7a3f; }
  main { display: grid; grid-template-columns: 3fr 2fr; gap: 16px; padding: 16px 20px; }
  section { background: #fff; border-radius: 6px; padding: 12px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  section h2 { font-size: 14px; margin: 0 0 8px; text-transform: uppercase; letter-spacing: .05em; color: #5a6275; }
  .figures { grid-column: 1 / 3; display: grid; grid-template-columns: repeat(6, 1fr); gap: 12px; }
  .figure { background: #fff; border-radius: 6px; padding: 10px 14px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  .figure .value { font-size: 24px; font-weight: 600; }
  .figure .label { color: #5a6275; font-size: 12px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eceef2; font-variant-numeric: tabular-nums; }
  tr.clone { cursor: pointer; }
  tr.clone:hover, tr.clone.chosen { background: #e8f0fe; }
  .scroll { max-height: 360px; overflow-y: auto; }
  .alert { border-left: 4px solid #c62828; background: #fdecea; margin: 0 0 6px; padding: 4px 8px; }
  .alert .reason { font-weight: 600; color: #b71c1c; }
  pre { background: #11151d; color: #d7dde8; padding: 8px; min-height: 120px; max-height: 300px; overflow: auto;
        white-space: pre-wrap; margin: 0; }
  canvas { width: 100%; height: 90px; }
  .muted { color: #8a91a3; }
</style>
</head>
<body>
<header>
  <h1>vmhive honeyfarm</h1>
  <span class="state" id="state">connecting</span>
  <span>range <b id="range">-</b></span>
  <span>budget <b id="budget">-</b></span>
  <span class="muted" id="updated"></span>
</header>
<main>
  <div class="figures">
    <div class="figure"><div class="value" id="live">0</div><div class="label">live clones</div></div>
    <div class="figure"><div class="value" id="in-rate">0</div><div class="label">frames in / s</div></div>
    <div class="figure"><div class="value" id="out-rate">0</div><div class="label">frames out / s</div></div>
    <div class="figure"><div class="value" id="flow-rate">0</div><div class="label">new flows / s</div></div>
    <div class="figure"><div class="value" id="contained">0</div><div class="label">packets contained</div></div>
    <div class="figure"><div class="value" id="breaches">0</div><div class="label">breaches</div></div>
  </div>
  <section>
    <h2>Live clones by address</h2>
    <canvas id="chart" width="800" height="90"></canvas>
    <div class="scroll"><table>
      <thead><tr><th>address</th><th>clone</th><th>profile</th><th>age</th><th>via</th></tr></thead>
      <tbody id="clones"></tbody>
    </table></div>
  </section>
  <section>
    <h2>Alerts</h2>
    <div class="scroll" id="alerts"><p class="muted">none yet</p></div>
  </section>
  <section>
    <h2>Console <span class="muted" id="console-of">(pick a clone)</span></h2>
    <pre id="console"></pre>
  </section>
  <section>
    <h2>Events</h2>
    <div class="scroll"><table><tbody id="events"></tbody></table></div>
  </section>
</main>
<script>
"use strict";
const bindings = new Map();  // address -> {clone, profile, bound_ms, reflected_from}
const alerts = [];
const events = [];
let counters = {}, previous = null, live = 0, chosen = null, dirty = true;
const history = [];  // {live, in} per stats event, for the chart

const $ = (id) => document.getElementById(id);
const text = (value) => document.createTextNode(String(value));
function cell(row, value) { const td = document.createElement("td"); td.appendChild(text(value)); row.appendChild(td); }
function ipKey(address) { return address.split(".").reduce((n, part) => n * 256 + Number(part), 0); }

const alertKeys = new Set();  // an alert comes from /farm and again in the stream's replay: shown once
function addAlert(alert) {
  const key = alert.time_ms + "/" + alert.clone + "/" + alert.reason;
  if (alertKeys.has(key)) return;
  alertKeys.add(key);
  alerts.unshift(alert);
  alerts.sort((a, b) => b.time_ms - a.time_ms);
  alerts.length = Math.min(alerts.length, 200);
}

function take(event) {
  switch (event.event) {
    case "ready": $("state").textContent = "running"; $("state").className = "state running"; break;
    case "bound":
      bindings.set(event.address, {clone: event.clone, profile: event.profile, bound_ms: event.time_ms,
                                   reflected_from: event.reflected_from || 0});
      break;
    case "reclaimed": case "evicted": case "breach": {
      const bound = bindings.get(event.address);
      if (bound && bound.clone === event.clone) bindings.delete(event.address);
      if (event.event === "breach") addAlert(event);
      break;
    }
    case "stats": {
      const now = {time: event.time_ms, counters: event.counters || {}};
      if (previous && now.time > previous.time) {
        const seconds = (now.time - previous.time) / 1000;
        const rate = (name) => Math.max(0, ((now.counters[name] || 0) - (previous.counters[name] || 0)) / seconds);
        $("in-rate").textContent = Math.round(rate("outside_frames"));
        $("out-rate").textContent = Math.round(rate("forwarded_out"));
        $("flow-rate").textContent = Math.round(rate("flows"));
        history.push({live: event.live || 0, rate: rate("outside_frames")});
        if (history.length > 120) history.shift();
      }
      previous = now;
      counters = now.counters;
      live = event.live || 0;
      break;
    }
    case "stopped": $("state").textContent = "stopped"; $("state").className = "state"; bindings.clear(); break;
  }
  if (event.event !== "stats") { events.unshift(event); events.length = Math.min(events.length, 100); }
  dirty = true;
}

function drawChart() {
  const canvas = $("chart"), context = canvas.getContext("2d");
  context.clearRect(0, 0, canvas.width, canvas.height);
  if (history.length < 2) return;
  const top = Math.max(1, ...history.map((h) => h.live));
  context.strokeStyle = "#1f6feb"; context.lineWidth = 2; context.beginPath();
  history.forEach((h, i) => {
    const x = i * canvas.width / 119, y = canvas.height - 4 - (h.live / top) * (canvas.height - 18);
    if (i === 0) context.moveTo(x, y); else context.lineTo(x, y);
  });
  context.stroke();
  context.fillStyle = "#5a6275"; context.font = "12px sans-serif";
  context.fillText("live clones, last 2 minutes (peak " + top + ")", 4, 12);
}

function render() {
  if (!dirty) return;
  dirty = false;
  $("live").textContent = Math.max(live, bindings.size);
  $("contained").textContent = counters.contained || 0;
  $("breaches").textContent = counters.breaches !== undefined ? counters.breaches : alerts.length;
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  const rows = [...bindings.entries()].sort((a, b) => ipKey(a[0]) - ipKey(b[0])).slice(0, 1000);
  const body = document.createElement("tbody"); body.id = "clones";
  const now = Date.now();
  for (const [address, bound] of rows) {
    const row = document.createElement("tr");
    row.className = "clone" + (address === chosen ? " chosen" : "");
    row.dataset.address = address;
    cell(row, address); cell(row, bound.clone); cell(row, bound.profile);
    cell(row, Math.max(0, Math.round((now - bound.bound_ms) / 1000)) + " s");
    cell(row, bound.reflected_from ? "reflected from clone " + bound.reflected_from : "outside");
    row.addEventListener("click", () => showConsole(address));
    body.appendChild(row);
  }
  $("clones").replaceWith(body);
  const list = $("alerts");
  list.textContent = "";
  if (alerts.length === 0) { const p = document.createElement("p"); p.className = "muted"; p.appendChild(text("none yet")); list.appendChild(p); }
  for (const alert of alerts) {
    const div = document.createElement("div"); div.className = "alert";
    const reason = document.createElement("span"); reason.className = "reason"; reason.appendChild(text(alert.reason));
    div.appendChild(reason);
    div.appendChild(text(" " + alert.address + " (clone " + alert.clone + ", " + alert.profile + ")" +
                         (alert.to ? " to " + alert.to + ":" + alert.port : "") + " at " +
                         new Date(alert.time_ms).toLocaleTimeString()));
    list.appendChild(div);
  }
  const log = document.createElement("tbody"); log.id = "events";
  for (const event of events.slice(0, 50)) {
    const row = document.createElement("tr");
    cell(row, new Date(event.time_ms).toLocaleTimeString());
    cell(row, event.event);
    const rest = Object.assign({}, event); delete rest.time_ms; delete rest.event;
    cell(row, JSON.stringify(rest));
    log.appendChild(row);
  }
  $("events").replaceWith(log);
  drawChart();
}

async function showConsole(address) {
  chosen = address; dirty = true;
  $("console-of").textContent = address;
  const reply = await fetch("/farm/clones/" + address + "/console");
  $("console").textContent = reply.ok ? await reply.text() : "(" + (await reply.json()).error + ")";
}

async function start() {
  try {
    const farm = await (await fetch("/farm")).json();
    if (farm.error) { $("state").textContent = farm.error; return; }
    $("state").textContent = farm.state;
    if (farm.state === "running") $("state").className = "state running";
    $("range").textContent = farm.range || "-";
    $("budget").textContent = farm.budget;
    for (const b of farm.bindings) bindings.set(b.address, b);
    for (const a of farm.alerts) addAlert(a);
    counters = farm.counters || {}; live = farm.live || 0; dirty = true;
  } catch (error) { $("state").textContent = "cannot read /farm"; }
  const stream = new EventSource("/farm/events");
  stream.onmessage = (message) => { try { take(JSON.parse(message.data)); } catch (e) {} };
  stream.onerror = () => { $("state").textContent = "reconnecting"; $("state").className = "state"; };
  setInterval(render, 250);
}
start();
</script>
</body>
</html>
)HTML";

}  // namespace vmhive::daemon
