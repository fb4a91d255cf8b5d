// The ccsm dashboard: a page over the daemon's public API and WebSocket only.
// No build step: plain ES modules, embedded in the ccsm binary.

const view = document.getElementById("view");
const conn = document.getElementById("conn");

// The token, when the daemon has one: asked once, kept for this browser session.
function token() { return sessionStorage.getItem("ccsm-token"); }

async function api(path, opts = {}) {
  const headers = { "Content-Type": "application/json", ...(opts.headers || {}) };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const resp = await fetch(path, { ...opts, headers });
  if (resp.status === 401) {
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
  socket.onopen = () => { conn.textContent = "live"; };
  socket.onclose = () => { conn.textContent = "reconnecting…"; setTimeout(connect, 1000); };
  socket.onmessage = (m) => {
    let f; try { f = JSON.parse(m.data); } catch { return; }
    if (f.type === "alert") showAlert(f);
    for (const l of listeners) l(f);
  };
}
function subscribe(fn) { listeners.add(fn); return () => listeners.delete(fn); }

function showAlert(f) {
  const box = document.getElementById("alerts");
  const a = el("div", { class: "alert", role: "alert" }, `${f.event.limit}: ${f.event.message}`);
  box.append(a);
  setTimeout(() => a.remove(), 15000);
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
  const form = el("form", { class: "start", "aria-label": "start a session" },
    el("label", {}, "Folder", el("input", { name: "working_directory", required: true, placeholder: "/home/me/project" })),
    el("label", {}, "Name", el("input", { name: "name", placeholder: "optional" })),
    el("label", {}, "Model", el("input", { name: "model", placeholder: "default" })),
    el("label", {}, "Permission mode", el("select", { name: "permission_mode" },
      ["default", "acceptEdits", "plan", "bypassPermissions"].map((m) => el("option", { value: m }, m)))),
    el("label", { style: "grid-column: 1 / -1" }, "Prompt", el("textarea", { name: "prompt", placeholder: "What should Claude do?" })),
    el("button", { class: "primary", type: "submit" }, "Start"), err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const d = Object.fromEntries(new FormData(form));
    for (const k of Object.keys(d)) if (!d[k]) delete d[k];
    if (d.permission_mode === "default") delete d.permission_mode;
    try {
      const check = await api("/api/claude/validate-path", { method: "POST", body: JSON.stringify({ path: d.working_directory, git: false }) });
      if (!check.valid) { err.textContent = check.problems.map((x) => x.message).join("; "); return; }
      const started = await api("/api/claude/sessions", { method: "POST", body: JSON.stringify(d) });
      go(`/sessions/${started.sessionId}`);
    } catch (x) { err.textContent = x.message; }
  });
  return form;
}

