"""Run sandbox-agent in an E2B sandbox and connect to it.

    E2B_API_KEY=... python recipes/e2b.py --agent claude --env ANTHROPIC_API_KEY
    launched = await launch(env={...}); await launched.client.create_session("claude")

The sandbox gets the agent keys in its environment, is probed (`python3 --version`, `ldd --version`), gets the
artifact that fits by upload (or the recipe says why none fits), and runs the daemon as a background command
with `timeout=0` (E2B's default 60 s would kill it); the client reaches it over https://<port>-<sandbox id>.<domain>
with a fresh token.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from sandbox_agent.deploy.cli_args import artifacts_from, parse_env, recipe_parser, run_recipe
from sandbox_agent.deploy.fit import PROBE_COMMAND, Prefer
from sandbox_agent.deploy.launch import (
    PORT,
    Artifacts,
    Launched,
    connect,
    demo,
    new_token,
    pick,
    require,
    start_command,
)


async def launch(
    env: dict[str, str] | None = None,
    template: str | None = None,
    artifacts: Artifacts | None = None,
    lifetime: int = 3600,
    sandbox_class: Any = None,
    port: int = PORT,
    scheme: str = "https",
    kind: Prefer = "auto",
    store: str | None = None,
) -> Launched:
    Sandbox = sandbox_class or require("e2b", "e2b").Sandbox
    token = new_token()
    sandbox = Sandbox.create(template=template, timeout=lifetime, envs=env or {})
    try:
        upload = pick(sandbox.commands.run(PROBE_COMMAND).stdout, artifacts, kind)
        sandbox.files.write(upload.remote, upload.local.read_bytes())
        sandbox.commands.run(start_command(token, upload.fit.kind, port, store=store), background=True, timeout=0)
        url = f"{scheme}://{sandbox.get_host(port)}"
        return await connect(url, token, sandbox, sandbox.kill, upload=upload)
    except BaseException:
        sandbox.kill()
        raise


async def main() -> None:
    parser = recipe_parser(__doc__ or "")
    parser.add_argument("--template", help="an E2B template (one with the agents pre-installed starts warm)")
    args = parser.parse_args()
    launched = await launch(parse_env(args.env), args.template, artifacts_from(args), kind=args.kind, store=args.store)
    await demo(launched, args.agent, args.prompt, args.keep)


if __name__ == "__main__":
    run_recipe(main)
