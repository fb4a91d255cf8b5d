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
  const content = line.message.content;
  const blocks = typeof content === "string" ? [{ type: "text", text: content }] : (content || []);
  for (const b of blocks) {
    if (b.type === "text" && b.text) into.append(el("div", { class: `msg ${line.type}` }, b.text));
    else if (b.type === "tool_use") into.append(el("details", { class: "tool" }, el("summary", {}, `${b.name}`), el("pre", {}, JSON.stringify(b.input, null, 2))));
    else if (b.type === "tool_result") into.append(el("details", { class: "tool" }, el("summary", {}, "result"), el("pre", {}, typeof b.content === "string" ? b.content : JSON.stringify(b.content, null, 2))));
  }
}

// A session from history (not the daemon's): its conversation as the SDK reads it.
async function storedSession(id) {
  const info = await api(`/api/claude/sessions/${encodeURIComponent(id)}`);
  const msgs = await api(`/api/claude/sessions/${info.sessionId}/messages`);
  const convo = el("section", { "aria-label": "conversation" });
  view.append(el("h1", {}, info.customTitle || info.summary || info.sessionId),
    el("p", {}, info.gone ? "gone from Claude Code (kept by ccsm) · " : "", info.cwd || ""), convo);
  for (const m of msgs) renderLine(m, convo);
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
    el("table", { "aria-label": "per day" }, el("tr", {}, el("th", {}, "day"), el("th", {}, "tokens"), el("th", {}, "cost")),
      u.daily.map((d) => el("tr", {}, el("td", {}, d.date || ""), el("td", {}, d.totalTokens), el("td", {}, `$${d.totalCost.toFixed(4)}`)))));
}

connect();
route();
