"""schemathesis against the server's own /openapi.json: generated requests (valid and not) on
every route get a documented status, a JSON body that matches the documented schema, never a
server error; requests outside the schema are refused, and requests inside it are served.

One exception to the last: a 422 is a well-formed request the server cannot process as asked
(an object document without 'text', rank_fields naming a field a document lacks,
relevant_spans enabled), which JSON Schema cannot express, so a 422 is not held against it."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from fastrerank import Reranker
from fastrerank.server.app import App
from fastrerank.server.config import ServerConfig
from fastrerank.server.openapi import openapi

from server_utils import live

CONFIG = ServerConfig(max_documents=20, max_document_chars=300, max_query_chars=200, request_timeout=20)
schema = schemathesis.openapi.from_dict(openapi(CONFIG))


@pytest.fixture(scope="module")
def url(tiny_models):
    with live(App(CONFIG, Reranker(tiny_models["xlmr"]))) as u:
        yield u


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_openapi_conformance(case, url):
    response = case.call(base_url=url, timeout=30)
    case.validate_response(response, excluded_checks=[positive_data_acceptance] if response.status_code == 422 else [])
