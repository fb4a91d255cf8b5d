// The ccsm dashboard: a page over the daemon's public API and WebSocket only.
// No build step: plain ES modules, embedded in the ccsm binary.

const view = document.getElementById("view");
const conn = document.getElementById("conn");
const down = document.getElementById("down");

// Whether the daemon answers. A failed request or a closed socket asks the
// page's own address (no token needed) to tell a daemon that is gone from one
// that refused; the socket reconnects by itself and the view is drawn again.
let reachable = true;
function setReachable(ok) {
  conn.textContent = ok ? "live" : "daemon unreachable · reconnecting…";
  conn.dataset.state = ok ? "live" : "down";
  if (ok === reachable) return;
  reachable = ok;
  down.hidden = ok;
  document.body.dataset.daemon = ok ? "up" : "down";
  if (ok) route();
}
async function probe() {
  try { await fetch("/", { method: "HEAD", cache: "no-store" }); return true; }
  catch { setReachable(false); return false; }
}

// The token, when the daemon has one: asked once, kept for this browser session.
function token() { return sessionStorage.getItem("ccsm-token"); }

async function api(path, opts = {}) {
  const headers = { "Content-Type": "application/json", ...(opts.headers || {}) };
  const sent = token();
  if (sent) headers.Authorization = `Bearer ${sent}`;
  let resp;
  try { resp = await fetch(path, { ...opts, headers }); }
  catch {
    await probe();
    throw new Error("unreachable: the ccsm daemon does not answer; the page reconnects by itself");
  }
  if (resp.status === 401) {
    // Requests refused together ask once: a token given since this one went
    // out is simply used.
    if (token() && token() !== sent) return api(path, opts);
    const t = window.prompt("This daemon needs its token:");
    if (t) { sessionStorage.setItem("ccsm-token", t.trim()); return api(path, opts); }
  }
  const ct = resp.headers.get("content-type") || "";
  if (!ct.includes("application/json")) return resp.text();
  const env = await resp.json();
  if (!env.success) throw new Error(`${env.error.kind}: ${env.error.message}`);
  return env.data;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// Events: one WebSocket for the page; views subscribe to what they show.
const listeners = new Set();
let socket = null;
function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const protocols = token() ? [`bearer.${token()}`] : [];
  socket = new WebSocket(`${proto}://${location.host}/ws/sessions`, protocols);
  // Views hear of every (re)connection, to catch up on what the socket missed.
  socket.onopen = () => { setReachable(true); for (const l of listeners) l({ type: "connected" }); };
  socket.onclose = async () => {
    if (await probe()) conn.textContent = "connecting…";
    setTimeout(connect, 1000);
  };
  socket.onmessage = (m) => {
    let f; try { f = JSON.parse(m.data); } catch { return; }
    if (f.type === "alert") showAlert(f);
    for (const l of listeners) l(f);
  };
}
function subscribe(fn) { listeners.add(fn); return () => listeners.delete(fn); }

function showAlert(f) {
  const box = document.getElementById("alerts");
  const a = el("div", { class: "alert", role: "alert", "data-session": f.session || "" },
    `${f.event.limit}: ${f.event.message} `,
    f.session ? el("a", { href: `/sessions/${f.session}`, "data-link": true }, f.session.slice(0, 8)) : "",
    " ", el("button", { type: "button", "aria-label": "dismiss the alert", onclick: () => a.remove() }, "×"));
  box.append(a);
  setTimeout(() => a.remove(), 30000);
}

