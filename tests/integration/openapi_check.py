"""Every answer the integration tests get from aigw, checked against
docs/openapi.yaml, so that the document cannot drift from the code.

install() wraps requests.Session.send (every requests.get/post/... goes
through it) and records the nginx and lighttpd servers the test stacks
start (stack.Nginx, stack.Lighttpd). An answer of one of those servers to
a path under /api/ or /v1/ must match a documented path template, method
and status (or, for a path no route matches, the document's
x-aigw-unrouted answers); its Content-Type must be one the status
documents, and a JSON body must validate against the documented schema
(JSON Schema 2020-12, the dialect of OpenAPI 3.1). Event streams are never
read here (the test reads them); their media type is checked.

Violations are collected, not raised inside the request (a test may make
requests from threads): conftest's autouse fixture fails the test that
caused them. Answers of other servers (the mock providers) are not checked.
"""

import json
import os
import re
import threading
from urllib.parse import urlsplit

import jsonschema
import requests
import yaml

DOC_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                        "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# The API's prefixes: answers to other paths (the pages, aigw.js) are nginx's files.
API_PREFIXES = ("/api/", "/v1/")

_lock = threading.Lock()
_servers = {}  # "127.0.0.1:port" -> path prefix to strip ("" or "/cgi-bin/aigw")
_violations = []
_checked = [0]
_installed = [False]


def load(path=DOC_PATH):
    with open(path) as f:
        return yaml.safe_load(f)


class Document:
    """The OpenAPI document with its path templates compiled."""

    def __init__(self, doc):
        self.doc = doc
        self.templates = []
        for template, item in doc["paths"].items():
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            self.templates.append((re.compile(pattern), template, item))
        # Literal templates first: /v1/responses before /v1/responses/{id}
        # never clash, but a literal segment must win over {id}.
        self.templates.sort(key=lambda t: t[1].count("{"))
        self.validator_cls = jsonschema.Draft202012Validator

    def deref(self, obj):
        seen = 0
        while isinstance(obj, dict) and "$ref" in obj:
            ref = obj["$ref"]
            assert ref.startswith("#/"), ref
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            obj = node
            seen += 1
            assert seen < 20, ref
        return obj

    def find(self, path):
        for regex, template, item in self.templates:
            if regex.match(path):
                return template, item
        return None, None

    def responses_for(self, method, path):
        """(where, {status: response object}) for method and path: the
        operation's responses, or the unrouted answers of the path's
        prefix (unknown path, or a known path with another method)."""
        template, item = self.find(path)
        if item is not None and method.lower() in item:
            return f"{method} {template}", item[method.lower()]["responses"]
        for prefix, answers in self.doc.get("x-aigw-unrouted", {}).items():
            if path.startswith(prefix):
                what = f"{method} {template}" if template else f"{method} {path}"
                return f"{what} (unrouted, x-aigw-unrouted {prefix})", answers
        return None, None

    def check(self, method, path, status, content_type, read_body):
        """A list of what is wrong with this answer (empty when nothing);
        read_body() gives its text, called only when it is needed."""
        where, responses = self.responses_for(method, path)
        if responses is None:
            return [f"{method} {path}: no documented path"]
        response = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
        if response is None:
            return [f"{where}: status {status} is not documented "
                    f"(documented: {', '.join(sorted(responses))})"]
        response = self.deref(response)
        content = response.get("content")
        media = (content_type or "").split(";")[0].strip().lower()
        if not content:
            body_text = read_body()
            if body_text:
                return [f"{where} {status}: a body ({media or 'no Content-Type'}) where the "
                        "document has none"]
            return []
        match = None
        for name, spec in content.items():
            if name.split(";")[0].strip().lower() == media:
                match = spec
                break
        if match is None:
            return [f"{where} {status}: Content-Type {content_type!r} is not documented "
                    f"({', '.join(content)})"]
        if media != "application/json" or method.upper() == "HEAD":
            return []
        body_text = read_body()
        try:
            body = json.loads(body_text)
        except ValueError as e:
            return [f"{where} {status}: not JSON ({e}): {body_text[:200]!r}"]
        schema = match.get("schema")
        if schema is None:
            return []
        # A resolver of its own: one keeps a scope stack, and tests
        # make requests from several threads at once.
        validator = self.validator_cls(schema, resolver=jsonschema.RefResolver("", self.doc))
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        return [f"{where} {status}: {'/'.join(str(p) for p in e.absolute_path) or '(body)'}: "
                f"{e.message[:300]}; body: {body_text[:300]}" for e in errors[:5]]


_document = [None]


def document():
    if _document[0] is None:
        _document[0] = Document(load())
    return _document[0]


def register_server(port, prefix=""):
    with _lock:
        _servers[f"127.0.0.1:{port}"] = prefix


def _api_path(url):
    """The API path of url when a registered server answers it, else None."""
    parts = urlsplit(url)
    with _lock:
        prefix = _servers.get(parts.netloc)
    if prefix is None:
        return None
    path = parts.path
    if prefix:
        if not path.startswith(prefix):
            return None
        path = path[len(prefix):]
    if not path.startswith(API_PREFIXES):
        return None
    return path


def check_response(response):
    """Records what the document says is wrong with response, if anything."""
    try:
        request = response.request
        path = _api_path(request.url)
        if path is None:
            return
        problems = document().check(request.method, path, response.status_code,
                                    response.headers.get("Content-Type", ""),
                                    lambda: response.text)
    except Exception as e:  # noqa: BLE001: never break the test's request
        problems = [f"openapi_check failed on {response.request.method} "
                    f"{response.request.url}: {e!r}"]
    with _lock:
        _checked[0] += 1
        _violations.extend(problems)


def take_violations():
    with _lock:
        out = list(_violations)
        _violations.clear()
    return out


def checked_count():
    return _checked[0]


def install(stack_module):
    """Wraps requests.Session.send and the stack's server classes."""
    if _installed[0]:
        return
    _installed[0] = True
    document()  # a broken document fails at once, not at the first answer
    send = requests.Session.send

    def checked_send(self, request, **kwargs):
        response = send(self, request, **kwargs)
        check_response(response)
        return response

    requests.Session.send = checked_send

    def wrap_init(cls, prefix):
        init = cls.__init__

        def __init__(self, *args, **kwargs):
            init(self, *args, **kwargs)
            register_server(self.port, prefix)

        cls.__init__ = __init__

    wrap_init(stack_module.Nginx, "")
    if hasattr(stack_module, "Lighttpd"):
        wrap_init(stack_module.Lighttpd, "/cgi-bin/aigw")
