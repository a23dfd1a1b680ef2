// The openrras console. No framework, no inline script: one file that draws
// the view for the current path from the daemon's JSON API and keeps it
// live from its Server-Sent Events.
"use strict";

const state = { me: null, events: null, refresh: null, timer: null };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== false && v !== null && v !== undefined) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = Number(n), u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

function duration(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

function when(unix) {
  return unix ? new Date(unix * 1000).toLocaleString() : "—";
}

async function api(path, options) {
  const r = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
  if (r.status === 401) { location.href = "/login"; throw new Error("signed out"); }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(body.message || r.statusText), { body });
  return body;
}

function post(path) {
  return api(path, { method: "POST", headers: { "X-CSRF-Token": state.me.csrf } });
}

function stopLive() {
  if (state.events) { state.events.close(); state.events = null; }
  if (state.timer) { clearInterval(state.timer); state.timer = null; }
  state.refresh = null;
}

// One EventSource for the page: every change schedules one refresh of what
// is on screen (coalesced), a resync reloads it.
function live(refresh, touches) {
  state.refresh = refresh;
  state.touches = touches || null;
  if (state.events) return;
  let pending = null;
  state.events = new EventSource("/api/events");
  const kick = () => {
    if (pending) return;
    pending = setTimeout(() => { pending = null; if (state.refresh) state.refresh(); }, 50);
  };
  // The daemon sends at most one event per 150 ms with what changed; a
  // page asks again only when it can touch what it shows (state.touches,
  // set by the page; every batch when it has none).
  state.events.addEventListener("changes", (ev) => {
    let batch = null;
    try { batch = JSON.parse(ev.data); } catch (e) { batch = null; }
    if (batch && state.touches && !state.touches(batch)) return;
    kick();
  });
  state.events.addEventListener("resync", () => { state.events.close(); state.events = null; live(state.refresh, state.touches); kick(); });
  // The credential this page signed in with was revoked: back to sign-in.
  state.events.addEventListener("signed-out", () => { state.events.close(); state.events = null; location.href = "/login"; });
}

function go(path) {
  history.pushState(null, "", path);
  route();
}

// ---- Connections: filtering, sorting and paging in the daemon; only the
// rows in view are in the DOM.
const ROW = 34;
const list = { sort: "handle", dir: "asc", q: "", engine: "", offset: 0, matching: 0 };

const COLUMNS = [
  ["handle", "Handle"], ["user", "User"], ["engine", "Engine"], ["interface", "Interface"],
  ["address", "Address"], ["duration", "Duration"], ["rx", "Received"], ["tx", "Sent"],
];

