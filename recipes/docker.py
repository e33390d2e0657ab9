"""Run sandbox-agent in a Docker container (or any Docker Engine API, e.g. Podman's) and connect to it.

    python recipes/docker.py --agent claude --env ANTHROPIC_API_KEY --image debian:13
    launched = await launch(image=..., env={...}); await launched.client.create_session("mock")

The recipe probes the container (`python3 --version`, `ldd --version`) and uploads the artifact that fits: the
zipapp where python3 is 3.11-3.13, else the standalone executable (glibc >= 2.35), else it says why none fits.
No pip or network is needed inside. Agents install on first use (npm inside the container) unless the image
has them (docs/deploy.md).
"""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

# Run as a script, this file's folder would come first on sys.path and `import docker` would find this file.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from sandbox_agent.deploy.cli_args import artifacts_from, parse_env, recipe_parser, run_recipe
from sandbox_agent.deploy.fit import PROBE_COMMAND, Prefer
from sandbox_agent.deploy.launch import (
    PORT,
    REMOTE_LOG,
    Artifacts,
    Launched,
    connect,
    demo,
    new_token,
    pick,
    require,
    start_command,
)


def _tar_of(path: Path, name: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tar.gettarinfo(str(path), arcname=name)
        info.mode = 0o755
        with path.open("rb") as f:
            tar.addfile(info, f)
    return buf.getvalue()


async def launch(
    image: str = "debian:12",
    env: dict[str, str] | None = None,
    artifacts: Artifacts | None = None,
    docker_url: str | None = None,
    kind: Prefer = "auto",
    volumes: dict[str, dict[str, str]] | None = None,
    store: str | None = None,
) -> Launched:
    """`volumes` (Docker SDK form) can lend the container agents installed elsewhere, for warm starts."""
    docker = require("docker", "docker")
    engine = docker.DockerClient(base_url=docker_url) if docker_url else docker.from_env()
    token = new_token()
    container = engine.containers.run(
        image,
        ["sleep", "infinity"],
        detach=True,
        environment=env or {},
        ports={f"{PORT}/tcp": ("127.0.0.1", None)},  # published on loopback only
        volumes=volumes or {},
    )
    try:
        _, out = container.exec_run(["/bin/sh", "-c", PROBE_COMMAND])
        upload = pick(out.decode("utf-8", "replace"), artifacts, kind)
        remote = Path(upload.remote)
        container.put_archive(str(remote.parent), _tar_of(upload.local, remote.name))
        container.exec_run(["/bin/sh", "-c", start_command(token, upload.fit.kind, store=store)], detach=True)
        container.reload()
        host_port = container.ports[f"{PORT}/tcp"][0]["HostPort"]
        url = f"http://127.0.0.1:{host_port}"
        try:
            return await connect(url, token, container, lambda: container.remove(force=True), upload=upload)
        except TimeoutError as exc:
            _, log = container.exec_run(["tail", "-n", "20", REMOTE_LOG])
            tail = log.decode(errors="replace")
            raise TimeoutError(f"{exc}; {REMOTE_LOG} in the container ends with:\n{tail}") from None
    except BaseException:
        container.remove(force=True)
        raise


async def main() -> None:
    parser = recipe_parser(__doc__ or "")
    parser.add_argument("--image", default="debian:12")
    parser.add_argument("--docker-url", help="e.g. unix:///run/podman/podman.sock (default: DOCKER_HOST)")
    args = parser.parse_args()
    launched = await launch(
        args.image, parse_env(args.env), artifacts_from(args), args.docker_url, args.kind, store=args.store
    )
    await demo(launched, args.agent, args.prompt, args.keep)


if __name__ == "__main__":
    run_recipe(main)