// Views, by URL: every view has its own address with its state in it.
let cleanup = () => {};
let renders = 0;
async function route() {
  cleanup(); cleanup = () => {};
  const p = location.pathname;
  for (const a of document.querySelectorAll("nav a")) {
    a.toggleAttribute("aria-current", false);
    const here = a.getAttribute("href");
    if (here === p || (here !== "/" && p.startsWith(here))) a.setAttribute("aria-current", "page");
  }
  view.replaceChildren();
  try {
    if (p === "/") await live();
    else if (p.startsWith("/sessions/")) await session(decodeURIComponent(p.slice("/sessions/".length)));
    else if (p === "/history") await historyView();
    else if (p === "/usage") await usage();
    else view.append(el("p", {}, "No such page. ", el("a", { href: "/", "data-link": true }, "Live")));
  } catch (e) {
    view.append(el("p", { class: "error", role: "alert" }, e.message));
  }
  // How many times a view was drawn (tests wait on it after a change).
  document.body.dataset.rendered = String(++renders);
}
function go(path) { history.pushState(null, "", path); route(); }
document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-link]");
  if (a && !e.ctrlKey && !e.metaKey) { e.preventDefault(); go(a.getAttribute("href")); }
});
window.addEventListener("popstate", route);

function startForm() {
  const err = el("p", { class: "error", role: "alert" });
  const agents = el("fieldset", { class: "agents" });
  const agentsBox = el("details", { class: "full" }, el("summary", {}, "Agents for the session"), agents);
  api("/api/claude/agent-types").then((types) => {
    for (const t of types) agents.append(el("label", { title: t.description }, el("input", { type: "checkbox", "data-start-agent": t.name }), t.name));
  }).catch(() => agentsBox.remove());
  const form = el("form", { class: "start", "aria-label": "start a session" },
    el("label", {}, "Folder", el("input", { name: "working_directory", required: true, placeholder: "/home/me/project", autocomplete: "off" })),
    el("label", {}, "Name", el("input", { name: "name", placeholder: "optional" })),
    el("label", {}, "Model", el("input", { name: "model", placeholder: "default" })),
    el("label", {}, "Permission mode", el("select", { name: "permission_mode" },
      ["default", "acceptEdits", "plan", "bypassPermissions"].map((m) => el("option", { value: m }, m)))),
    el("label", { class: "check" }, el("input", { type: "checkbox", name: "continue" }), "Continue the newest session in this folder"),
    el("label", { class: "full" }, "Prompt", el("textarea", { name: "prompt", placeholder: "What should Claude do?" })),
    agentsBox,
    el("p", { class: "full" }, "Or resume one from ", el("a", { href: "/history", "data-link": true }, "History"), "."),
    el("button", { class: "primary", type: "submit" }, "Start"), err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const d = Object.fromEntries(new FormData(form));
    for (const k of Object.keys(d)) if (!d[k]) delete d[k];
    if (d.permission_mode === "default") delete d.permission_mode;
    if (d.continue) { d.continue = true; if (!d.prompt) d.start = true; }
    const picked = [...form.querySelectorAll("input[data-start-agent]:checked")].map((i) => ({ name: i.dataset.startAgent }));
    if (picked.length) d.agents = picked;
    try {
      const check = await api("/api/claude/validate-path", { method: "POST", body: JSON.stringify({ path: d.working_directory, git: false }) });
      if (!check.valid) { err.textContent = check.problems.map((x) => x.message).join("; "); return; }
      const started = await api("/api/claude/sessions", { method: "POST", body: JSON.stringify(d) });
      go(`/sessions/${started.sessionId}`);
    } catch (x) { err.textContent = x.message; }
  });
  return form;
}

// Puts the `fresh` nodes (each with a `data-key`) into `into` in their order,
// keeping every node and cell that did not change: a row refreshed twice a
// second keeps the keyboard's focus on its button.
function sync(into, fresh) {
  const old = new Map([...into.children].map((c) => [c.dataset.key, c]));
  let prev = null;
  for (const n of fresh) {
    let cur = old.get(n.dataset.key);
    old.delete(n.dataset.key);
    if (!cur) cur = n;
    else if (cur.outerHTML !== n.outerHTML) {
      if (cur.tagName === n.tagName && cur.children.length === n.children.length) {
        for (const at of [...cur.attributes]) if (!n.hasAttribute(at.name)) cur.removeAttribute(at.name);
        for (const at of [...n.attributes]) cur.setAttribute(at.name, at.value);
        const kids = [...n.children];
        [...cur.children].forEach((c, i) => { if (c.outerHTML !== kids[i].outerHTML) c.replaceWith(kids[i]); });
      } else { cur.replaceWith(n); cur = n; }
    }
    const at = prev ? prev.nextSibling : into.firstChild;
    if (at !== cur) into.insertBefore(cur, at);
    prev = cur;
  }
  for (const gone of old.values()) gone.remove();
}