function connectionsView(view) {
  const search = el("input", { type: "search", id: "search", placeholder: "Search user, address, interface, session id… (beginnings of words)", "aria-label": "Search", value: list.q });
  const engine = el("select", { id: "engine", "aria-label": "Engine" }, el("option", { value: "", text: "All engines" }));
  for (const e of ["radius", "wireguard", "openvpn", "ocserv", "strongswan", "softether", "report"]) engine.append(el("option", { value: e, text: e }));
  engine.value = list.engine;
  const counts = el("p", { id: "counts", class: "counts", "aria-live": "polite" });
  const head = el("div", { class: "row head", role: "row" });
  for (const [key, label] of COLUMNS) {
    const b = el("button", { type: "button", class: "sort", "data-key": key, text: label });
    b.addEventListener("click", () => {
      list.dir = list.sort === key && list.dir === "asc" ? "desc" : "asc";
      list.sort = key;
      refresh();
    });
    head.append(el("div", { class: `cell c-${key}`, role: "columnheader" }, b));
  }
  const spacer = el("div", { class: "spacer" });
  const rows = el("div", { class: "rows", role: "rowgroup" });
  const scroller = el("div", { class: "scroller", id: "scroller", role: "table", "aria-label": "Active connections" }, head, spacer, rows);
  view.replaceChildren(el("h1", { text: "Active connections" }), el("div", { class: "toolbar" }, search, engine), counts, scroller);

  let typing = null;
  search.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => { list.q = search.value; refresh(); }, 200); });
  engine.addEventListener("change", () => { list.engine = engine.value; refresh(); });
  scroller.addEventListener("scroll", () => { if (!pendingScroll) pendingScroll = requestAnimationFrame(() => { pendingScroll = null; refresh(); }); });
  let pendingScroll = null, seq = 0;
  // The handles on screen: an update elsewhere cannot change this window
  // unless it can move rows (a sort by counters); a start or an end can
  // change the count and shift every row.
  let shown = new Set();
  const touches = (b) => b.started > 0 || b.ended > 0 || b.more || list.sort === "rx" || list.sort === "tx" ||
    b.handles.some((h) => shown.has(h));

  async function refresh() {
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW) - 5);
    const count = Math.ceil(scroller.clientHeight / ROW) + 15;
    const params = new URLSearchParams({ offset: first, limit: count, sort: list.sort, dir: list.dir, q: list.q, engine: list.engine });
    const mine = ++seq;
    let data;
    try {
      data = await api(`/api/connections?${params}`);
    } catch (e) {
      // Asked too often (429): ask again in a moment, once.
      if (mine === seq) setTimeout(() => { if (mine === seq) refresh(); }, 300);
      return;
    }
    if (mine !== seq) return;
    list.matching = data.matching;
    const engines = Object.entries(data.per_engine).map(([e, n]) => `${e} ${n}`).join(" · ");
    counts.textContent = `${data.total} connection(s)` + (engines ? ` — ${engines}` : "") + (data.matching !== data.total ? ` — ${data.matching} shown by the filter` : "");
    spacer.style.height = `${data.matching * ROW}px`;
    for (const b of head.querySelectorAll("button.sort")) {
      const on = b.dataset.key === list.sort;
      b.parentElement.setAttribute("aria-sort", on ? (list.dir === "asc" ? "ascending" : "descending") : "none");
    }
    const drawn = data.rows.map((r, i) => {
      const line = el("a", { class: "row", role: "row", href: `/connections/${r.handle}`, "data-handle": r.handle },
        el("div", { class: "cell c-handle", role: "cell", text: r.handle }),
        el("div", { class: "cell c-user", role: "cell", text: r.user }),
        el("div", { class: "cell c-engine", role: "cell", text: r.instance !== r.engine ? `${r.engine}/${r.instance}` : r.engine }),
        el("div", { class: "cell c-interface", role: "cell", text: r.interface }),
        el("div", { class: "cell c-address", role: "cell", text: r.address }),
        el("div", { class: "cell c-duration", role: "cell", text: duration(r.duration_secs) }),
        el("div", { class: "cell c-rx", role: "cell", text: bytes(r.rx) }),
        el("div", { class: "cell c-tx", role: "cell", text: bytes(r.tx) }));
      line.style.top = `${(data.offset + i) * ROW + ROW}px`;
      line.addEventListener("click", (ev) => { ev.preventDefault(); go(`/connections/${r.handle}`); });
      return line;
    });
    rows.replaceChildren(...drawn);
    shown = new Set(data.rows.map((r) => r.handle));
  }
  live(refresh, touches);
  refresh();
}

// ---- One connection: every field in words, and its throughput.
function graph(points, label) {
  const w = 600, h = 120;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("class", "graph");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const max = Math.max(1, ...points.map((p) => p.v));
  const coords = points.map((p, i) => `${(i / Math.max(1, points.length - 1)) * w},${h - (p.v / max) * (h - 10)}`).join(" ");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", coords);
  svg.append(line);
  return svg;
}

function field(dl, name, value) {
  dl.append(el("dt", { text: name }), el("dd", { text: value === null || value === undefined || value === "" ? "—" : String(value) }));
}

