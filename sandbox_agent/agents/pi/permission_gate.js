// A pi extension that gives pi sessions approvals: pi itself never asks. Before a tool named in
// SANDBOX_AGENT_PI_ASK runs it asks through pi's extension UI (`ctx.ui.confirm`), which pi-acp turns into an ACP
// session/request_permission; tools named in SANDBOX_AGENT_PI_DENY are refused outright (plan mode).
const list = (name) => (process.env[name] || "").split(",").filter(Boolean);

export default function (pi) {
  const ask = new Set(list("SANDBOX_AGENT_PI_ASK"));
  const deny = new Set(list("SANDBOX_AGENT_PI_DENY"));
  pi.on("tool_call", async (event, ctx) => {
    const tool = event.toolName;
    const input = event.input || {};
    if (deny.has(tool)) {
      return { block: true, reason: `Plan mode: ${tool} is not allowed.` };
    }
    if (!ask.has(tool)) return undefined;
    const what = tool === "bash" ? input.command : input.path;
    const ok = await ctx.ui.confirm(`${tool}: ${what ?? ""}`.trim(), JSON.stringify(input));
    return ok ? undefined : { block: true, reason: "The user rejected this action." };
  });
}