async function live() {
  view.append(el("h1", {}, "Live"));
  const waitingHead = el("h2", { hidden: true }, "Waiting for your answer");
  const pendingList = el("div");
  const waiting = el("section", { "aria-label": "waiting for your answer", class: "approvals" }, waitingHead, pendingList);
  const rowsBody = el("tbody");
  // A catalog shared by many hosts: every host's live sessions, each with its host.
  const health = await api("/health").catch(() => ({}));
  const team = health.store && health.store.host ? health.store.host : null;
  const heads = ["pid", "session", "status", "project", "model", "runtime", "memory", "cpu", "tokens", "cost", "by", ""];
  if (team) heads.splice(1, 0, "host");
  const table = el("table", { "aria-label": "Claude Code processes" },
    el("thead", {}, el("tr", {}, heads.map((h) => el("th", { class: ["pid", "model", "runtime", "memory", "cpu", "tokens", "cost", "by"].includes(h) ? "wide" : null }, h)))),
    rowsBody);
  const bar = el("p", {}, el("button", { class: "danger", onclick: async () => { await api("/api/claude/running/cancel", { method: "POST", body: "{}" }); refresh(); } }, team ? `Cancel all on ${team}` : "Cancel all"));
  const none = el("p", { class: "muted", hidden: true }, team ? "No Claude Code process is running on any host." : "No Claude Code process is running on this machine.");
  view.append(waiting, table, none, bar, el("h2", {}, "Start a session"), startForm());
  async function refreshApprovals() {
    const pending = await api("/api/claude/approvals");
    waitingHead.hidden = !pending.length;
    sync(pendingList, pending.map((a) => {
      const answer = (allow) => async () => {
        const body = allow ? { allow: true } : { allow: false, message: "denied from the dashboard" };
        await api(`/api/claude/approvals/${a.id}`, { method: "POST", body: JSON.stringify(body) });
        refreshApprovals().catch(() => {});
      };
      return el("div", { class: "approval", "data-approval": a.id, "data-key": a.id },
        el("strong", {}, a.toolName), " for ",
        el("a", { href: `/sessions/${a.sessionId}`, "data-link": true }, a.sessionId.slice(0, 8)),
        el("pre", {}, JSON.stringify(a.input, null, 2)),
        el("button", { class: "primary", onclick: answer(true) }, "Allow"), " ",
        el("button", { class: "danger", onclick: answer(false) }, "Deny"));
    }));
  }
  async function refresh() {
    const rows = await api(team ? "/api/claude/running?all=true&hosts=all" : "/api/claude/running?all=true");
    sync(rowsBody, rows.map((r) => {
      const waiting = r.status.state === "waiting";
      const id = r.sessionId || "";
      const host = r.host || team || "";
      // Another host's session is cancelled by its own daemon (the request is forwarded).
      return el("tr", { class: waiting ? "waiting" : null, "data-pid": r.pid, "data-session": id, "data-host": host || null, "data-key": `${host}:${r.pid}` },
        el("td", { class: "wide" }, r.pid),
        team ? el("td", { class: host === team ? null : "remote" }, host) : null,
        el("td", {}, id ? el("a", { href: `/sessions/${id}`, "data-link": true }, r.name || id.slice(0, 8)) : "—"),
        el("td", { class: "status" }, waiting ? `waiting: ${r.status.waitingFor}` : r.status.state),
        el("td", {}, r.projectPath || ""),
        el("td", { class: "wide" }, r.model || ""),
        el("td", { class: "wide" }, `${Math.round(r.runtimeMs / 1000)} s`),
        el("td", { class: "wide" }, `${(r.memoryBytes / 1048576).toFixed(0)} MB`),
        el("td", { class: "wide" }, `${r.cpuPercent.toFixed(0)}%`),
        el("td", { class: "wide" }, r.tokens == null ? "" : count(r.tokens)),
        el("td", { class: "wide" }, r.costUsd == null ? "" : money(r.costUsd)),
        el("td", { class: "wide" }, r.startedBy),
        el("td", {}, r.startedBy === "ccsm" && !["exited", "cancelled", "interrupted"].includes(r.status.state)
          ? el("button", { class: "danger", onclick: async () => { await api(`/api/claude/sessions/${id}/cancel`, { method: "POST", body: "{}" }); refresh(); } }, "Cancel")
          : ""));
    }));
    none.hidden = rows.length > 0;
    // How many times the table was refreshed (tests wait on it).
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
  }
  await refresh();
  await refreshApprovals();
  const timer = setInterval(() => { refresh().catch(() => {}); refreshApprovals().catch(() => {}); }, 500);
  const off = subscribe((f) => {
    if (f.type === "claude-status") refresh().catch(() => {});
    if (f.type === "approval") refreshApprovals().catch(() => {});
  });
  cleanup = () => { clearInterval(timer); off(); };
}