function detailView(view, handle) {
  const samples = [];
  async function refresh() {
    let d;
    try {
      d = await api(`/api/connections/${handle}`);
    } catch (e) {
      view.replaceChildren(el("h1", { text: `Connection ${handle}` }), el("p", { id: "gone", text: "This connection has ended." }), el("a", { href: "/history", text: "See the history" }));
      stopLive();
      return;
    }
    samples.push({ t: d.now, rx: d.counters.bytes_rcved, tx: d.counters.bytes_xmited });
    if (samples.length > 300) samples.shift();
    const rate = [];
    for (let i = 1; i < samples.length; i++) {
      const dt = Math.max(1, samples[i].t - samples[i - 1].t);
      rate.push({ v: Math.max(0, (samples[i].rx - samples[i - 1].rx + samples[i].tx - samples[i - 1].tx) / dt) });
    }
    const r = d.row;
    const who = el("dl", { class: "fields", id: "fields" });
    field(who, "User", r.user);
    field(who, "Remote computer", d.remote_computer);
    field(who, "Engine", `${r.engine} (instance ${r.instance})`);
    field(who, "VPN type", r.vpn_type);
    field(who, "Authentication", d.authentication);
    field(who, "Interface", r.interface);
    field(who, "Started", when(r.started_at));
    field(who, "Connected for", duration(r.duration_secs));
    field(who, "Control protocol", d.projection);
    field(who, "Flags", d.flags.join(", "));
    field(who, "Client IPv4 address", d.ipv4.client);
    field(who, "Server IPv4 address", d.ipv4.server);
    field(who, "Client IPv6 address", d.ipv6.client);
    field(who, "IPv6 prefix", d.ipv6.prefix_length ? `${d.ipv6.prefix}/${d.ipv6.prefix_length}` : "");
    field(who, "Client interface identifier", d.ipv6.remote_interface_identifier);
    field(who, "Remote endpoint", d.remote_endpoint);
    field(who, "Local endpoint", d.local_endpoint);
    field(who, "NAS", d.nas);
    field(who, "Engine session id", d.session_id);
    field(who, "GUID", d.guid);
    field(who, "Quarantine", d.quarantine_state);
    const counters = el("dl", { class: "fields", id: "counters" });
    const c = d.counters;
    field(counters, "Bytes received", `${c.bytes_rcved} (${bytes(c.bytes_rcved)})`);
    field(counters, "Bytes sent", `${c.bytes_xmited} (${bytes(c.bytes_xmited)})`);
    field(counters, "Packets received", c.frames_rcved);
    field(counters, "Packets sent", c.frames_xmited);
    field(counters, "Errors (CRC, timeout, alignment, overrun, framing, buffer)", [c.crc_err, c.timeout_err, c.alignment_err, c.hardware_overrun_err, c.framing_err, c.buffer_overrun_err].join(", "));
    for (const [k, v] of d.attributes) field(counters, k, v);
    const actions = el("div", { class: "actions" });
    if (state.me.role === "admin") {
      const result = el("p", { id: "result", role: "status" });
      actions.append(
        el("button", { type: "button", id: "disconnect", class: "danger", text: "Disconnect", onclick: async () => {
          if (!confirm(`Disconnect ${r.user} (connection ${handle})?`)) return;
          try { await post(`/api/connections/${handle}/disconnect`); result.textContent = "Disconnected."; go("/connections"); }
          catch (e) { result.textContent = `Not disconnected: ${e.message}`; }
        } }),
        el("button", { type: "button", id: "clear-stats", text: "Clear statistics", onclick: async () => {
          if (!confirm(`Zero the counters of connection ${handle}?`)) return;
          try { await post(`/api/connections/${handle}/clear-stats`); result.textContent = "Counters cleared."; refresh(); }
          catch (e) { result.textContent = `Not cleared: ${e.message}`; }
        } }),
        result);
    }
    view.replaceChildren(
      el("p", {}, el("a", { href: "/connections", text: "← All connections" })),
      el("h1", { text: `${r.user} — connection ${handle}` }),
      actions,
      el("h2", { text: "Throughput (bytes/s, since this page opened)" }),
      graph(rate, "throughput"),
      el("h2", { text: "Connection" }), who,
      el("h2", { text: "Counters" }), counters);
  }
  refresh();
  state.timer = setInterval(refresh, 2000);
}

// ---- Overview, history, audit.
async function overviewView(view) {
  async function refresh() {
    const d = await api("/api/overview");
    const engines = el("ul", { id: "per-engine" });
    for (const [e, n] of Object.entries(d.per_engine)) engines.append(el("li", { text: `${e}: ${n}` }));
    const sources = el("table", { class: "plain", id: "sources" }, el("tr", {}, ...["Source", "State", "Sessions", "Last good read", "Last error", "Restarts"].map((t) => el("th", { text: t }))));
    for (const s of d.sources) sources.append(el("tr", {}, ...[`${s.kind}/${s.name}`, s.state, s.sessions, when(s.last_ok), s.last_error, s.restarts].map((t) => el("td", { text: String(t ?? "") }))));
    const rate = [];
    for (let i = 1; i < d.samples.length; i++) {
      const a = d.samples[i - 1], b = d.samples[i];
      // Bytes ever counted: sessions that ended between samples do not
      // make the rate dip.
      rate.push({ v: Math.max(0, (b.counted_rx + b.counted_tx - a.counted_rx - a.counted_tx) / Math.max(1, b.at - a.at)) });
    }
    view.replaceChildren(el("h1", { text: "Overview" }),
      el("p", { id: "total", text: `${d.connections} active connection(s); daemon ${d.state}, up ${duration(d.uptime_secs)}` }), engines,
      el("h2", { text: "Active connections over time" }), graph(d.samples.map((s) => ({ v: s.connections })), "active connections"),
      el("h2", { text: "Aggregate throughput (bytes/s)" }), graph(rate, "aggregate throughput"),
      el("h2", { text: "Sources" }), sources);
  }
  live(refresh);
  refresh();
}

