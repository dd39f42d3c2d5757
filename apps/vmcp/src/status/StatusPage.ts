import { createHash } from "node:crypto"
import type { ServerResponse } from "node:http"

// The page is one static document: the data arrives only over `/status/stream` and is put in the
// DOM with `textContent`/`setAttribute` (never `innerHTML`), so a backend's name or message is
// always text. The inline style and script are allowed by their hashes, nothing else is.

const style = `
:root { color-scheme: light dark; --bg: #fff; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --head: #f6f8fa;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --auth: #8250df; --unknown: #6e7781; --none: #eaeef2; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #8d96a0; --line: #30363d; --head: #161b22;
    --ok: #3fb950; --warn: #d29922; --bad: #f85149; --auth: #a371f7; --unknown: #8b949e; --none: #21262d; }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 1rem 1rem 1.5rem; background: var(--bg); color: var(--fg);
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { font-size: 1.35rem; margin: 0 0 .25rem; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .5rem 1rem; }
.phase { font-weight: 700; font-size: 1.2rem; padding: .1rem .6rem; border-radius: .4rem; border: 2px solid currentColor; }
.muted { color: var(--muted); }
.small { font-size: .85rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--head); font-weight: 600; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
.h-healthy, .p-Ready { color: var(--ok); }
.h-degraded, .p-Degraded, .p-Pending { color: var(--warn); }
.h-unhealthy, .p-Failed { color: var(--bad); }
.h-unauthenticated { color: var(--auth); }
.h-unknown { color: var(--unknown); }
.health { font-weight: 600; white-space: nowrap; }
td.health { white-space: normal; min-width: 10rem; max-width: 16rem; }
td.failure { min-width: 11rem; max-width: 15rem; }
tbody th { white-space: nowrap; }
#backends td.small { min-width: 6rem; }
.msg { display: block; font-weight: 400; color: var(--muted); font-size: .85rem; white-space: normal; overflow-wrap: break-word; }
.timeline { display: grid; grid-template-columns: minmax(6rem, 12rem) 1fr; gap: .35rem 1rem; align-items: center; }
.timeline svg { width: 100%; height: 1.4rem; display: block; border: 1px solid var(--line); border-radius: .25rem; }
.axis { display: flex; justify-content: space-between; }
.seg-healthy { fill: var(--ok); } .seg-degraded { fill: var(--warn); } .seg-unhealthy { fill: var(--bad); }
.seg-unauthenticated { fill: var(--auth); } .seg-unknown { fill: var(--unknown); } .seg-none { fill: var(--none); }
.legend { display: flex; flex-wrap: wrap; gap: .25rem 1rem; margin: .5rem 0 0; padding: 0; list-style: none; }
.swatch { display: inline-block; width: .8rem; height: .8rem; border-radius: .15rem; margin-right: .3rem; vertical-align: -.1rem; }
.sw-healthy { background: var(--ok); } .sw-degraded { background: var(--warn); } .sw-unhealthy { background: var(--bad); }
.sw-unauthenticated { background: var(--auth); } .sw-unknown { background: var(--unknown); } .sw-none { background: var(--none); border: 1px solid var(--line); }
details { margin: .1rem 0 .4rem; } summary { cursor: pointer; }
.conn-live { color: var(--ok); } .conn-down { color: var(--bad); }
`