// One stream-json line as people read it.
function renderLine(line, into) {
  if (!line || !line.message) return;
  // A subagent's lines go under the tool call that started it.
  const parent = line.parent_tool_use_id || line.parentToolUseId;
  if (parent) {
    let box = into.querySelector(`[data-subagent="${CSS.escape(parent)}"]`);
    if (!box) { box = el("details", { class: "subagent", "data-subagent": parent }, el("summary", {}, "subagent")); into.append(box); }
    into = box;
  }
  const content = line.message.content;
  const blocks = typeof content === "string" ? [{ type: "text", text: content }] : (content || []);
  for (const b of blocks) {
    if (b.type === "thinking" && b.thinking) into.append(el("details", { class: "thinking" }, el("summary", {}, "thinking"), el("div", {}, b.thinking)));
    else if (b.type === "text" && b.text) into.append(el("div", { class: `msg ${line.type}` }, b.text));
    else if (b.type === "tool_use") into.append(el("details", { class: "tool" }, el("summary", {}, `${b.name}`), el("pre", {}, JSON.stringify(b.input, null, 2))));
    else if (b.type === "tool_result") into.append(el("details", { class: "tool" }, el("summary", {}, "result"), el("pre", {}, typeof b.content === "string" ? b.content : JSON.stringify(b.content, null, 2))));
  }
}

// A session from history (not the daemon's): its conversation as the SDK reads it.
async function storedSession(id) {
  const info = await api(`/api/claude/sessions/${encodeURIComponent(id)}`);
  const err = el("p", { class: "error", role: "alert" });
  const convo = el("section", { "aria-label": "conversation" });
  const resume = el("button", { class: "primary", onclick: async () => {
    try {
      const started = await api("/api/claude/sessions", { method: "POST", body: JSON.stringify({ resume: info.sessionId, working_directory: info.cwd, start: true }) });
      go(`/sessions/${started.sessionId}`);
    } catch (x) { err.textContent = x.message; }
  } }, "Resume here");
  const restore = info.gone ? el("button", { class: "primary", onclick: async () => {
    try { await api(`/api/claude/sessions/${info.sessionId}/restore`, { method: "POST", body: "{}" }); route(); }
    catch (x) { err.textContent = x.message; }
  } }, "Restore") : null;
  view.append(el("h1", {}, info.customTitle || info.summary || info.sessionId),
    el("p", {}, info.gone ? "gone from Claude Code (kept by ccsm) " : resume, restore, " · ", info.cwd || ""), err, convo);
  if (!info.gone) {
    const msgs = await api(`/api/claude/sessions/${info.sessionId}/messages`);
    for (const m of msgs) renderLine(m, convo);
  }
  view.append(await controls(info.sessionId, false, err));
}

