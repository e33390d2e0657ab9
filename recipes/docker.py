"""Run sandbox-agent in a Docker container (or any Docker Engine API, e.g. Podman's) and connect to it.

    python recipes/docker.py --agent claude --env ANTHROPIC_API_KEY --image python:3.11-slim
    launched = await launch(image=..., env={...}); await launched.client.create_session("mock")

The image needs python3 (3.11); the daemon arrives as the single-file artifact, so no pip or network is needed
inside. Agents install on first use (npm inside the container) unless the image has them (docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import io
import sys
import tarfile
from pathlib import Path

# Run as a script, this file's folder would come first on sys.path and `import docker` would find this file.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from sandbox_agent.deploy.bundle import build_bundle
from sandbox_agent.deploy.cli_args import parse_env, recipe_parser
from sandbox_agent.deploy.launch import (
    PORT,
    REMOTE_ARTIFACT,
    Launched,
    connect,
    demo,
    new_token,
    require,
    start_command,
)


def _tar_of(path: Path, name: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(path, arcname=name)
    return buf.getvalue()


async def launch(
    image: str = "python:3.11-slim",
    env: dict[str, str] | None = None,
    artifact: Path | None = None,
    docker_url: str | None = None,
) -> Launched:
    docker = require("docker", "docker")
    engine = docker.DockerClient(base_url=docker_url) if docker_url else docker.from_env()
    artifact = artifact or build_bundle(Path("dist/sandbox-agent.pyz"))
    token = new_token()
    container = engine.containers.run(
        image,
        ["sleep", "infinity"],
        detach=True,
        environment=env or {},
        ports={f"{PORT}/tcp": ("127.0.0.1", None)},  # published on loopback only
    )
    try:
        container.put_archive(str(Path(REMOTE_ARTIFACT).parent), _tar_of(artifact, Path(REMOTE_ARTIFACT).name))
        container.exec_run(["/bin/sh", "-c", start_command(token)], detach=True)
        container.reload()
        host_port = container.ports[f"{PORT}/tcp"][0]["HostPort"]
        return await connect(f"http://127.0.0.1:{host_port}", token, container, lambda: container.remove(force=True))
    except BaseException:
        container.remove(force=True)
        raise


async def main() -> None:
    parser = recipe_parser(__doc__ or "")
    parser.add_argument("--image", default="python:3.11-slim")
    parser.add_argument("--docker-url", help="e.g. unix:///run/podman/podman.sock (default: DOCKER_HOST)")
    args = parser.parse_args()
    artifact = Path(args.artifact) if args.artifact else None
    launched = await launch(args.image, parse_env(args.env), artifact, args.docker_url)
    await demo(launched, args.agent, args.prompt, args.keep)


if __name__ == "__main__":
    asyncio.run(main())
