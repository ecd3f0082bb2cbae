"""``/openapi.json``: generated from the request and response types, with this server's limits."""

from __future__ import annotations

from typing import Any

import msgspec

from fastrerank import __version__
from fastrerank.server import schemas
from fastrerank.server.config import ServerConfig
from fastrerank.types import RerankResponse

__all__ = ["openapi"]

REF = "#/components/schemas/{name}"

ERRORS = {
    "400": "Bad request: malformed JSON, a wrong type, a bad value, too many documents or too long a text.",
    "401": "Missing or wrong API key.",
    "413": "The request body is too large, or the request alone needs more model time than its deadline allows.",
    "415": "The body is not declared as JSON (Content-Type: application/json).",
    "422": "A well-formed request that cannot be processed (e.g. rank_fields naming a field a document lacks).",
    "429": "The queue cannot finish this request in time; retry after the Retry-After header's seconds.",
    "500": "The engine failed on this request (the message names a request id the server's log has).",
    "503": "Loading, shutting down, or the request's deadline passed.",
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": REF.format(name=name)}


def _rerank(summary: str, request: dict[str, Any], response: dict[str, Any], auth: bool) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
        "responses": {
            "200": _json(response, "The documents, highest score first."),
            **{k: _json(_ref("ErrorBody"), v) for k, v in ERRORS.items()},
        },
    }
    if auth:
        op["security"] = [{"bearer": []}]
    return {"post": op}


def _integers(node: Any) -> None:
    """`int | float` fields (see schemas.Integer) are documented as what they accept: integers."""
    if isinstance(node, dict):
        any_of = node.get("anyOf")
        if isinstance(any_of, list) and {"type": "integer"} in any_of and {"type": "number"} in any_of:
            any_of.remove({"type": "number"})
        for value in node.values():
            _integers(value)
    elif isinstance(node, list):
        for value in node:
            _integers(value)


def _limit(components: dict[str, Any], config: ServerConfig) -> None:
    for name, field in (("V2RerankRequest", "documents"), ("V1RerankRequest", "documents"), ("TEIRerankRequest", "texts")):
        props = components[name]["properties"]
        props["query"]["maxLength"] = config.max_query_chars
        docs = props[field]
        docs["maxItems"] = config.max_documents
        items = docs["items"]
        for schema in items.get("anyOf", [items]):
            if schema.get("type") == "string":
                schema["maxLength"] = config.max_document_chars


def openapi(config: ServerConfig) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a server with ``config``."""
    types = [
        schemas.V2RerankRequest,
        schemas.V1RerankRequest,
        schemas.TEIRerankRequest,
        RerankResponse,  # /v2/rerank answers the library's own response type
        schemas.V1RerankResponse,
        schemas.TEIResult,
        schemas.ErrorBody,
    ]
    _, components = msgspec.json.schema_components(types, ref_template=REF)
    _integers(components)
    _limit(components, config)
    auth = config.api_key is not None
    status = {"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]}
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "fastrerank",
            "version": __version__,
            "description": "Rerank API speaking Cohere v2 (/v2/rerank), Cohere v1 and Jina (/v1/rerank) and TEI (/rerank).",
        },
        "paths": {
            "/v2/rerank": _rerank("Cohere Rerank v2", _ref("V2RerankRequest"), _ref("RerankResponse"), auth),
            "/v1/rerank": _rerank("Cohere Rerank v1 and Jina", _ref("V1RerankRequest"), _ref("V1RerankResponse"), auth),
            "/rerank": _rerank(
                "TEI (texts); with documents instead of texts, the /v1/rerank request and response",
                {"anyOf": [_ref("TEIRerankRequest"), _ref("V1RerankRequest")]},
                {"anyOf": [{"type": "array", "items": _ref("TEIResult")}, _ref("V1RerankResponse")]},
                auth,
            ),
            "/health": {"get": {"summary": "Liveness", "responses": {"200": _json(status, "The process is up.")}}},
            "/ready": {
                "get": {
                    "summary": "Readiness: 503 while loading and while draining",
                    "responses": {"200": _json(status, "Ready to serve."), "503": _json(_ref("ErrorBody"), "Loading or draining.")},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {"description": "Text exposition format.", "content": {"text/plain": {"schema": {"type": "string"}}}}
                    },
                }
            },
        },
        "components": {"schemas": components},
    }
    if auth:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return doc