// Rename, tags, description, notes; fork, clone, export; model and mode; agents.
async function controls(sid, live, err) {
  const act = (fn) => async (e) => { e && e.preventDefault(); err.textContent = ""; try { await fn(); } catch (x) { err.textContent = x.message; } };
  const put = (body) => api(`/api/claude/sessions/${sid}`, { method: "PUT", body: JSON.stringify(body) });
  const field = (name, label, value) => el("label", {}, label, el("input", { name, value: value || "" }));
  let info = null;
  try { info = await api(`/api/claude/sessions/${sid}`); } catch { /* configured: no transcript yet */ }
  const meta = el("form", { class: "start", "aria-label": "session details" },
    field("name", "Title", info && info.customTitle),
    field("tags", "Tags (comma-separated)", info && (info.tags || []).join(", ")),
    field("description", "Description", info && info.description),
    el("label", { class: "full" }, "Notes", el("textarea", { name: "notes" }, (info && info.notes) || "")),
    el("button", { type: "submit" }, "Save"));
  meta.addEventListener("submit", act(async () => {
    const d = Object.fromEntries(new FormData(meta));
    await put({ name: d.name || null, description: d.description, notes: d.notes, tags: d.tags.split(",").map((t) => t.trim()).filter(Boolean) });
  }));
  const more = el("input", { name: "append_notes", "aria-label": "add to the notes", placeholder: "a line for the notes" });
  const note = el("form", { class: "actions", "aria-label": "add a note" }, more, el("button", { type: "submit" }, "Add to notes"));
  note.addEventListener("submit", act(async () => {
    if (!more.value.trim()) return;
    await put({ append_notes: more.value });
    const now = await api(`/api/claude/sessions/${sid}`);
    meta.querySelector("[name=notes]").value = now.notes || "";
    more.value = "";
  }));
  const fork = el("button", { onclick: act(async () => { const f = await api(`/api/claude/sessions/${sid}/fork`, { method: "POST", body: "{}" }); go(`/sessions/${f.sessionId}`); }) }, "Fork");
  const clone = el("button", { onclick: act(async () => { const to = window.prompt("Clone into folder (empty: the same):"); const body = to ? { to } : {}; const c = await api(`/api/claude/sessions/${sid}/clone`, { method: "POST", body: JSON.stringify(body) }); go(`/sessions/${c.clone.sessionId}`); }) }, "Clone");
  const exp = el("button", { onclick: act(async () => {
    const headers = { "Content-Type": "application/json" };
    if (token()) headers.Authorization = `Bearer ${token()}`;
    const r = await fetch(`/api/claude/sessions/${sid}/export`, { method: "POST", headers, body: "{}" });
    if (!r.ok) throw new Error(`export failed (${r.status})`);
    const a = el("a", { href: URL.createObjectURL(await r.blob()), download: `${sid}.ccsm` });
    document.body.append(a); a.click(); a.remove();
  }) }, "Export");
  const bar = el("p", { class: "actions" }, fork, " ", clone, " ", exp);
  const parts = [el("h2", {}, "Details"), meta, note, bar];
  if (live) {
    const model = el("input", { name: "model", "aria-label": "model", placeholder: "model (sonnet, opus…)" });
    const mode = el("select", { "aria-label": "permission mode" }, ["default", "acceptEdits", "plan", "bypassPermissions"].map((m) => el("option", { value: m }, m)));
    parts.push(el("p", { class: "actions" }, model, el("button", { onclick: act(() => api(`/api/claude/sessions/${sid}/model`, { method: "POST", body: JSON.stringify({ model: model.value || null }) })) }, "Switch model"),
      " ", mode, el("button", { onclick: act(() => api(`/api/claude/sessions/${sid}/permission-mode`, { method: "POST", body: JSON.stringify({ mode: mode.value }) })) }, "Set mode")));
    try {
      const [agents, types] = await Promise.all([api(`/api/claude/sessions/${sid}/agents`), api("/api/claude/agent-types")]);
      const active = new Set(agents.active.map((a) => a.name));
      const list = el("ul", { class: "agents", "aria-label": "agents" });
      for (const t of types) {
        const on = active.has(t.name);
        list.append(el("li", {}, el("label", { class: "inline" }, el("input", { type: "checkbox", checked: on, "data-agent": t.name, onchange: act(async (e) => {
          await api(`/api/claude/sessions/${sid}/agents/${encodeURIComponent(t.name)}/${on ? "deactivate" : "activate"}`, { method: "POST", body: "{}" });
          route();
        }) }), ` ${t.name}`), el("small", {}, ` ${t.description}`)));
      }
      parts.push(el("h2", {}, "Agents"), el("p", {}, agents.restartPending ? "changes apply at the next turn" : ""), list);
    } catch { /* not the daemon's session */ }
  }
  return el("section", { "aria-label": "session controls" }, ...parts);
}

