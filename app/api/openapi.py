"""OpenAPI for what FastAPI cannot see by itself: request bodies we validate straight from
bytes (after authentication, as the contract orders the checks), the problem schema, the rules
the models check in code that JSON Schema can still say (so that a client, or a fuzzer, built
from the document sends what the service accepts and nothing it refuses), and the links from
a created case to what can be done with it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from app.schemas.common import NO_NUL, Problem

REF = "#/components/schemas/{model}"
_bodies: dict[str, TypeAdapter[Any]] = {}

#: What pydantic strips (Unicode White_Space): a stripped text field needs one other character.
NOT_BLANK = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
#: 1–255 printable characters, not all blank (app/api/idempotency.py), as a header carries them
_PRINTABLE = r"\x20-\x7e\xa1-\xac\xae-\xff"
IDEMPOTENCY_KEY = rf"^[{_PRINTABLE}]*[\x21-\x7e\xa1-\xac\xae-\xff][{_PRINTABLE}]*$"
#: How pydantic writes our CountryCode type (one shared component replaces each copy).
COUNTRY_PATTERN = "^[A-Z]{3}$"
CASE = "/api/v1/cases/{case_id}"


#: A text with no NUL (the schemas' NO_NUL) that is also not blank once stripped.
TEXT = r"^[^\x00]*" + NOT_BLANK.replace("[^", "[^\x00", 1) + r"[^\x00]*$"


class _Generator(GenerateJsonSchema):
    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        json_schema = super().str_schema(schema)
        if schema.get("strip_whitespace") and schema.get("min_length", 0) >= 1:
            blank_or_nul = json_schema.get("pattern") in (None, NO_NUL)
            json_schema["pattern"] = TEXT if blank_or_nul else json_schema["pattern"]
        return json_schema


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
            body = adapter.json_schema(ref_template=REF, schema_generator=_Generator)
            components.update(body.pop("$defs", {}))
            components[name] = body
        _problems_only(schema)
        _bearer_tokens(schema)
        _state_the_rules(schema)
        _link_cases(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _bearer_tokens(schema: dict[str, Any]) -> None:
    """Every /api/v1 operation but signing in needs a bearer token (checked by the request
    context dependency, app/api/deps.py, which FastAPI cannot see as a security scheme). The
    token comes from the OAuth2 password flow (so /docs' Authorize asks for a username and
    password) or is pasted as it is."""
    schemes = schema["components"].setdefault("securitySchemes", {})
    schemes["OAuth2Password"] = {
        "type": "oauth2",
        "description": "Sign in with your username and password",
        "flows": {"password": {"tokenUrl": "/api/v1/auth/token", "scopes": {}}},
    }
    schemes["HTTPBearer"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from POST /api/v1/auth/token",
    }
    for path, operations in schema["paths"].items():
        if path.startswith("/api/v1/") and path != "/api/v1/auth/token":
            for operation in operations.values():
                operation["security"] = [{"OAuth2Password": []}, {"HTTPBearer": []}]


def _problems_only(schema: dict[str, Any]) -> None:
    """Every 4xx/5xx is application/problem+json, FastAPI's own 422 included."""
    problem = {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}}
    for path in schema["paths"].values():
        for operation in path.values():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:  # any other Content-Type answers 415
                operation.setdefault("responses", {})["415"] = {
                    "description": "Unsupported Media Type"
                }
            for status, response in operation.get("responses", {}).items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = problem
    components = schema["components"]["schemas"]
    text = str(schema["paths"])
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in components and f"/{unused}'" not in text:
            del components[unused]


def _state_the_rules(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    _replace_countries(schema)
    # A pattern, not an enum of the ~250 codes: the list is pycountry's, and an enum that size
    # multiplies every generated test (each code in each country field) for no client's gain.
    components["CountryCode"] = {
        "type": "string",
        "pattern": COUNTRY_PATTERN,
        "description": "An officially assigned ISO 3166-1 alpha-3 country code (SLV, USA, …).",
        "examples": ["SLV"],
    }
    _idempotency_keys(schema)
    form = components.get("Body_sign_in_api_v1_auth_token_post", {}).get("properties", {})
    for field in form.values():
        field["minLength"] = 1  # an empty form field is a missing one


def _idempotency_keys(schema: dict[str, Any]) -> None:
    for operation in (op for path in schema["paths"].values() for op in path.values()):
        for parameter in operation.get("parameters", ()):
            if parameter["in"] == "header" and parameter["name"] == "Idempotency-Key":
                for option in parameter["schema"].get("anyOf", [parameter["schema"]]):
                    if option.get("type") == "string":
                        option.update(minLength=1, pattern=IDEMPOTENCY_KEY)


def _replace_countries(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, dict) and value.get("pattern") == COUNTRY_PATTERN:
                node[key] = {"$ref": REF.format(model="CountryCode")}
            else:
                _replace_countries(value)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, dict) and value.get("pattern") == COUNTRY_PATTERN:
                node[index] = {"$ref": REF.format(model="CountryCode")}
            else:
                _replace_countries(value)


def _link_cases(schema: dict[str, Any]) -> None:
    """From a case in an answer (or the first of a page) to reading, editing, moving and reading
    the history of it, with its ETag as the If-Match of the next write."""
    paths = schema["paths"]
    targets = {
        "ReadCase": (CASE, "get", False),
        "UpdateCase": (CASE, "patch", True),
        "TakeAction": (f"{CASE}/transitions", "post", True),
        "ReadHistory": (f"{CASE}/events", "get", False),
    }
    answers = {
        ("/api/v1/cases", "post", "201"): "$response.body#/id",
        (CASE, "get", "200"): "$response.body#/id",
        (CASE, "patch", "200"): "$response.body#/id",
        (f"{CASE}/transitions", "post", "200"): "$response.body#/id",
        ("/api/v1/cases", "get", "200"): "$response.body#/items/0/id",
    }
    for (path, method, status), case_id in answers.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        links: dict[str, Any] = {}
        for name, (target, target_method, if_match) in targets.items():
            operation = paths.get(target, {}).get(target_method)
            if operation is None or (if_match and "items" in case_id):
                continue  # a page carries no ETag of its items
            parameters = {"path.case_id": case_id}
            if if_match:
                parameters["header.If-Match"] = "$response.header.ETag"
            links[name] = {"operationId": operation["operationId"], "parameters": parameters}
        response["links"] = links