function tableView(view, title, id, heads, rows) {
  const t = el("table", { class: "plain", id }, el("tr", {}, ...heads.map((h) => el("th", { text: h }))));
  for (const r of rows) t.append(el("tr", {}, ...r.map((c) => el("td", { text: String(c) }))));
  view.replaceChildren(el("h1", { text: title }), t);
}

// ---- History: the accounting history filtered in the daemon (user,
// address at an instant or over a range, NAS, engine), paged by cursor,
// and the same filters as a CSV download.
function localInput(id, label) {
  return el("label", { class: "field" }, label, el("input", { id, type: "datetime-local", step: "1" }));
}

function unixOf(id) {
  const v = document.getElementById(id).value;
  return v ? String(Math.floor(new Date(v).getTime() / 1000)) : "";
}

async function historyView(view) {
  const box = (id, placeholder) => el("input", { id, type: "search", placeholder, "aria-label": placeholder });
  const engines = el("select", { id: "h-engine", "aria-label": "Engine" }, el("option", { value: "", text: "any engine" }),
    ...["radius", "wireguard", "openvpn", "ocserv", "strongswan", "softether"].map((e) => el("option", { value: e, text: e })));
  const live = el("input", { id: "h-live", type: "checkbox" });
  const form = el("form", { id: "history-filters", class: "filters" },
    box("h-user", "user (prefix, with or without domain)"), box("h-ip", "IP address"), box("h-nas", "NAS"), engines,
    localInput("h-at", "at"), localInput("h-since", "since"), localInput("h-until", "until"),
    el("label", { class: "field" }, live, "live too"),
    el("button", { type: "submit", id: "h-search", text: "Search" }));
  const csv = el("a", { id: "history-csv", href: "/api/history.csv", download: "history.csv", text: "Download CSV" });
  const status = el("p", { id: "history-status", role: "status", class: "counts" });
  const table = el("table", { class: "plain", id: "history" });
  const more = el("button", { type: "button", id: "history-more", text: "More", hidden: true });
  view.replaceChildren(el("h1", { text: "History" }), form, el("p", {}, csv), status, table, more);
  let next = null, shown = 0;
  function params() {
    const q = new URLSearchParams();
    for (const [k, id] of [["user", "h-user"], ["ip", "h-ip"], ["nas", "h-nas"], ["engine", "h-engine"]]) {
      const v = document.getElementById(id).value.trim();
      if (v) q.set(k, v);
    }
    for (const [k, id] of [["at", "h-at"], ["since", "h-since"], ["until", "h-until"]]) {
      const v = unixOf(id);
      if (v) q.set(k, v);
    }
    if (live.checked) q.set("live", "true");
    return q;
  }
  const heads = ["State", "User", "Engine", "NAS", "Address", "Started", "Ended", "Duration", "Reason", "Received", "Sent"];
  function add(r, isLive) {
    table.append(el("tr", { class: isLive ? "live" : null }, ...[isLive ? "live" : "ended", r.user, r.engine, r.instance, r.address,
      when(r.started_at), isLive ? "—" : when(r.ended_at), duration(r.duration_secs), isLive ? "" : r.reason, bytes(r.rx), bytes(r.tx)]
      .map((c) => el("td", { text: String(c) }))));
  }
  async function load(first) {
    const q = params();
    csv.setAttribute("href", `/api/history.csv?${q}`);
    if (!first && next !== null) q.set("before", String(next));
    q.set("limit", "200");
    let d;
    try {
      d = await api(`/api/history?${q}`);
    } catch (e) {
      status.textContent = e.message;
      status.classList.add("error");
      return;
    }
    status.classList.remove("error");
    if (first) {
      table.replaceChildren(el("tr", {}, ...heads.map((h) => el("th", { text: h }))));
      shown = 0;
      for (const r of d.live) { add(r, true); shown++; }
    }
    for (const r of d.rows) { add(r, false); shown++; }
    next = d.next ?? null;
    more.hidden = next === null;
    status.textContent = `${shown} session(s)${next !== null ? ", more below" : ""}`;
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(true); });
  more.addEventListener("click", () => load(false));
  await load(true);
}