// Numbers as people read them: small costs keep their digits.
function money(v) {
  if (!v) return "$0";
  if (v >= 100) return `$${v.toFixed(0)}`;
  if (v >= 1) return `$${v.toFixed(2)}`;
  return `$${v.toPrecision(2)}`;
}
function count(v) { return Math.round(v).toLocaleString(); }

function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

// A line chart (inline SVG) of points [{x, y}]; one point is drawn as a dot.
function chart(title, points, fmt) {
  const w = 320, h = 80, pad = 4;
  const ys = points.map((p) => p.y), xs = points.map((p) => p.x);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)], ymax = Math.max(1e-9, ...ys);
  const at = (p) => [pad + (x1 > x0 ? (p.x - x0) / (x1 - x0) : 0.5) * (w - 2 * pad), h - pad - (p.y / ymax) * (h - 2 * pad)];
  const pic = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": title });
  if (points.length === 1) {
    const [x, y] = at(points[0]);
    pic.append(svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 3, class: "bar" }));
  } else if (points.length > 1) {
    const d = points.map((p, i) => { const [x, y] = at(p); return `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`; }).join(" ");
    pic.append(svg("path", { d, fill: "none", stroke: "currentColor", "stroke-width": 1.5 }));
  }
  const last = points.length ? points[points.length - 1].y : 0;
  const caption = points.length ? `${title}: now ${fmt(last)}, max ${fmt(Math.max(...ys))}` : `${title}: no samples yet`;
  return el("figure", { class: "chart" }, pic, el("figcaption", {}, caption));
}

// Horizontal bars of rows [{label, value}], largest first, each with its figure.
function bars(title, rows, fmt) {
  const top = rows.slice().sort((a, b) => b.value - a.value).slice(0, 12);
  const w = 640, row = 22, labelW = 260, max = Math.max(1e-12, ...top.map((r) => r.value));
  const pic = svg("svg", { viewBox: `0 0 ${w} ${Math.max(row, top.length * row)}`, role: "img", "aria-label": title });
  top.forEach((r, i) => {
    const y = i * row;
    const label = r.label.length > 38 ? `…${r.label.slice(-37)}` : r.label;
    const len = Math.max(1, (r.value / max) * (w - labelW - 80));
    pic.append(svg("text", { x: 0, y: y + 15 }, label),
      svg("rect", { x: labelW, y: y + 4, width: len.toFixed(1), height: row - 8, class: "bar" }),
      svg("text", { x: labelW + len + 6, y: y + 15 }, fmt(r.value)));
  });
  return el("figure", { class: "chart wide" }, pic, el("figcaption", {}, top.length ? title : `${title}: nothing yet`));
}

async function metricsChart(sid) {
  try {
    const m = await api(`/api/claude/sessions/${sid}/metrics?hours=24`);
    const pts = m.points;
    return el("section", { class: "charts", "aria-label": "metrics" }, el("h2", {}, "Metrics"),
      chart("memory", pts.map((p) => ({ x: p.at, y: p.memoryBytes / 1048576 })), (v) => `${v.toFixed(0)} MB`),
      chart("CPU", pts.map((p) => ({ x: p.at, y: p.cpuPercent })), (v) => `${v.toFixed(1)}%`),
      chart("tokens", pts.map((p) => ({ x: p.at, y: p.tokens })), (v) => `${count(v)} tokens`));
  } catch { return el("span"); }
}

