"""Writes the published contract files in docs/ from the models: `python -m sandbox_agent.docs_export docs`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .schema.events import events_json_schema
from .server.api import openrpc_document


def documents() -> dict[str, str]:
    return {
        "events.schema.json": json.dumps(events_json_schema(), indent=2, sort_keys=True) + "\n",
        "openrpc.json": json.dumps(openrpc_document(), indent=2, sort_keys=True) + "\n",
    }


def main(target: str = "docs") -> None:
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in documents().items():
        (out / name).write_text(text)
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main(*sys.argv[1:])