// ---- Reports: what a period's sessions add up to, with charts drawn here
// (SVG, no external assets).
function bars(points, label, id, format) {
  const w = 600, h = 120, pad = 2;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("class", "graph bars");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.setAttribute("id", id);
  const max = Math.max(1, ...points.map((p) => p.v));
  const bw = w / Math.max(1, points.length);
  points.forEach((p, i) => {
    const bh = (p.v / max) * (h - 10);
    const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    r.setAttribute("x", String(i * bw + pad / 2));
    r.setAttribute("y", String(h - bh));
    r.setAttribute("width", String(Math.max(1, bw - pad)));
    r.setAttribute("height", String(bh));
    r.setAttribute("data-value", String(p.v));
    const t = document.createElementNS("http://www.w3.org/2000/svg", "title");
    t.textContent = `${p.label}: ${format(p.v)}`;
    r.append(t);
    svg.append(r);
  });
  return svg;
}

function totalsRow(name, t) {
  return el("tr", {}, ...[name, t.sessions, t.unique_users, duration(t.duration_secs), duration(t.average_duration_secs), bytes(t.bytes_in), bytes(t.bytes_out)]
    .map((c) => el("td", { text: String(c) })));
}

function totalsTable(id, first, rows) {
  const t = el("table", { class: "plain", id }, el("tr", {}, ...[first, "Sessions", "Users", "Time", "Average", "In", "Out"].map((h) => el("th", { text: h }))));
  for (const [name, totals] of rows) t.append(totalsRow(name, totals));
  return t;
}

async function reportsView(view) {
  const since = el("input", { id: "r-since", type: "date", "aria-label": "From" });
  const until = el("input", { id: "r-until", type: "date", "aria-label": "To" });
  const by = el("select", { id: "r-by", "aria-label": "Top users by" }, el("option", { value: "bytes", text: "top by bytes" }), el("option", { value: "time", text: "top by time" }));
  const today = new Date();
  until.value = today.toISOString().slice(0, 10);
  since.value = new Date(today.getTime() - 29 * 86400000).toISOString().slice(0, 10);
  const form = el("form", { id: "report-period", class: "filters" }, since, until, by, el("button", { type: "submit", id: "r-show", text: "Show" }));
  const out = el("div", { id: "report" });
  view.replaceChildren(el("h1", { text: "Reports" }), form, out);
  async function load() {
    const from = Math.floor(Date.parse(`${since.value}T00:00:00Z`) / 1000);
    const to = Math.floor(Date.parse(`${until.value}T00:00:00Z`) / 1000) + 86400;
    const d = await api(`/api/usage?${new URLSearchParams({ since: String(from), until: String(to), by: by.value, top: "10" })}`);
    const day = (unix) => new Date(unix * 1000).toISOString().slice(0, 10);
    out.replaceChildren(
      el("p", { id: "report-summary", text: `${d.totals.sessions} session(s), ${d.totals.unique_users} user(s), ${d.average_sessions_per_day.toFixed(1)} per day; most at once ${d.max_concurrent}${d.max_concurrent_at ? ` (${when(d.max_concurrent_at)})` : ""}` }),
      totalsTable("report-totals", "", [["all", d.totals], ...d.per_engine.map((e) => [e.engine, e.totals])]),
      el("h2", { text: "Sessions per day" }), bars(d.per_day.map((p) => ({ label: day(p.day), v: p.totals.sessions })), "sessions per day", "chart-sessions", String),
      el("h2", { text: "Bytes per day" }), bars(d.per_day.map((p) => ({ label: day(p.day), v: p.totals.bytes_in + p.totals.bytes_out })), "bytes per day", "chart-bytes", bytes),
      el("h2", { text: "Top users" }), totalsTable("report-users", "User", d.top_users.map((u) => [u.user, u.totals])));
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load().catch((e) => out.replaceChildren(el("p", { class: "error", role: "alert", text: e.message }))); });
  await load();
}

async function auditView(view) {
  const d = await api("/api/audit?limit=500");
  tableView(view, "Audit trail", "audit", ["Time", "Caller", "Action", "Target", "Result"],
    d.rows.map((r) => [when(r.at), r.caller, r.method, r.target, r.result_name || r.result]));
}