async function session(id) {
  // Events from now on are kept until the output so far is drawn: nothing that
  // happens in between is lost, and a line in both is drawn once (by its uuid).
  const early = [];
  let handle = (f) => early.push(f);
  const off = subscribe((f) => handle(f));
  cleanup = off;
  let status;
  try { status = await api(`/api/claude/sessions/${encodeURIComponent(id)}/status`); }
  catch (e) { off(); if (e.message.startsWith("notFound")) return storedSession(id); throw e; }
  const sid = status.sessionId;
  const state = el("span", { class: "status", "data-state": status.status.state }, status.status.state);
  const convo = el("section", { "aria-label": "conversation", "aria-live": "polite" });
  view.append(el("h1", {}, status.name || sid), el("p", {}, state, " · ", status.projectPath), convo);
  const seen = new Set();
  const draw = (line) => {
    if (line && line.uuid) { if (seen.has(line.uuid)) return; seen.add(line.uuid); }
    renderLine(line, convo);
  };
  const catchUp = async () => {
    const out = await api(`/api/claude/sessions/${sid}/output`);
    for (const text of String(out).split("\n")) {
      if (!text.trim()) continue;
      let line; try { line = JSON.parse(text); } catch { continue; /* a torn line */ }
      draw(line);
    }
  };
  await catchUp();
  const box = el("textarea", { "aria-label": "next prompt", placeholder: "Send the next prompt" });
  const err = el("p", { class: "error", role: "alert" });
  const send = el("button", { class: "primary", onclick: async () => {
    err.textContent = "";
    const prompt = box.value.trim();
    if (!prompt) return;
    try {
      await api(`/api/claude/sessions/${sid}/messages`, { method: "POST", body: JSON.stringify({ prompt }) });
      convo.append(el("div", { class: "msg user" }, prompt));
      box.value = "";
    } catch (x) { err.textContent = x.message; }
  } }, "Send");
  const interrupt = el("button", { onclick: () => api(`/api/claude/sessions/${sid}/interrupt`, { method: "POST", body: "{}" }).catch((x) => { err.textContent = x.message; }) }, "Interrupt");
  view.append(el("div", { class: "prompt" }, box, send, interrupt), err);
  view.append(await controls(sid, true, err));
  view.append(await metricsChart(sid));
  let last = status.lastSeq;
  handle = (f) => {
    if (f.type === "connected") {
      catchUp().catch(() => {});
      api(`/api/claude/sessions/${sid}/status`).then((st) => { state.textContent = st.status.state; state.dataset.state = st.status.state; }).catch(() => {});
      return;
    }
    if (f.session !== sid) return;
    const line = f.type === "claude-output" && f.event.line;
    // The assistant's lines, and tool results (a prompt sent here is drawn already).
    if (line && (line.type === "assistant" || (line.type === "user" && line.message && typeof line.message.content !== "string"))) draw(line);
    if (f.seq <= last) return;
    last = f.seq;
    if (f.type === "claude-status" && f.event.status) { state.textContent = f.event.status.state; state.dataset.state = f.event.status.state; }
    if (f.type === "claude-error") err.textContent = f.event.message || "error";
  };
  for (const f of early.splice(0)) handle(f);
}