async function live() {
  view.append(el("h1", {}, "Live"), startForm());
  const waiting = el("section", { "aria-label": "waiting for your answer", class: "approvals" });
  const table = el("table", { "aria-label": "Claude Code processes" });
  const bar = el("p", {}, el("button", { class: "danger", onclick: async () => { await api("/api/claude/running/cancel", { method: "POST", body: "{}" }); refresh(); } }, "Cancel all"));
  view.append(waiting, bar, table);
  async function refreshApprovals() {
    const pending = await api("/api/claude/approvals");
    waiting.replaceChildren(...(pending.length ? [el("h2", {}, "Waiting for your answer")] : []));
    for (const a of pending) {
      const answer = (allow) => async () => {
        const body = allow ? { allow: true } : { allow: false, message: "denied from the dashboard" };
        await api(`/api/claude/approvals/${a.id}`, { method: "POST", body: JSON.stringify(body) });
        refreshApprovals().catch(() => {});
      };
      waiting.append(el("div", { class: "approval", "data-approval": a.id },
        el("strong", {}, a.toolName), " for ",
        el("a", { href: `/sessions/${a.sessionId}`, "data-link": true }, a.sessionId.slice(0, 8)),
        el("pre", {}, JSON.stringify(a.input, null, 2)),
        el("button", { class: "primary", onclick: answer(true) }, "Allow"), " ",
        el("button", { class: "danger", onclick: answer(false) }, "Deny")));
    }
  }
  async function refresh() {
    const rows = await api("/api/claude/running?all=true");
    table.replaceChildren(el("tr", {}, ["pid", "session", "status", "project", "model", "runtime", "memory", "cpu", "cost", "by", ""].map((h, i) => el("th", { class: i >= 4 && i <= 8 ? "wide" : null }, h))));
    for (const r of rows) {
      const waiting = r.status.state === "waiting";
      const id = r.sessionId || "";
      table.append(el("tr", { class: waiting ? "waiting" : null, "data-pid": r.pid, "data-session": id },
        el("td", {}, r.pid),
        el("td", {}, id ? el("a", { href: `/sessions/${id}`, "data-link": true }, r.name || id.slice(0, 8)) : "—"),
        el("td", { class: "status" }, waiting ? `waiting: ${r.status.waitingFor}` : r.status.state),
        el("td", {}, r.projectPath || ""),
        el("td", { class: "wide" }, r.model || ""),
        el("td", { class: "wide" }, `${Math.round(r.runtimeMs / 1000)} s`),
        el("td", { class: "wide" }, `${(r.memoryBytes / 1048576).toFixed(0)} MB`),
        el("td", { class: "wide" }, `${r.cpuPercent.toFixed(0)}%`),
        el("td", { class: "wide" }, r.costUsd == null ? "" : `$${r.costUsd.toFixed(4)}`),
        el("td", {}, r.startedBy),
        el("td", {}, r.startedBy === "ccsm" && !["exited", "cancelled", "interrupted"].includes(r.status.state)
          ? el("button", { class: "danger", onclick: async () => { await api(`/api/claude/sessions/${id}/cancel`, { method: "POST", body: "{}" }); refresh(); } }, "Cancel")
          : "")));
    }
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
    field("notes", "Notes", info && info.notes),
    el("button", { type: "submit" }, "Save"));
  meta.addEventListener("submit", act(async () => {
    const d = Object.fromEntries(new FormData(meta));
    await put({ name: d.name || null, description: d.description, notes: d.notes, tags: d.tags.split(",").map((t) => t.trim()).filter(Boolean) });
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
  const parts = [el("h2", {}, "Details"), meta, bar];
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

// A small line chart (inline SVG) of points [{x, y}].
function chart(title, points, unit) {
  const w = 320, h = 80;
  const ys = points.map((p) => p.y), xs = points.map((p) => p.x);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)], ymax = Math.max(1e-9, ...ys);
  const path = points.map((p, i) => `${i ? "L" : "M"}${((p.x - x0) / Math.max(1, x1 - x0) * w).toFixed(1)},${(h - p.y / ymax * h).toFixed(1)}`).join(" ");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`); svg.setAttribute("role", "img"); svg.setAttribute("aria-label", title);
  const pe = document.createElementNS("http://www.w3.org/2000/svg", "path");
  pe.setAttribute("d", points.length ? path : ""); pe.setAttribute("fill", "none"); pe.setAttribute("stroke", "currentColor");
  svg.append(pe);
  return el("figure", { class: "chart" }, svg, el("figcaption", {}, `${title}: max ${ymax.toFixed(1)} ${unit}`));
}

async function metricsChart(sid) {
  try {
    const m = await api(`/api/claude/sessions/${sid}/metrics?hours=24`);
    const pts = m.points;
    return el("section", { class: "charts", "aria-label": "metrics" }, el("h2", {}, "Metrics"),
      chart("memory", pts.map((p) => ({ x: p.at, y: p.memoryBytes / 1048576 })), "MB"),
      chart("CPU", pts.map((p) => ({ x: p.at, y: p.cpuPercent })), "%"),
      chart("tokens", pts.map((p) => ({ x: p.at, y: p.tokens })), "tokens"));
  } catch { return el("span"); }
}

async function session(id) {
  let status;
  try { status = await api(`/api/claude/sessions/${encodeURIComponent(id)}/status`); }
  catch (e) { if (e.message.startsWith("notFound")) return storedSession(id); throw e; }
  const sid = status.sessionId;
  const state = el("span", { class: "status", "data-state": status.status.state }, status.status.state);
  const convo = el("section", { "aria-label": "conversation", "aria-live": "polite" });
  view.append(el("h1", {}, status.name || sid), el("p", {}, state, " · ", status.projectPath), convo);
  const out = await api(`/api/claude/sessions/${sid}/output`);
  let last = status.lastSeq;
  for (const text of String(out).split("\n")) {
    if (!text.trim()) continue;
    try { renderLine(JSON.parse(text), convo); } catch { /* a torn line */ }
  }
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
  cleanup = subscribe((f) => {
    if (f.session !== sid || f.seq <= last) return;
    last = f.seq;
    if (f.type === "claude-output" && f.event.line && f.event.line.type === "assistant") renderLine(f.event.line, convo);
    if (f.type === "claude-status" && f.event.status) { state.textContent = f.event.status.state; state.dataset.state = f.event.status.state; }
    if (f.type === "claude-error") err.textContent = f.event.message || "error";
  });
}

async function historyView() {
  const q = new URLSearchParams(location.search).get("q") || "";
  const input = el("input", { type: "search", name: "q", value: q, "aria-label": "search sessions", placeholder: "words, \"phrases\", project:… tag:… after:…" });
  const form = el("form", { role: "search", onsubmit: (e) => { e.preventDefault(); go(`/history?q=${encodeURIComponent(input.value)}`); } }, input, el("button", { type: "submit" }, "Search"));
  const list = el("ol", { class: "hits" });
  view.append(el("h1", {}, "History"), form, list);
  const page = await api(`/api/claude/sessions?limit=50${q ? `&q=${encodeURIComponent(q)}` : ""}`);
  view.insertBefore(el("p", {}, `${page.total} session(s)`), list);
  for (const h of page.sessions) {
    const snippet = el("span", { class: "hit" });
    // The catalog marks matches as [..]: shown highlighted, as text (never HTML).
    for (const [i, part] of (h.snippet || "").split(/\[|\]/).entries()) snippet.append(i % 2 ? el("mark", {}, part) : part);
    list.append(el("li", {}, el("a", { href: `/sessions/${h.sessionId}`, "data-link": true }, h.customTitle || h.summary || h.sessionId),
      h.gone ? " (gone, restorable)" : "", el("br"), snippet));
  }
}

async function usage() {
  // The same report as `ccsm usage --json`.
  const u = await api("/api/claude/usage");
  const t = u.totals;
  view.append(el("h1", {}, "Usage"),
    el("p", {}, "In all: ", el("strong", { "data-total-cost": t.totalCost.toFixed(6), "data-total-tokens": t.totalTokens }, `$${t.totalCost.toFixed(2)}`),
      ` · ${t.totalTokens.toLocaleString()} tokens`),
    chart("cost per day", u.daily.map((d, i) => ({ x: i, y: d.totalCost })), "$"),
    el("table", { "aria-label": "per day" }, el("tr", {}, el("th", {}, "day"), el("th", {}, "tokens"), el("th", {}, "cost")),
      u.daily.map((d) => el("tr", {}, el("td", {}, d.date || ""), el("td", {}, d.totalTokens), el("td", {}, `$${d.totalCost.toFixed(4)}`)))));
  const a = await api("/api/claude/analytics?days=3660");
  view.append(el("h2", {}, "By model"), el("table", { "aria-label": "per model" }, el("tr", {}, el("th", {}, "model"), el("th", {}, "cost")),
      a.models.map((m) => el("tr", {}, el("td", {}, m.modelName), el("td", {}, `$${m.cost.toFixed(4)}`)))),
    el("h2", {}, "By project"), el("table", { "aria-label": "per project" }, el("tr", {}, el("th", {}, "project"), el("th", {}, "sessions"), el("th", {}, "cost")),
      a.projects.map((p) => el("tr", {}, el("td", {}, p.projectPath), el("td", {}, p.sessions), el("td", {}, `$${p.costUsd.toFixed(4)}`)))));
}

connect();
route();
