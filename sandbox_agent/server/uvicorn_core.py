"""uvicorn's server without its command line.

`import uvicorn` runs uvicorn/__init__.py, which imports uvicorn.main and with it click, the reload supervisors,
multiprocessing and watchfiles: ~20 ms and ~1.6 MB at every daemon start (measured, docs/decisions.md), none of
which a server started from code uses. So the package is registered without running its __init__, given the two
names the daemon uses, and the first other name anybody asks it for (`uvicorn.run`, `uvicorn.main`, ...) runs the
real __init__ after all.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any


def _load() -> ModuleType:
    pkg = sys.modules.get("uvicorn")
    if pkg is not None:  # already imported, fully or by this module
        return pkg
    spec = importlib.util.find_spec("uvicorn")
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        import uvicorn  # an importer this trick does not fit (or no uvicorn): the ordinary way

        return uvicorn
    pkg = importlib.util.module_from_spec(spec)

    def complete(name: str) -> Any:
        del pkg.__getattr__
        spec.loader.exec_module(pkg)  # type: ignore[union-attr]
        return getattr(pkg, name)

    pkg.__getattr__ = complete  # type: ignore[method-assign]
    sys.modules["uvicorn"] = pkg
    try:
        from uvicorn.config import Config
        from uvicorn.server import Server
    except Exception:
        for name in [n for n in sys.modules if n == "uvicorn" or n.startswith("uvicorn.")]:
            del sys.modules[name]
        import uvicorn  # the ordinary way, with its CLI

        return uvicorn
    pkg.Config, pkg.Server = Config, Server  # type: ignore[attr-defined]
    return pkg


uvicorn = _load()
