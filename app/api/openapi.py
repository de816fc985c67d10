"""OpenAPI for what FastAPI cannot see by itself: request bodies we validate straight from
bytes (after authentication, as the contract orders the checks), and the problem schema."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter
from pydantic.json_schema import models_json_schema

from app.schemas.common import Problem

REF = "#/components/schemas/{model}"
_bodies: dict[str, TypeAdapter[Any]] = {}


def json_body(name: str, adapter: TypeAdapter[Any], description: str = "") -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON request body with this schema."""
    _bodies[name] = adapter
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=name)}}},
        }
    }


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        _, problem_defs = models_json_schema([(Problem, "serialization")], ref_template=REF)
        components.update(problem_defs.get("$defs", {}))
        for name, adapter in _bodies.items():
            body = adapter.json_schema(ref_template=REF)
            components.update(body.pop("$defs", {}))
            components[name] = body
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