// The words of a query as the catalog reads them ("quoted phrases" kept whole).
function queryTokens(q) { return q.match(/"[^"]*"?|\S+/g) || []; }
function isFilter(tok) {
  return /^(project|tag|name|model|branch|after|before):\S/i.test(tok) || /^cost[<>]/i.test(tok)
    || /^has:tool:/i.test(tok) || /^is:(archived|gone)$/i.test(tok);
}

async function historyView() {
  const q = new URLSearchParams(location.search).get("q") || "";
  const input = el("input", { type: "search", name: "q", value: q, "aria-label": "search sessions", placeholder: "words, \"phrases\", project:… tag:… after:…" });
  const form = el("form", { role: "search", onsubmit: (e) => { e.preventDefault(); go(`/history?q=${encodeURIComponent(input.value)}`); } }, input, el("button", { type: "submit" }, "Search"));
  const list = el("ol", { class: "hits" });
  // The query's filters as chips: each one removed with its button.
  const tokens = queryTokens(q);
  const chips = el("ul", { class: "chips", "aria-label": "filters" });
  tokens.forEach((tok, i) => {
    if (!isFilter(tok)) return;
    const rest = tokens.filter((_, j) => j !== i).join(" ");
    chips.append(el("li", { class: "chip", "data-filter": tok }, tok,
      el("button", { type: "button", "aria-label": `remove the filter ${tok}`, onclick: () => go(`/history?q=${encodeURIComponent(rest)}`) }, "×")));
  });
  view.append(el("h1", {}, "History"), form, chips, list);
  const page = await api(`/api/claude/sessions?limit=50${q ? `&q=${encodeURIComponent(q)}` : ""}`);
  view.insertBefore(el("p", {}, `${page.total} session(s)`), list);
  for (const h of page.sessions) {
    const snippet = el("span", { class: "hit" });
    // The catalog marks matches as [..]: shown highlighted, as text (never HTML).
    for (const [i, part] of (h.snippet || "").split(/\[|\]/).entries()) snippet.append(i % 2 ? el("mark", {}, part) : part);
    list.append(el("li", {}, el("a", { href: `/sessions/${h.sessionId}`, "data-link": true }, h.customTitle || h.summary || h.sessionId),
      h.gone ? el("span", { class: "gone" }, " gone, restorable") : "",
      el("div", { class: "meta" }, [h.cwd, h.lastModified ? new Date(h.lastModified).toLocaleString() : null, ...(h.tags || []).map((t) => `#${t}`)].filter(Boolean).join(" · ")),
      snippet));
  }
}

async function usage() {
  // The same report as `ccsm usage --json`.
  const u = await api("/api/claude/usage");
  const t = u.totals;
  const th = (...h) => el("tr", {}, h.map((x) => el("th", {}, x)));
  view.append(el("h1", {}, "Usage"),
    el("p", {}, "In all: ", el("strong", { "data-total-cost": t.totalCost.toFixed(6), "data-total-tokens": t.totalTokens }, money(t.totalCost)),
      ` · ${count(t.totalTokens)} tokens`),
    el("section", { class: "charts", "aria-label": "per day" },
      chart("cost per day", u.daily.map((d, i) => ({ x: i, y: d.totalCost })), money),
      chart("tokens per day", u.daily.map((d, i) => ({ x: i, y: d.totalTokens })), count)),
    el("table", { "aria-label": "per day" }, th("day", "tokens", "cost"),
      u.daily.map((d) => el("tr", {}, el("td", {}, d.date || ""), el("td", {}, count(d.totalTokens)), el("td", {}, money(d.totalCost))))));
  const a = await api("/api/claude/analytics?days=3660");
  view.append(el("h2", {}, "By model"),
    bars("cost by model", a.models.map((m) => ({ label: m.modelName, value: m.cost })), money),
    el("table", { "aria-label": "per model" }, th("model", "cost"),
      a.models.map((m) => el("tr", {}, el("td", {}, m.modelName), el("td", {}, money(m.cost))))),
    el("h2", {}, "By project"),
    bars("cost by project", a.projects.map((p) => ({ label: p.projectPath, value: p.costUsd })), money),
    el("table", { "aria-label": "per project" }, th("project", "sessions", "cost"),
      a.projects.map((p) => el("tr", {}, el("td", {}, p.projectPath), el("td", {}, p.sessions), el("td", {}, money(p.costUsd))))));
}

connect();
route();
