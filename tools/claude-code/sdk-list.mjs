// P4 peer: the official SDK's listSessions({limit: 50}) on $CLAUDE_CONFIG_DIR.
// Prints {"ms": <time of the call alone>, "sessions": [...]}.
import { listSessions } from "@anthropic-ai/claude-agent-sdk";
const start = performance.now();
const sessions = await listSessions({ limit: 50 });
const ms = performance.now() - start;
process.stdout.write(JSON.stringify({ ms, sessions }));
