"""OpenRPC document for `rpc.discover`, generated from the same pydantic models that validate calls."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from .dispatcher import Method

REF = "#/components/schemas/{model}"


def _schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    schema = TypeAdapter(tp).json_schema(ref_template=REF, mode="serialization")
    defs.update(schema.pop("$defs", {}))
    return schema


def build_openrpc(
    methods: dict[str, Method], title: str, version: str, extra_schemas: dict[str, Any] | None = None
) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    out = []
    for method in methods.values():
        params_schema = TypeAdapter(method.params).json_schema(ref_template=REF, mode="validation")
        defs.update(params_schema.pop("$defs", {}))
        required = set(params_schema.get("required", []))
        params = [
            {"name": name, "required": name in required, "schema": prop}
            for name, prop in params_schema.get("properties", {}).items()
        ]
        result_type = method.result
        result = {"name": "result", "schema": _schema(result_type, defs) if result_type is not None else {}}
        out.append(
            {
                "name": method.name,
                "summary": method.summary,
                "paramStructure": "by-name",
                "params": params,
                "result": result,
            }
        )
    for name, tp in (extra_schemas or {}).items():
        defs[name] = _schema(tp, defs)
    return {
        "openrpc": "1.3.2",
        "info": {"title": title, "version": version},
        "methods": out,
        "components": {"schemas": defs},
    }