// ---- Fleet: every node of the NATS fleet this node publishes to, and
// their connections (filtered and paged in the daemon), refreshed every 2 s.
async function fleetView(view) {
  const filter = { node: "", user: "" };
  const nodeBox = el("input", { id: "fleet-node", type: "search", placeholder: "node", "aria-label": "Only this node" });
  const userBox = el("input", { id: "fleet-user", type: "search", placeholder: "user", "aria-label": "Only this user" });
  const status = el("p", { id: "fleet-status", role: "status" });
  const nodes = el("div", { id: "fleet-nodes-box" });
  const conns = el("div", { id: "fleet-connections-box" });
  view.replaceChildren(el("h1", { text: "Fleet" }), status, el("h2", { text: "Nodes" }), nodes,
    el("h2", { text: "Connections" }), el("div", { class: "filters" }, nodeBox, userBox), conns);
  async function refresh() {
    const q = new URLSearchParams({ node: filter.node, user: filter.user, limit: "200" });
    const d = await api(`/api/fleet?${q}`);
    if (!d.available) { status.textContent = `Fleet unavailable: ${d.error}`; return; }
    const stale = d.nodes.filter((n) => n.state === "stale").length;
    status.textContent = `${d.connections} connection(s) on ${d.nodes.length} node(s)${stale ? `, ${stale} stale` : ""}` + (d.error ? ` — ${d.error}` : "");
    const nt = el("table", { class: "plain", id: "fleet-nodes" }, el("tr", {}, ...["Node", "Name", "Version", "Connections", "Last heartbeat", "Lag", "State"].map((t) => el("th", { text: t }))));
    for (const n of d.nodes) nt.append(el("tr", { class: n.state === "stale" ? "stale" : null }, ...[n.node, n.name, n.version, n.connections, when(n.last_beat), n.lag ?? "", n.state].map((t) => el("td", { text: String(t) }))));
    nodes.replaceChildren(nt);
    const ct = el("table", { class: "plain", id: "fleet-connections" }, el("tr", {}, ...["Node", "Handle", "User", "Engine", "Address", "Duration", "Received", "Sent", "State"].map((t) => el("th", { text: t }))));
    for (const r of d.rows) ct.append(el("tr", { class: r.stale ? "stale" : null }, ...[r.node_name, r.handle, r.user, r.engine, r.address, duration(r.duration_secs), bytes(r.rx), bytes(r.tx), r.stale ? "stale" : "live"].map((t) => el("td", { text: String(t) }))));
    conns.replaceChildren(ct, el("p", { id: "fleet-matching", text: `${d.matching} matching${d.matching > d.rows.length ? `, first ${d.rows.length} shown` : ""}` }));
  }
  for (const [box, key] of [[nodeBox, "node"], [userBox, "user"]]) box.addEventListener("input", () => { filter[key] = box.value.trim(); refresh().catch(() => {}); });
  await refresh();
  state.timer = setInterval(() => refresh().catch(() => {}), 2000);
}

async function route() {
  stopLive();
  const view = document.getElementById("view");
  const path = location.pathname;
  for (const a of document.querySelectorAll("nav a")) a.toggleAttribute("aria-current", path.startsWith(a.getAttribute("href")));
  const m = path.match(/^\/connections\/(\d+)$/);
  try {
    if (m) detailView(view, m[1]);
    else if (path === "/overview") await overviewView(view);
    else if (path === "/history") await historyView(view);
    else if (path === "/reports") await reportsView(view);
    else if (path === "/audit") await auditView(view);
    else if (path === "/fleet") await fleetView(view);
    else connectionsView(view);
  } catch (e) {
    view.replaceChildren(el("p", { class: "error", role: "alert", text: e.message }));
  }
}

async function start() {
  state.me = await api("/api/me");
  document.getElementById("who").textContent = `${state.me.user} (${state.me.role})`;
  document.getElementById("nav-audit").hidden = state.me.role !== "admin";
  document.getElementById("nav-fleet").hidden = !state.me.fleet;
  for (const a of document.querySelectorAll("nav a, a.brand")) a.addEventListener("click", (ev) => { ev.preventDefault(); go(a.getAttribute("href")); });
  document.getElementById("sign-out").addEventListener("click", async () => { await post("/api/logout").catch(() => {}); location.href = "/login"; });
  window.addEventListener("popstate", route);
  route();
}

document.addEventListener("DOMContentLoaded", start);