const script = `"use strict";
(function () {
  var HOUR = 3600000;
  var GLYPH = { healthy: "\\u2713", degraded: "\\u25D0", unhealthy: "\\u2715", unauthenticated: "\\u26A0", unknown: "?" };
  var PHASE_GLYPH = { Ready: "\\u2713", Degraded: "\\u25D0", Failed: "\\u2715", Pending: "\\u2026" };
  var last;
  var $ = function (id) { return document.getElementById(id); };
  function el(tag, cls, children) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    (children || []).forEach(function (c) { e.append(c === undefined || c === null ? "" : c); });
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    return e;
  }
  function ago(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 90) return s + " s";
    var m = Math.round(s / 60);
    if (m < 90) return m + " min";
    var h = Math.round(m / 60);
    return h < 48 ? h + " h" : Math.round(h / 24) + " d";
  }
  function when(t, now) {
    if (!t) return "\\u2014";
    var d = new Date(t);
    var same = new Date(now).toDateString() === d.toDateString();
    return (same ? d.toLocaleTimeString() : d.toLocaleString()) + " (" + ago(now - d.getTime()) + " ago)";
  }
  function whenCell(t, now, cls, extra) {
    if (!t) return el("td", cls, ["\u2014"]);
    var d = new Date(t);
    var same = new Date(now).toDateString() === d.toDateString();
    return el("td", cls, [same ? d.toLocaleTimeString() : d.toLocaleString(), el("span", "msg", [ago(now - d.getTime()) + " ago"]), extra ? el("span", "msg", [extra]) : ""]);
  }
  function pct(x) {
    if (typeof x !== "number") return "\\u2014";
    return (x * 100).toFixed(x === 1 ? 0 : 2) + " %";
  }
  function count(x) { return typeof x === "number" ? String(x) : "\\u2014"; }
  function exitText(x) {
    if (x === undefined || x === null) return "";
    if (typeof x !== "object") return String(x);
    return Object.keys(x).map(function (k) { return k + " " + (typeof x[k] === "object" ? JSON.stringify(x[k]) : String(x[k])); }).join(", ");
  }
  function restartsText(b) {
    if (typeof b.restarts !== "number") return "";
    return b.restarts + " restart(s)" + (b.lastExit ? ", last exit: " + exitText(b.lastExit) : "");
  }
  function healthCell(health, message) {
    var td = el("td", "health h-" + health, [(GLYPH[health] || "?") + "\\u00A0" + health]);
    if (message) td.append(el("span", "msg", [message]));
    return td;
  }
  function renderHeader(doc, now) {
    var phase = $("phase");
    var text = (PHASE_GLYPH[doc.phase] || "") + " " + doc.phase;
    if (phase.textContent !== text) phase.textContent = text;
    phase.className = "phase p-" + doc.phase;
    $("message").textContent = doc.message;
    $("observed").textContent = "observed " + when(doc.observedAt, now);
    document.title = "vmcp: " + doc.phase;
  }
  function renderConditions(doc, now) {
    var body = $("conditions");
    body.replaceChildren.apply(body, (doc.conditions || []).map(function (c) {
      return el("tr", "", [el("th", "", [c.type]), el("td", "", [c.status]), el("td", "", [c.reason]),
        el("td", "", [c.message]), el("td", "small", [when(c.lastTransitionTime, now)])]);
    }));
  }
  function renderBackends(doc, byName, now) {
    var body = $("backends");
    var rows = (doc.backends || []).map(function (b) {
      var h = byName[b.name] || { availability: {} };
      var tr = el("tr", "", [
        el("th", "", [b.name, el("span", "msg", [b.transport]), restartsText(b) ? el("span", "msg", [restartsText(b)]) : ""]),
        healthCell(b.health, b.message),
        el("td", "", [b.circuit]),
        el("td", "num", [count(b.toolCount)]),
        el("td", "num", [count(b.resourceCount)]),
        el("td", "num", [count(b.promptCount)]),
        el("td", "num", [typeof b.latencyMs === "number" ? Math.round(b.latencyMs) + " ms" : "\\u2014"]),
        whenCell(h.healthySince, now, "small"),
        el("td", "num", [pct(h.availability["1h"])]),
        el("td", "num", [pct(h.availability["24h"])]),
        whenCell(h.lastFailureTime, now, "small failure", h.lastFailureReason)
      ]);
      tr.setAttribute("data-backend", b.name);
      tr.setAttribute("data-health", b.health);
      return tr;
    });
    if (rows.length === 0) rows = [el("tr", "", [el("td", "muted", ["no backends configured"])])];
    body.replaceChildren.apply(body, rows);
  }
  function segments(h, now) {
    var start = now - HOUR;
    var out = [];
    var state = "none";
    var from = start;
    (h ? h.transitions : []).forEach(function (t) {
      var at = Date.parse(t.time);
      if (at <= start) { state = t.to; return; }
      if (at > from) out.push({ from: from, to: Math.min(at, now), state: state });
      from = Math.max(from, at); state = t.to;
    });
    out.push({ from: from, to: now, state: state });
    return out.filter(function (s) { return s.to > s.from; });
  }
  function renderTimeline(doc, byName, now) {
    var box = $("timeline");
    var parts = [];
    (doc.backends || []).forEach(function (b) {
      var h = byName[b.name];
      var segs = segments(h, now);
      var label = b.name + ": " + segs.map(function (s) { return s.state === "none" ? "not observed" : s.state; }).join(", then ");
      var chart = svg("svg", { viewBox: "0 0 3600 10", preserveAspectRatio: "none", role: "img", "aria-label": label });
      segs.forEach(function (s) {
        var rect = svg("rect", { x: (s.from - (now - HOUR)) / 1000, y: 0, width: (s.to - s.from) / 1000, height: 10, class: "seg-" + s.state });
        var title = svg("title", {});
        title.textContent = (s.state === "none" ? "not observed" : s.state) + " from " + new Date(s.from).toLocaleTimeString() + " to " + new Date(s.to).toLocaleTimeString();
        rect.append(title);
        chart.append(rect);
      });
      var recent = (h ? h.transitions : []).filter(function (t) { return Date.parse(t.time) > now - HOUR; });
      var details = el("details", "small", [el("summary", "", [recent.length + " transition(s) in the last hour"])]);
      var list = el("ul", "", recent.slice().reverse().map(function (t) {
        return el("li", "", [new Date(t.time).toLocaleTimeString() + " " + (t.from || "new") + " \\u2192 " + t.to + (t.reason ? ": " + t.reason : "")]);
      }));
      details.append(list);
      parts.push(el("div", "", [el("strong", "", [b.name])]), el("div", "", [chart, details]));
    });
    box.replaceChildren.apply(box, parts);
  }
  function render() {
    if (!last) return;
    var now = Date.now();
    var byName = {};
    (last.history || []).forEach(function (h) { byName[h.name] = h; });
    renderHeader(last, now);
    renderConditions(last, now);
    renderBackends(last, byName, now);
    renderTimeline(last, byName, now);
    document.body.setAttribute("data-updated", String(now));
  }
  function connection(live) {
    var c = $("connection");
    c.textContent = live ? "\\u25CF live" : "\\u25CB disconnected, reconnecting\\u2026";
    c.className = "small " + (live ? "conn-live" : "conn-down");
  }
  var source = new EventSource("status/stream");
  source.addEventListener("status", function (e) {
    last = JSON.parse(e.data);
    connection(true);
    render();
  });
  source.addEventListener("open", function () { connection(true); });
  source.addEventListener("error", function () { connection(false); });
  setInterval(render, 10000);
})();
`

