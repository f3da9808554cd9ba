"""docs/openapi.yaml: a valid OpenAPI 3.1 document, naming every route of
src/http/routes.c, served by nginx at /api/openapi.yaml; and the checker
(openapi_check.py) that holds every other module's answers to it fails
where it should."""

import os
import re

import jsonschema
import pytest
import requests
import yaml

import openapi_check
import stack as stk
from conftest import HTTP_TIMEOUT

METHODS = openapi_check.METHODS
STATUS_KEY = re.compile(r"^([1-5][0-9][0-9]|[1-5]XX|default)$")
DIALECT = "https://json-schema.org/draft/2020-12/schema"


@pytest.fixture(scope="module")
def doc():
    return openapi_check.load()


def routes_of_routes_c():
    """(method, pattern) of every entry of src/http/routes.c's table."""
    with open(os.path.join(stk.SRCDIR, "src/http/routes.c")) as f:
        text = f.read()
    table = text[text.index("routes[] = {"):text.index("};", text.index("routes[] = {"))]
    found = re.findall(r'\{\s*"([A-Z]+)",\s*"([^"]+)"', table)
    assert len(found) >= 20, found
    return found


def walk_refs(node, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                out.append(v)
            else:
                walk_refs(v, out)
    elif isinstance(node, list):
        for v in node:
            walk_refs(v, out)


def schemas_in(node, out):
    """Every Schema Object of the document (components, parameters, media
    types, headers), found where OpenAPI puts them."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "schema" and isinstance(v, dict):
                out.append(v)
            elif k == "schemas" and isinstance(v, dict):
                out.extend(v.values())
            else:
                schemas_in(v, out)
    elif isinstance(node, list):
        for v in node:
            schemas_in(v, out)


def test_document_is_openapi_3_1(doc):
    problems = []
    assert re.fullmatch(r"3\.1\.\d+", str(doc["openapi"])), doc["openapi"]
    assert doc.get("jsonSchemaDialect", DIALECT) == DIALECT
    assert doc["info"]["title"] and doc["info"]["version"]
    allowed_top = {"openapi", "info", "jsonSchemaDialect", "servers", "paths", "webhooks",
                   "components", "security", "tags", "externalDocs"}
    for key in doc:
        if key not in allowed_top and not key.startswith("x-"):
            problems.append(f"unknown top-level field {key}")

    # Every $ref points into the document and resolves.
    refs = []
    walk_refs(doc, refs)
    checker = openapi_check.Document(doc)
    for ref in set(refs):
        try:
            checker.deref({"$ref": ref})
        except (KeyError, AssertionError, TypeError) as e:
            problems.append(f"$ref {ref} does not resolve ({e!r})")

    # Every schema is valid in the dialect (JSON Schema 2020-12).
    schemas = []
    schemas_in(doc, schemas)
    assert len(schemas) > 50, len(schemas)
    for s in schemas:
        try:
            jsonschema.Draft202012Validator.check_schema(s)
        except jsonschema.SchemaError as e:
            problems.append(f"schema {str(s)[:80]}: {e.message}")

    operation_ids = []
    for template, item in doc["paths"].items():
        if not template.startswith("/"):
            problems.append(f"path {template} does not start with /")
        names = set(re.findall(r"\{([^}]+)\}", template))
        item_params = [checker.deref(p) for p in item.get("parameters", [])]
        for key in item:
            if key not in METHODS and key not in ("parameters", "summary", "description",
                                                  "servers", "$ref"):
                problems.append(f"{template}: unknown field {key}")
        for method in (m for m in METHODS if m in item):
            op = item[method]
            where = f"{method.upper()} {template}"
            operation_ids.append(op.get("operationId"))
            params = item_params + [checker.deref(p) for p in op.get("parameters", [])]
            for p in params:
                if p.get("in") not in ("query", "header", "path", "cookie") or not p.get("name"):
                    problems.append(f"{where}: bad parameter {p}")
                if p.get("in") == "path" and p.get("required") is not True:
                    problems.append(f"{where}: path parameter {p.get('name')} not required")
                if "schema" not in p and "content" not in p:
                    problems.append(f"{where}: parameter {p.get('name')} without schema")
            declared = {p["name"] for p in params if p.get("in") == "path"}
            if declared != names:
                problems.append(f"{where}: path parameters {sorted(declared)} != {sorted(names)}")
            if not op.get("responses"):
                problems.append(f"{where}: no responses")
            for status, response in op.get("responses", {}).items():
                if not STATUS_KEY.match(str(status)):
                    problems.append(f"{where}: bad status key {status!r}")
                if not isinstance(status, str):
                    problems.append(f"{where}: status {status} must be a string key")
                response = checker.deref(response)
                if not response.get("description"):
                    problems.append(f"{where} {status}: no description")
                for media, spec in response.get("content", {}).items():
                    if "/" not in media or not isinstance(spec, dict):
                        problems.append(f"{where} {status}: bad media type {media}")
            body = op.get("requestBody")
            if body is not None and not checker.deref(body).get("content"):
                problems.append(f"{where}: requestBody without content")
    if None in operation_ids or len(set(operation_ids)) != len(operation_ids):
        problems.append(f"operationIds missing or repeated: {operation_ids}")
    for prefix, answers in doc.get("x-aigw-unrouted", {}).items():
        for status, response in answers.items():
            if not STATUS_KEY.match(str(status)) or not checker.deref(response).get("description"):
                problems.append(f"x-aigw-unrouted {prefix} {status}")
    assert problems == [], "\n".join(problems)


def test_every_route_is_documented(doc):
    routes = routes_of_routes_c()
    missing = [f"{m} {p}" for m, p in routes
               if p not in doc["paths"] or m.lower() not in doc["paths"][p]]
    assert missing == [], f"routes of src/http/routes.c missing from docs/openapi.yaml: {missing}"
    # and nothing documented that aigw does not route (nginx serves the document itself)
    routed = {(m.lower(), p) for m, p in routes}
    extra = [f"{m.upper()} {p}" for p, item in doc["paths"].items() for m in METHODS
             if m in item and (m, p) not in routed and p != "/api/openapi.yaml"]
    assert extra == [], f"documented but not in src/http/routes.c: {extra}"


def test_nginx_serves_the_document(stack):
    r = requests.get(stack.url("/api/openapi.yaml"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/yaml"), r.headers
    with open(os.path.join(stk.SRCDIR, "docs/openapi.yaml"), "rb") as f:
        assert r.content == f.read()
    assert yaml.safe_load(r.content)["openapi"].startswith("3.1.")


def test_unrouted_answers_are_documented(stack):
    """A path no route matches and a known path with another method answer
    as x-aigw-unrouted says, in each prefix's error shape (the hook checks
    the bodies; here their statuses)."""
    assert requests.get(stack.url("/api/no/such/thing"), timeout=HTTP_TIMEOUT).status_code == 404
    r = requests.put(stack.url("/api/ai/chat"), json={}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 405 and r.headers.get("Allow"), (r.status_code, r.headers)
    r = requests.get(stack.url("/v1/no/such"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error", r.text
    assert openapi_check.take_violations() == []


def test_checker_finds_drift(doc):
    """The checker fails answers that drift from the document: an extra or
    missing field, a wrong type or enum, an undocumented status, method or
    media type, a body of the wrong error shape."""
    d = openapi_check.Document(doc)
    chat = ('{"success":true,"chatId":"8b0c7c1e-1f2a-4b3c-9d4e-5f6a7b8c9d0e","status":"pending",'
            '"version":1,"results":{},"pending":["mock"],"createdAt":"2026-01-01T00:00:00Z",'
            '"completedAt":null,"expiresAt":"2026-01-01T01:00:00Z"}')
    path = "/api/ai/chat/status"

    def check(body, status=200, method="GET", p=path, ctype="application/json"):
        return d.check(method, p, status, ctype, lambda: body)

    assert check(chat) == []
    assert check(chat.replace('"version":1', '"version":1,"extra":true'))
    assert check(chat.replace('"version":1,', ''))
    assert check(chat.replace('"version":1', '"version":"1"'))
    assert check(chat.replace('"status":"pending"', '"status":"waiting"'))
    assert check(chat, status=201)
    assert check(chat, ctype="text/html")
    assert check('{"success":false,"error":"no such chat","code":"not_found"}', 404) == []
    assert check('{"error":{"message":"x","type":"not_found_error","param":null,"code":null}}',
                 404)
    assert check('{"success":false,"error":"x","code":"method_not_allowed"}', 405,
                 method="PATCH") == []
    assert check('{"success":false,"error":"x","code":"not_found"}', 404,
                 p="/api/nothing/here") == []
    assert check('{"success":false,"error":"x","code":"not_found"}', 404, p="/v1/nothing")
    assert check("", 204, p="/api/ai/chat/events") == []
    assert check("event: progress\n", 200, p="/api/ai/chat/events",
                 ctype="text/event-stream") == []
    assert check('{"success":true}', 204, p="/api/ai/chat/events")
