// A test-only ACP client on the official TypeScript SDK (@agentclientprotocol/sdk): it spawns an ACP agent,
// runs the steps of a JSON plan (argv[2]) and prints one JSON report on stdout.
//
// plan: {command: [argv...], env?: {...}, permission?: "once"|"always"|"reject", elicitation?: "accept"|"decline",
//        steps: [{op: "initialize"} | {op: "new", cwd, meta?} | {op: "prompt", text, cancelAfterUpdates?}
//                | {op: "load", cwd} | {op: "list"} | {op: "mode", modeId} | {op: "config", configId, value}]}
// The session id of the last "new" (or "load") is used by later steps; a "load" step may name `sessionId`.
import { spawn } from "node:child_process";
import { Readable, Writable } from "node:stream";
import { client, ndJsonStream } from "@agentclientprotocol/sdk";

const plan = JSON.parse(process.argv[2]);
const child = spawn(plan.command[0], plan.command.slice(1), {
  stdio: ["pipe", "pipe", "inherit"],
  env: { ...process.env, ...(plan.env || {}) },
});
const stream = ndJsonStream(Writable.toWeb(child.stdin), Readable.toWeb(child.stdout));

const report = { steps: [], updates: [], permissions: [] };
let stepUpdates = [];
let onUpdate = null;

const app = client({ name: "sandbox-agent-acp-test" })
  .onNotification("session/update", async ({ params }) => {
    report.updates.push(params.update);
    stepUpdates.push(params.update);
    if (onUpdate) onUpdate(params);
  })
  .onRequest("session/request_permission", async ({ params }) => {
    report.permissions.push(params);
    const wanted = { once: "allow_once", always: "allow_always", reject: "reject_once" }[plan.permission || "once"];
    const option = params.options.find((o) => o.kind === wanted);
    return { outcome: option ? { outcome: "selected", optionId: option.optionId } : { outcome: "cancelled" } };
  })
  .onRequest("elicitation/create", async ({ params }) => {
    report.elicitations = [...(report.elicitations || []), params];
    if (plan.elicitation !== "accept") return { action: "decline" };
    const content = {};
    for (const [key, prop] of Object.entries(params.requestedSchema.properties)) content[key] = (prop.enum || ["yes"])[0];
    return { action: "accept", content };
  });

let sessionId = plan.sessionId || null;
try {
  await app.connectWith(stream, async (ctx) => {
    for (const step of plan.steps) {
      stepUpdates = [];
      const out = { op: step.op };
      try {
        if (step.op === "initialize") {
          out.result = await ctx.request("initialize", {
            protocolVersion: 1,
            clientCapabilities: {
              fs: { readTextFile: false, writeTextFile: false },
              terminal: false,
              ...(plan.elicitation ? { elicitation: { form: {} } } : {}),
            },
            clientInfo: { name: "acp-test-client", version: "1.0.0" },
          });
        } else if (step.op === "new") {
          const params = { cwd: step.cwd, mcpServers: [] };
          if (step.meta) params._meta = step.meta;
          out.result = await ctx.request("session/new", params);
          sessionId = out.result.sessionId;
        } else if (step.op === "load") {
          sessionId = step.sessionId || sessionId;
          out.result = await ctx.request("session/load", { sessionId, cwd: step.cwd, mcpServers: [] });
        } else if (step.op === "list") {
          out.result = await ctx.request("session/list", {});
        } else if (step.op === "config") {
          out.result = await ctx.request("session/set_config_option", {
            sessionId,
            configId: step.configId,
            value: step.value,
          });
        } else if (step.op === "mode") {
          out.result = await ctx.request("session/set_mode", { sessionId, modeId: step.modeId });
        } else if (step.op === "prompt") {
          let seen = 0;
          onUpdate = (params) => {
            seen += 1;
            if (step.cancelAfterUpdates && seen === step.cancelAfterUpdates) {
              ctx.notify("session/cancel", { sessionId: params.sessionId });
            }
          };
          out.result = await ctx.request("session/prompt", {
            sessionId,
            prompt: [{ type: "text", text: step.text }],
          });
          onUpdate = null;
        } else {
          throw new Error(`unknown op ${step.op}`);
        }
      } catch (err) {
        out.error = { code: err.code, message: err.message, data: err.data };
      }
      out.updates = stepUpdates;
      report.steps.push(out);
    }
  });
} finally {
  report.sessionId = sessionId;
  process.stdout.write(JSON.stringify(report) + "\n");
  child.stdin.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  child.on("exit", () => clearTimeout(timer));
}
