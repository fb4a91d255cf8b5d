// What the official Agent SDK reads from $CLAUDE_CONFIG_DIR, as JSON on stdout:
// listSessions(), then per session getSessionInfo, the type/uuid of
// getSessionMessages (with and without system messages) and listSubagents.
// ccsm's differential tests compare their own reading with this one.
import {
  listSessions,
  getSessionInfo,
  getSessionMessages,
  listSubagents,
} from "@anthropic-ai/claude-agent-sdk";

const ids = process.argv.slice(2);
const sessions = await listSessions();
const out = { sessions, page: await listSessions({ limit: 3, offset: 1 }), info: {}, messages: {}, systemMessages: {}, subagents: {}, texts: {} };
const text = (m) => {
  const c = m.message?.content;
  if (typeof c === "string") return c;
  return (Array.isArray(c) ? c : []).map((b) => b.text ?? (b.type === "tool_result" ? JSON.stringify(b.content) : b.type === "tool_use" ? JSON.stringify(b.input) : "")).join("\n");
};
for (const id of ids.length ? ids : sessions.map((s) => s.sessionId)) {
  out.info[id] = (await getSessionInfo(id)) ?? null;
  const msgs = await getSessionMessages(id);
  out.messages[id] = msgs.map((m) => ({ type: m.type, uuid: m.uuid, timestamp: m.timestamp, ...(m.is_meta && { is_meta: true }) }));
  out.texts[id] = msgs.map((m) => `${m.type}: ${text(m)}`);
  out.systemMessages[id] = (await getSessionMessages(id, { includeSystemMessages: true })).map((m) => ({ type: m.type, uuid: m.uuid }));
  out.subagents[id] = await listSubagents(id);
}
// Lone surrogates (a cut emoji) as U+FFFD, as ccsm shows them: serde reads no lone
// surrogate escape.
process.stdout.write(JSON.stringify(out, (k, v) => (typeof v === "string" ? v.toWellFormed() : v)));