const legend = ["healthy", "degraded", "unhealthy", "unauthenticated", "unknown"]
  .map((h) => `<li><span class="swatch sw-${h}"></span>${h}</li>`)
  .join("")

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vmcp status</title>
<style>${style}</style>
</head>
<body>
<header>
<h1>vmcp status</h1>
<p id="phase" class="phase" role="status" aria-live="polite">connecting\u2026</p>
<span id="connection" class="small muted">connecting\u2026</span>
</header>
<p id="message"></p>
<p id="observed" class="small muted"></p>
<h2 id="backends-title">Backends</h2>
<div class="scroll">
<table aria-labelledby="backends-title">
<thead><tr>
<th scope="col">Backend</th><th scope="col">Health</th><th scope="col">Circuit</th><th scope="col">Tools</th>
<th scope="col">Resources</th><th scope="col">Prompts</th><th scope="col">Latency</th><th scope="col">Healthy since</th>
<th scope="col"><abbr title="Availability over the last hour">Avail. 1 h</abbr></th><th scope="col"><abbr title="Availability over the last 24 hours">Avail. 24 h</abbr></th><th scope="col">Last failure</th>
</tr></thead>
<tbody id="backends"></tbody>
</table>
</div>
<h2 id="timeline-title">Last hour</h2>
<div id="timeline" class="timeline" aria-labelledby="timeline-title"></div>
<div class="timeline"><div></div><div class="axis small muted"><span>60 min ago</span><span>30 min ago</span><span>now</span></div></div>
<ul class="legend small">${legend}<li><span class="swatch sw-none"></span>not observed</li></ul>
<h2 id="conditions-title">Conditions</h2>
<div class="scroll">
<table aria-labelledby="conditions-title">
<thead><tr><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Message</th><th scope="col">Since</th></tr></thead>
<tbody id="conditions"></tbody>
</table>
</div>
<p class="small muted">Live from <a href="status/stream">status/stream</a>; the same data as <a href="status">status</a>. History is kept in memory since this process started.</p>
<script>${script}</script>
</body>
</html>
`

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`

/**
 * The page's Content-Security-Policy: only its own inline style and script (by hash), events from
 * its own origin, nothing else (no other script, style, image, font, frame, form or base URL).
 */
export const statusPageCsp = [
  "default-src 'none'",
  `script-src ${sha256(script)}`,
  `style-src ${sha256(style)}`,
  "connect-src 'self'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join("; ")

/**
 * The live status page served at `/`: one self-contained HTML document (inline CSS and JS,
 * nothing fetched from elsewhere) that shows the phase, the backends, their last hour and the
 * conditions, kept current from `/status/stream`.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http"
 * import { serveStatusPage } from "@vmcp-status/vmcp"
 *
 * createServer((_req, res) => serveStatusPage(res)).listen(0, "127.0.0.1")
 * ```
 */
export const serveStatusPage = (res: ServerResponse): void => {
  res.writeHead(200, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "content-security-policy": statusPageCsp,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY"
  })
  res.end(html)
}
