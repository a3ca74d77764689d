#!/usr/bin/env python3
"""Checks a running rigd against its OpenAPI 3.1 document (run by APIContractTests.swift).

usage: openapi_check.py BASE_URL TOKEN_FILE [--document FILE]

1. Fetches BASE_URL/api/openapi.json and validates it with openapi-spec-validator (OpenAPI 3.1); with --document,
   FILE is validated too and is the contract the server is checked against instead of the served document.
2. Walks every path and method of the document and exercises each against the server (urllib): valid requests,
   values the parameter and body schemas forbid, unknown stations, missing or wrong tokens, malformed JSON, and one
   valid write per operation. Every response's status must be documented for its operation, its Content-Type must
   be a documented media type, and a JSON body must validate against the documented schema (jsonschema, Draft
   2020-12, `#/components/...` refs resolved against the whole document through a `referencing` Registry). Some
   requests also expect a particular status (e.g. 401 without the token).
3. The reverse direction: undocumented paths must not answer 2xx; a documented path with a method it does not
   document (TRACE, OPTIONS, HEAD, …) answers 405 with exactly the documented methods in Allow.

Prints one line per check and a summary; exits 0 only if every check passed, else 1 with the failures listed.
The server must run the demo plant (`rigd run` without --config): writes go to heat-rig-1 (setpoint_c),
extractor-1 (run/stop, run/start), pond-1 (hand, auto) and nursery-1 (a calibration of salinity_ppt, always cancelled
before the checks end) when they exist, else to the first station that fits; /api/reload reloads the configuration
rigd runs, unchanged, so every station keeps running.
Needs Python 3.11+, jsonschema 4.18+ (with referencing) and openapi-spec-validator (PyPI).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

try:
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import SchemaError
    from openapi_spec_validator import OpenAPIV31SpecValidator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012
except ImportError as error:  # pragma: no cover
    print(f"openapi_check: {error}; install them with: python3 -m pip install jsonschema openapi-spec-validator",
          file=sys.stderr)
    sys.exit(1)

DOC_URI = "https://rigd.invalid/openapi.json"  # the document's URI inside the Registry (never fetched)
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROBE_METHODS = ("get", "post", "put", "patch", "delete", "trace", "options", "head")  # undocumented methods
UNKNOWN_STATION = "no-such-station-openapi-check"
NOT_ACTIVE_ALARM = "openapi_check_not_an_active_alarm"
NO_BODY = object()  # "send no body at all" (distinct from JSON null)


def escape(segment: str) -> str:
    """A JSON Pointer segment (RFC 6901)."""
    return segment.replace("~", "~0").replace("/", "~1")


def short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


# MARK: The contract


class Contract:
    """The OpenAPI document, with JSON Schema validation of its schemas through a referencing Registry."""

    def __init__(self, doc: dict):
        self.doc = doc
        self.registry = Registry().with_resource(DOC_URI, Resource(contents=doc, specification=DRAFT202012))
        self.resolver = self.registry.resolver()
        self._validators: dict[str, Draft202012Validator] = {}

    def lookup(self, pointer: str) -> Any:
        return self.resolver.lookup(DOC_URI + "#" + urllib.parse.quote(pointer, safe="/~")).contents

    def deref(self, obj: Any, pointer: str) -> tuple[Any, str]:
        """Follows OpenAPI Reference Objects ({"$ref": "#/..."}): the object and its pointer."""
        for _ in range(32):
            if not (isinstance(obj, dict) and isinstance(obj.get("$ref"), str)):
                return obj, pointer
            ref = obj["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"{pointer}: only local references are supported, got {ref}")
            pointer = urllib.parse.unquote(ref[1:])
            obj = self.lookup(pointer)
        raise ValueError(f"{pointer}: reference loop")

    def operations(self) -> list[tuple[str, str, dict]]:
        return [(path, method, item[method])
                for path, item in self.doc.get("paths", {}).items()
                for method in METHODS if isinstance(item, dict) and method in item]

    def parameters(self, path: str, method: str) -> list[dict]:
        """Path-level then operation-level parameters, resolved; the operation's win (same name and `in`)."""
        base = f"/paths/{escape(path)}"
        merged: dict[tuple[str, str], dict] = {}
        for where, raw in ((base, self.doc["paths"][path].get("parameters", [])),
                           (f"{base}/{method}", self.doc["paths"][path][method].get("parameters", []))):
            for i, p in enumerate(raw):
                obj, ptr = self.deref(p, f"{where}/parameters/{i}")
                merged[(obj["name"], obj["in"])] = dict(obj, _pointer=ptr)
        return list(merged.values())

    def request_schema(self, path: str, method: str) -> tuple[str | None, bool]:
        """The pointer of the JSON request body's schema (or None) and whether a body is required."""
        body = self.doc["paths"][path][method].get("requestBody")
        if body is None:
            return None, False
        obj, ptr = self.deref(body, f"/paths/{escape(path)}/{method}/requestBody")
        content = obj.get("content", {})
        if "application/json" in content and "schema" in content["application/json"]:
            return f"{ptr}/content/application~1json/schema", bool(obj.get("required", False))
        return None, bool(obj.get("required", False))

    def response(self, path: str, method: str, status: int) -> tuple[str, dict, str] | None:
        """The documented response for a status: its key ("404", "4XX", "default"), object and pointer."""
        responses = self.doc["paths"][path][method].get("responses", {})
        for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
            if key in responses:
                obj, ptr = self.deref(responses[key], f"/paths/{escape(path)}/{method}/responses/{escape(key)}")
                return key, obj, ptr
        return None

    def statuses(self, path: str, method: str) -> list[str]:
        return list(self.doc["paths"][path][method].get("responses", {}).keys())

    def documents(self, path: str, method: str, status: int) -> bool:
        return self.response(path, method, status) is not None

    def validator(self, pointer: str) -> Draft202012Validator:
        if pointer not in self._validators:
            schema = {"$ref": DOC_URI + "#" + urllib.parse.quote(pointer, safe="/~")}
            self._validators[pointer] = Draft202012Validator(schema, registry=self.registry,
                                                             format_checker=FormatChecker())
        return self._validators[pointer]

    def errors(self, pointer: str, instance: Any) -> list[str]:
        """Why `instance` does not validate against the schema at `pointer` (empty: it does)."""
        found = sorted(self.validator(pointer).iter_errors(instance), key=lambda e: list(e.path))
        return [f"at {e.json_path}: {short(e.message, 240)} (schema keyword {'/'.join(map(str, e.schema_path))})"
                for e in found]

    def schema(self, pointer: str) -> dict:
        """The schema at `pointer` with a top-level $ref followed (for generating values)."""
        obj = self.lookup(pointer)
        while isinstance(obj, dict) and "$ref" in obj and obj["$ref"].startswith("#/"):
            obj = self.lookup(urllib.parse.unquote(obj["$ref"][1:]))
        return obj

    def resolve_schema(self, obj: Any) -> Any:
        while isinstance(obj, dict) and "$ref" in obj and obj["$ref"].startswith("#/"):
            obj = self.lookup(urllib.parse.unquote(obj["$ref"][1:]))
        return obj

    def schema_pointers(self) -> list[str]:
        """Every schema in the document: components/schemas and each `schema` of a parameter or media type."""
        found = [f"/components/schemas/{escape(k)}" for k in self.doc.get("components", {}).get("schemas", {})]

        def walk(node: Any, ptr: str) -> None:
            if isinstance(node, dict):
                for k, v in node.items():
                    if k == "schema" and isinstance(v, dict):
                        found.append(f"{ptr}/schema")
                    elif k != "schemas":
                        walk(v, f"{ptr}/{escape(k)}")
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk(v, f"{ptr}/{i}")

        walk(self.doc.get("paths", {}), "/paths")
        walk({k: v for k, v in self.doc.get("components", {}).items() if k != "schemas"}, "/components")
        return found


def spec_errors(doc: Any) -> list[str]:
    """openapi-spec-validator's findings for an OpenAPI 3.1 document (empty: valid)."""
    if not isinstance(doc, dict):
        return ["the document is not a JSON object"]
    if not str(doc.get("openapi", "")).startswith("3.1"):
        return [f"openapi is {doc.get('openapi')!r}, expected 3.1.x"]
    try:
        return [short(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}", 400)
                for e in OpenAPIV31SpecValidator(doc).iter_errors()]
    except Exception as error:  # a reference it cannot resolve, etc.
        return [f"{type(error).__name__}: {error}"]


# MARK: HTTP


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a 3xx is an answer to check, not to follow
        return None


OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirects())


@dataclass
class Reply:
    method: str
    url: str
    request_headers: dict
    request_body: bytes | None
    status: int | None = None
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    event: dict | None = None  # the first Server-Sent Event, for text/event-stream
    error: str | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def media_type(self) -> str:
        return self.content_type.split(";")[0].strip().lower()

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def describe(self, token: str) -> str:
        headers = {k: v.replace(token, "<token>") if token else v for k, v in self.request_headers.items()}
        lines = [f"    request:  {self.method} {self.url}"]
        if headers:
            lines.append(f"              headers {headers}")
        if self.request_body is not None:
            lines.append(f"              body {short(self.request_body.decode('utf-8', 'replace'), 400)}")
        if self.error:
            lines.append(f"    response: none ({self.error})")
        else:
            lines.append(f"    response: {self.status}, Content-Type {self.content_type or '(none)'}")
            if self.event is not None:
                lines.append(f"              first event {short(self.event, 500)}")
            elif self.body:
                text = self.body.decode("utf-8", "replace").replace("\n", "\\n")
                lines.append(f"              body {short(text, 600)}")
        return "\n".join(lines)


def read_first_event(response, timeout: float) -> tuple[dict | None, bytes]:
    """Reads Server-Sent Events lines until the first dispatched event (one with data); returns it and the raw text."""
    deadline = time.monotonic() + timeout
    raw = b""
    event: dict = {"data": []}
    while time.monotonic() < deadline:
        line = response.readline()
        if not line:
            break
        raw += line
        text = line.decode("utf-8").rstrip("\r\n")
        if text == "":
            if event["data"]:
                event["data"] = "\n".join(event["data"])
                return event, raw
            event = {"data": []}
            continue
        if text.startswith(":"):
            continue
        name, _, value = text.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            event["data"].append(value)
        else:
            event[name] = value
    return None, raw


def http(method: str, url: str, *, body: Any = NO_BODY, raw: bytes | None = None, authorization: str | None = None,
         sse: bool = False, timeout: float = 15) -> Reply:
    headers: dict[str, str] = {}
    data: bytes | None = None
    if raw is not None:
        data = raw
    elif body is not NO_BODY:
        data = json.dumps(body).encode("utf-8")
    if data is not None:
        headers["Content-Type"] = "application/json"
    if authorization is not None:
        headers["Authorization"] = authorization
    reply = Reply(method.upper(), url, headers, data)
    request = urllib.request.Request(url, data=data, method=method.upper(), headers=headers)
    try:
        response = OPENER.open(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        response = error
    except Exception as error:  # refused, reset, timed out
        reply.error = f"{type(error).__name__}: {error}"
        return reply
    try:
        reply.status = response.status if hasattr(response, "status") and response.status else response.code
        reply.headers = {k.lower(): v for k, v in response.headers.items()}
        if sse and reply.status == 200 and reply.media_type == "text/event-stream":
            reply.event, reply.body = read_first_event(response, timeout=min(timeout, 8))
            if reply.event is None:
                reply.error = "no Server-Sent Event arrived within 8 s"
        else:
            reply.body = response.read()
    except Exception as error:
        reply.error = f"reading the response: {type(error).__name__}: {error}"
    finally:
        response.close()
    return reply


# MARK: Values that the schemas allow or forbid


def types_of(schema: dict) -> list[str]:
    t = schema.get("type")
    return t if isinstance(t, list) else ([t] if t else [])


def coerce(text: str, schema: dict) -> Any:
    """A query parameter's text as the value its schema describes (if it parses as one)."""
    types = types_of(schema)
    if "integer" in types:
        try:
            return int(text)
        except ValueError:
            pass
    if "number" in types or "integer" in types:
        try:
            return float(text)
        except ValueError:
            pass
    if "boolean" in types and text in ("true", "false"):
        return text == "true"
    return text


def numeric_bounds(schema: dict, integer: bool) -> tuple[list[Any], list[Any]]:
    """(allowed, forbidden) values at a numeric schema's bounds."""
    allowed, forbidden = [], []
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if lo is not None:
        allowed.append(lo)
        forbidden.append(lo - 1 if integer else lo - max(abs(lo) / 2, 0.01))
    if hi is not None:
        allowed.append(hi)
        forbidden.append(hi + 1)
    if lo is not None and hi is not None:
        allowed.append(int((lo + hi) / 2) if integer else round((lo + hi) / 2, 3))
    return allowed, forbidden


def fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


WRONG_TYPES: list[Any] = [5, "text", None, True, [], {}]


def body_violations(contract: Contract, pointer: str, valid: Any) -> list[tuple[str, Any]]:
    """Bodies derived from a valid one that the schema at `pointer` forbids, each with why. Every one is checked
    with jsonschema to really be invalid, so the server must refuse them all."""
    candidates: list[tuple[str, Any]] = []

    def set_at(path: list, value: Any, drop: bool = False) -> Any:
        body = copy.deepcopy(valid)
        node = body
        for key in path[:-1]:
            node = node[key]
        if drop:
            del node[path[-1]]
        else:
            node[path[-1]] = value
        return body

    def visit(schema: dict, path: list, value: Any) -> None:
        schema = contract.resolve_schema(schema)
        label = ".".join(map(str, path)) or "the body"
        # Wrong JSON types (at most two per place: each may have side effects if the server takes it).
        wrong = [w for w in WRONG_TYPES if not contract_allows(schema, w)][:2]
        for w in wrong:
            candidates.append((f"{label} = {json.dumps(w)}", w if not path else set_at(path, w)))
        for bound in ("minLength", "maxLength"):
            if bound in schema and isinstance(value, str):
                n = schema[bound] - 1 if bound == "minLength" else schema[bound] + 1
                if n >= 0:
                    candidates.append((f"{label} {n} characters ({bound} {schema[bound]})",
                                       set_at(path, "x" * n) if path else "x" * n))
        if "enum" in schema:
            candidates.append((f"{label} not in enum", set_at(path, "not-in-enum") if path else "not-in-enum"))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            for v in numeric_bounds(schema, "integer" in types_of(schema))[1]:
                candidates.append((f"{label} = {v}", set_at(path, v) if path else v))
        if isinstance(value, dict):
            for name in schema.get("required", []):
                if name in value:
                    candidates.append((f"{label} without required {name}", set_at(path + [name], None, drop=True)))
            props = schema.get("properties", {})
            for name, sub in props.items():
                if name in value:
                    visit(sub, path + [name], value[name])
                else:  # an optional property the valid body leaves out: a wrong type there
                    sub_schema = contract.resolve_schema(sub)
                    for w in [w for w in WRONG_TYPES if not contract_allows(sub_schema, w)][:2]:
                        candidates.append((f"{'.'.join(map(str, path + [name]))} = {json.dumps(w)}",
                                           set_at(path + [name], w)))
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                extra = contract.resolve_schema(extra)
                for w in [w for w in WRONG_TYPES if not contract_allows(extra, w)][:2]:
                    candidates.append((f"{label}.openapi_check = {json.dumps(w)}",
                                       set_at(path + ["openapi_check"], w)))

    def contract_allows(schema: dict, value: Any) -> bool:
        try:
            validator = Draft202012Validator(schema, registry=contract.registry)
            return validator.is_valid(value)
        except Exception:
            return True

    visit(contract.schema(pointer), [], valid)
    seen, out = set(), []
    for why, body in candidates:
        key = json.dumps(body, sort_keys=True)
        if key in seen or not contract.errors(pointer, body):
            continue  # a duplicate, or (to be safe) one the schema allows after all
        seen.add(key)
        out.append((why, body))
    return out


# MARK: The checker


@dataclass
class Check:
    ok: bool
    label: str
    problems: list[str]
    reply: Reply | None


class Checker:
    def __init__(self, base: str, token: str, contract: Contract, viewer_token: str | None = None):
        self.base = base
        self.token = token
        # A named token of role viewer (`rigd token add NAME --role viewer`): writes must answer it 403.
        self.viewer_token = viewer_token
        self.contract = contract
        self.checks: list[Check] = []
        self.notes: list[str] = []
        self.seen: dict[tuple[str, str], set[int]] = {}
        self.stations: list[dict] = []

    # -- recording

    def record(self, ok: bool, label: str, problems: list[str] | None = None, reply: Reply | None = None) -> bool:
        self.checks.append(Check(ok, label, problems or [], reply))
        line = f"{'ok  ' if ok else 'FAIL'} {label}"
        if not ok:
            line += "\n" + "\n".join(f"       - {p}" for p in problems or [])
        print(line, flush=True)
        return ok

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"note {text}", flush=True)

    # -- requests against the contract

    def url(self, path: str, values: dict[str, str], query: dict[str, str] | None = None) -> str:
        for name, value in values.items():
            path = path.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
        return self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")

    def call(self, method: str, path: str, values: dict[str, str], *, label: str, query: dict | None = None,
             expect: set[int] | None = None, body: Any = NO_BODY, raw: bytes | None = None,
             authorization: str | None = None, extra: Callable[[Reply, Any], list[str]] | None = None) -> Reply:
        """One request to a documented operation; records a check of the response against the document."""
        sse = any(mt == "text/event-stream"
                  for r in self.contract.doc["paths"][path][method].get("responses", {}).values()
                  for mt in self.contract.deref(r, "")[0].get("content", {}))
        reply = http(method, self.url(path, values, query), body=body, raw=raw, authorization=authorization,
                     sse=sse)
        problems: list[str] = []
        parsed: Any = None
        if reply.error:
            problems.append(f"no usable response: {reply.error}")
        else:
            self.seen.setdefault((method, path), set()).add(reply.status)
            documented = self.contract.response(path, method, reply.status)
            if documented is None:
                problems.append(f"status {reply.status} is not documented for {method.upper()} {path} "
                                f"(documented: {', '.join(self.contract.statuses(path, method))})")
            else:
                more, parsed = self.check_content(documented, reply)
                problems += more
            if expect is not None and reply.status not in expect:
                wanted = "a 4xx status" if expect == set(range(400, 500)) else " or ".join(map(str, sorted(expect)))
                problems.append(f"expected {'' if len(expect) > 5 else 'status '}{wanted}, got {reply.status}")
            if sse and reply.status == 200 and not problems:
                problems += stream_check([s["name"] for s in self.stations])(reply, parsed)
            if extra is not None and not problems:
                problems += extra(reply, parsed)
        where = reply.url.replace(self.base, "")
        self.record(not problems, f"{method.upper()} {where} [{label}] → {reply.status}", problems, reply)
        return reply

    def check_content(self, documented: tuple[str, dict, str], reply: Reply) -> tuple[list[str], Any]:
        key, response, pointer = documented
        content = response.get("content") or {}
        if not content:
            if reply.body:
                return [f"response {key} is documented without content, but the body has {len(reply.body)} "
                        f"bytes ({reply.content_type})"], None
            return [], None
        if not reply.content_type:
            return [f"no Content-Type; documented for {key}: {', '.join(content)}"], None
        media = reply.media_type
        match = next((m for m in content if m.lower() == media), None) \
            or next((m for m in content if m.endswith("/*") and media.startswith(m[:-1].lower())), None) \
            or ("*/*" if "*/*" in content else None)
        if match is None:
            return [f"Content-Type {reply.content_type} is not documented for {key} "
                    f"(documented: {', '.join(content)})"], None
        if "schema" not in content[match]:
            return [], None
        schema_pointer = f"{pointer}/content/{escape(match)}/schema"
        if media == "application/json" or media.endswith("+json"):
            try:
                instance = reply.json()
            except (ValueError, UnicodeDecodeError) as error:
                return [f"body is not JSON ({error})"], None
        else:
            try:
                instance = reply.body.decode("utf-8")
            except UnicodeDecodeError as error:
                return [f"body is not UTF-8 text ({error})"], None
        errors = self.contract.errors(schema_pointer, instance)
        where = content[match]["schema"].get("$ref", f"#{schema_pointer}")
        return [f"body does not match {where} (response {key} at #{pointer}): {e}" for e in errors[:6]] \
            + ([f"… and {len(errors) - 6} more schema errors"] if len(errors) > 6 else []), instance

    # -- helpers outside the checks

    def status_of(self, name: str) -> dict:
        reply = http("get", self.url("/api/stations/{name}", {"name": name}))
        return reply.json() if reply.status == 200 else {}

    def running(self, name: str) -> bool:
        run = self.status_of(name).get("run")
        return isinstance(run, dict) and run.get("outcome") == "running"

    def wait_running(self, name: str, running: bool, timeout: float = 45) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.running(name) == running:
                return True
            time.sleep(0.25)
        return False

    def bearer(self) -> str:
        return f"Bearer {self.token}"

    # -- the walk

    def run(self) -> None:
        reply = http("get", self.base + "/api/stations")
        if reply.status != 200:
            self.record(False, "GET /api/stations for the station list", [f"status {reply.status} {reply.error or ''}"],
                        reply)
            return
        self.stations = reply.json().get("stations", [])
        if not self.stations:
            self.record(False, "the server has stations", ["GET /api/stations lists none"], reply)
            return
        self.record(True, f"the server has {len(self.stations)} stations: "
                          + ", ".join(s.get("name", "?") for s in self.stations))
        self.check_schemas()
        for path, method, op in self.contract.operations():
            if method == "get":
                self.exercise_get(path, op)
            elif method == "post" and path in WRITE_PLANS:
                WRITE_PLANS[path](self, path)
            else:
                self.record(False, f"{method.upper()} {path} exercised",
                            ["openapi_check.py does not know how to exercise this operation: add a plan for it"])
        self.check_undocumented()
        self.check_coverage()

    def check_schemas(self) -> None:
        bad = []
        for pointer in self.contract.schema_pointers():
            try:
                Draft202012Validator.check_schema(self.contract.lookup(pointer))
            except SchemaError as error:
                bad.append(f"#{pointer}: {short(error.message, 240)}")
        self.record(not bad, "every schema in the document is a valid Draft 2020-12 schema", bad)

    def first(self) -> str:
        return self.stations[0]["name"]

    # -- reads

    def exercise_get(self, path: str, op: dict) -> None:
        if path == "/api/whoami":
            self.exercise_whoami(path)
            return
        params = self.contract.parameters(path, "get")
        path_params = [p for p in params if p["in"] == "path"]
        query_params = [p for p in params if p["in"] == "query"]
        documented = set(self.contract.statuses(path, "get"))
        values = {p["name"]: self.first() if p["name"] == "name" else "x" for p in path_params}
        for p in path_params:
            if p["name"] != "name":
                self.note(f"GET {path}: path parameter {p['name']} filled with 'x' (no better value known)")
        self.call("get", path, values, label="defaults", expect={200})
        if "name" in values:
            for station in self.stations[1:]:
                self.call("get", path, dict(values, name=station["name"]), label="another station", expect={200})
            self.call("get", path, dict(values, name=UNKNOWN_STATION), label="unknown station", expect={404})
        refusal = refusal_statuses(documented)
        for p in query_params:
            name, schema = p["name"], self.contract.resolve_schema(p.get("schema", {}))
            for value in self.valid_values(name, schema):
                self.call("get", path, values, query={name: value}, label=f"valid {name}", expect={200},
                          extra=semantic_check(name, value))
                # The document must accept what the server accepts (a schema-driven client may not send it else).
                problems = self.contract.errors(f"{p['_pointer']}/schema", coerce(value, schema))
                self.record(not problems, f"GET {path}: the document accepts {name}={value!r}", problems)
            for value, why in self.invalid_values(name, schema, p["_pointer"]):
                self.call("get", path, values, query={name: value}, label=f"invalid {name}: {why}", expect=refusal)
                # ... and refuse what the server refuses (else a schema-driven fuzzer sends it and gets a 422).
                accepted = not self.contract.errors(f"{p['_pointer']}/schema", coerce(value, schema))
                self.record(not accepted, f"GET {path}: the document refuses {name}={value!r}",
                            ["the schema accepts a value the server refuses"] if accepted else [])
            if name == "station":
                self.call("get", path, values, query={name: UNKNOWN_STATION}, label="unknown station filter",
                          expect={404})
        names = {p["name"] for p in query_params}
        if {"from", "to"} <= names:
            self.call("get", path, values, query={"from": "now", "to": "-1h"}, label="from after to",
                      expect=refusal)

    def exercise_whoami(self, path: str) -> None:
        """Who a token is: the API token file's token is the admin "admin"; none is 401 even on loopback."""
        def is_(name: str | None, role: str) -> Callable[[Reply, Any], list[str]]:
            def check(reply: Reply, parsed: Any) -> list[str]:
                if not isinstance(parsed, dict) or parsed.get("role") != role or (name and parsed.get("name") != name):
                    return [f"expected {name or 'a token'} with role {role}, got {short(parsed, 120)}"]
                return []
            return check
        self.call("get", path, {}, authorization=self.bearer(), label="the API token file's token", expect={200},
                  extra=is_("admin", "admin"))
        self.call("get", path, {}, label="no token", expect={401})
        self.call("get", path, {}, authorization="Bearer wrong-token", label="wrong token", expect={401})
        if self.viewer_token:
            self.call("get", path, {}, authorization=f"Bearer {self.viewer_token}", label="a viewer's token",
                      expect={200}, extra=is_(None, "viewer"))

    def valid_values(self, name: str, schema: dict) -> list[str]:
        now = time.time()
        if name == "from":
            return ["-15m", "-2h", "-7d", "-90s", str(int(now) - 600), "now",
                    time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)),
                    time.strftime("%Y-%m-%dT%H:%M:%S.250Z", time.gmtime(now - 3600)),
                    time.strftime("%Y-%m-%d", time.gmtime(now - 86_400))]
        if name == "to":
            return ["now", str(int(now) + 60), time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now + 60))]
        if name == "station":
            return [self.first()]
        if name == "channel":
            channels = self.stations[0].get("channels") or [{"name": "x"}]
            return [channels[0]["name"], "no_such_channel"]
        if "enum" in schema:
            return [str(v).lower() if isinstance(v, bool) else str(v) for v in schema["enum"]]
        types = types_of(schema)
        if "integer" in types or "number" in types:
            allowed = numeric_bounds(schema, "integer" in types)[0] or [1]
            if "integer" not in types:  # the bounds and 0.5 (a middle value may be long: a stream's interval)
                allowed = allowed[:2] + [0.5 if schema.get("minimum", 0) <= 0.5 <= schema.get("maximum", 1)
                                         else allowed[0]]
            return list(dict.fromkeys(fmt(v) for v in allowed))
        if "boolean" in types:
            return ["true", "false"]
        self.note(f"query parameter {name}: no known valid value, trying 'x'")
        return ["x"]

    def invalid_values(self, name: str, schema: dict, pointer: str) -> list[tuple[str, str]]:
        """Values the parameter must not accept: those its schema forbids (checked with jsonschema), and for the
        time parameters, text that is none of the documented forms."""
        out: list[tuple[str, str]] = []
        types = types_of(schema)
        candidates: list[str] = []
        if "integer" in types or "number" in types:
            candidates += ["abc", "1.5", "1e400", ""] if "integer" in types else ["abc", "nan", ""]
            candidates += [fmt(v) for v in numeric_bounds(schema, "integer" in types)[1]]
        if "enum" in schema:
            candidates.append("maybe")
        for text in dict.fromkeys(candidates):
            if self.contract.errors(f"{pointer}/schema", coerce(text, schema)):
                out.append((text, f"{text!r} is not allowed by the schema"))
        if name in ("from", "to"):
            out += [("garbage", "not a documented time form"), ("-15y", "unknown relative unit"),
                    ("2026-13-45", "not a date"), ("2026-02-30", "a day that does not exist"),
                    ("1e9", "an exponent"), (" 1764400000", "a leading space"), ("+5", "a plus sign"),
                    ("2026-11-29T10:00:00", "a date-time without an offset"),
                    ("2026-11-29 10:00:00Z", "a space for the T"), ("Now", "now in capitals")]
        return out

    # -- the reverse direction

    def check_undocumented(self) -> None:
        values = {"name": self.first(), "code": NOT_ACTIVE_ALARM}
        for path, item in self.contract.doc.get("paths", {}).items():
            for method in PROBE_METHODS:
                if method in item:
                    continue
                reply = http(method, self.url(path, values), authorization=self.bearer(),
                             body={} if method in ("post", "put", "patch") else NO_BODY)
                # A documented path with a method it does not take: 405 with the methods it takes in Allow.
                allowed = sorted(m.upper() for m in item if m in METHODS)
                problems = []
                if reply.error:
                    problems.append(f"no usable response: {reply.error}")
                elif reply.status != 405:
                    problems.append(f"answered {reply.status}, not 405 (method not allowed)")
                else:
                    allow = sorted(m.strip() for m in reply.headers.get("allow", "").split(",") if m.strip())
                    if allow != allowed:
                        problems.append(f"Allow: {reply.headers.get('allow')!r}, the document lists {allowed}")
                self.record(not problems, f"{method.upper()} {path} [undocumented method] → 405, Allow "
                            f"{', '.join(allowed)}", problems, reply)
        for path in ["/api/nope", "/api", "/", "/api/v1/stations", "/api/openapi.yaml", "/api/stations/{name}/nope",
                     "/api/stations/{name}/samples/extra", "/api/stations/{name}/run",
                     "/api/stations/{name}/alarms", "/api/stations/{name}/settings", "/metrics/extra",
                     "/api/stations/{name}/calibration", "/api/stations/{name}/calibration/start/extra",
                     "/api/health/extra"]:
            for method in ("get", "post"):
                reply = http(method, self.url(path, values), authorization=self.bearer(),
                             body=NO_BODY if method == "get" else {})
                self.record_undocumented(reply, "undocumented path")

    def record_undocumented(self, reply: Reply, label: str) -> None:
        problems = []
        if reply.error:
            problems.append(f"no usable response: {reply.error}")
        elif 200 <= reply.status < 300:
            problems.append(f"answered {reply.status}: the server serves something the document does not list")
        elif reply.status >= 500:
            problems.append(f"answered {reply.status}: an undocumented request should get a 4xx, not a server error")
        where = reply.url.replace(self.base, "")
        self.record(not problems, f"{reply.method} {where} [{label}] → {reply.status} (not 2xx)", problems, reply)

    def check_coverage(self) -> None:
        for path, method, _ in self.contract.operations():
            seen = self.seen.get((method, path), set())
            if not seen:
                self.record(False, f"{method.upper()} {path} was exercised", ["no request reached it"])
                continue
            unseen = [s for s in self.contract.statuses(path, method)
                      if not any(self.contract.response(path, method, x)[0] == s for x in seen
                                 if self.contract.response(path, method, x))]
            if unseen:
                self.note(f"{method.upper()} {path}: documented {', '.join(unseen)} not produced "
                          f"(seen: {', '.join(map(str, sorted(seen)))})")


def refusal_statuses(documented: set[str]) -> set[int]:
    """What a forbidden parameter value must get: 422 if documented, else any documented 4xx other than 401, 403,
    404, else any 4xx (and the response check reports that the status is not documented)."""
    if "422" in documented:
        return {422}
    other = {int(s) for s in documented if s.isdigit() and s[0] == "4" and s not in ("401", "403", "404")}
    return other or set(range(400, 500))


# MARK: Semantic checks of valid reads


def rows_of(parsed: Any) -> list | None:
    if isinstance(parsed, dict):
        lists = [v for v in parsed.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
    return None


def semantic_check(name: str, value: str) -> Callable[[Reply, Any], list[str]] | None:
    """What a valid query parameter promises about the rows (limit: at most; station/channel: only)."""
    def check(reply: Reply, parsed: Any) -> list[str]:
        if reply.media_type == "text/event-stream":
            return []
        rows = rows_of(parsed)
        if rows is None:
            return []
        if name == "limit" and len(rows) > int(float(value)):
            return [f"limit={value} but {len(rows)} rows came"]
        if name in ("station", "channel"):
            other = [r.get(name) for r in rows if isinstance(r, dict) and name in r and r.get(name) != value]
            if other:
                return [f"{name}={value} but rows of {sorted(set(map(str, other)))} came"]
        if name == "active" and value in ("true", "1"):
            cleared = [r for r in rows if isinstance(r, dict) and r.get("cleared_at") is not None]
            if cleared:
                return [f"active={value} but {len(cleared)} cleared alarms came"]
        return []
    return check


def stream_check(station_names: list[str]) -> Callable[[Reply, Any], list[str]]:
    def check(reply: Reply, parsed: Any) -> list[str]:
        if reply.status != 200:
            return []
        event = reply.event or {}
        problems = []
        if event.get("event") != "values":
            problems.append(f"the first event is {event.get('event')!r}, expected 'values'")
        try:
            data = json.loads(event.get("data", ""))
        except ValueError as error:
            return problems + [f"the first event's data is not JSON ({error})"]
        if not isinstance(data, dict) or not isinstance(data.get("stations"), list):
            return problems + ["the first event's data has no `stations` array"]
        names = [s.get("name") for s in data["stations"] if isinstance(s, dict)]
        if sorted(map(str, names)) != sorted(station_names):
            problems.append(f"the event's stations {names} are not the server's {station_names}")
        return problems
    return check


# MARK: Writes


def write_basics(c: Checker, path: str, values: dict[str, str], valid: Any) -> None:
    """What every write must do: 401 without a valid bearer token, 404 for an unknown station, 400 for malformed
    JSON (and for no body when one is required). `valid` is a body the station would accept (or NO_BODY)."""
    documented = set(c.contract.statuses(path, "post"))
    op = c.contract.doc["paths"][path]["post"]
    if op.get("security") or c.contract.doc.get("security") or "401" in documented:
        for auth, why in [(None, "no token"), ("Bearer wrong-token", "wrong token"),
                          (f"Bearer {c.token}x", "token with an extra character"),
                          (f"Bearer {c.token[:-1]}", "token without its last character"),
                          (c.token, "token without the Bearer scheme"), (f"Basic {c.token}", "Basic scheme")]:
            c.call("post", path, values, body=valid, authorization=auth, label=f"{why}", expect={401})
    if "403" in documented and c.viewer_token:
        c.call("post", path, values, body=valid, authorization=f"Bearer {c.viewer_token}",
               label="a viewer's token (role below operator)", expect={403})
    if "name" in values:
        c.call("post", path, dict(values, name=UNKNOWN_STATION), body=valid, authorization=c.bearer(),
               label="unknown station", expect={404})
    if "400" in documented:
        for raw in (b'{"name": ', b"not json", b"{'by': 'single quotes'}"):
            c.call("post", path, values, raw=raw, authorization=c.bearer(), label="malformed JSON", expect={400})
    schema, required = c.contract.request_schema(path, "post")
    if required and "400" in documented:
        c.call("post", path, values, authorization=c.bearer(), label="no body (required)", expect={400})


def body_checks(c: Checker, path: str, values: dict[str, str], valid: Any,
                after_acceptance: Callable[[], None] | None = None) -> None:
    """Bodies the request schema forbids must get 422 (documented "Invalid"); the valid one must match the schema."""
    pointer, _ = c.contract.request_schema(path, "post")
    if pointer is None:
        return
    errors = c.contract.errors(pointer, valid)
    c.record(not errors, f"POST {path}: the checker's valid body {short(valid, 120)} matches the requestBody schema",
             errors)
    for why, body in body_violations(c.contract, pointer, valid):
        reply = c.call("post", path, values, body=body, authorization=c.bearer(),
                       label=f"body the schema forbids: {why}", expect={422})
        if reply.status and 200 <= reply.status < 300 and after_acceptance:
            after_acceptance()


def pick_station(c: Checker, preferred: str, fits: Callable[[dict], bool]) -> dict | None:
    for s in c.stations:
        if s.get("name") == preferred and fits(s):
            return s
    return next((s for s in c.stations if fits(s)), None)


def accepted_by(station: str) -> Callable[[Reply, Any], list[str]]:
    def check(reply: Reply, parsed: Any) -> list[str]:
        if reply.status == 200 and isinstance(parsed, dict) and parsed.get("station") != station:
            return [f"accepted names station {parsed.get('station')!r}, expected {station!r}"]
        if reply.status == 200 and isinstance(parsed, dict) and parsed.get("by") != "admin":
            return [f"accepted records by {parsed.get('by')!r}, expected the token's name 'admin'"]
        return []
    return check


def plan_setpoints(c: Checker, path: str) -> None:
    station = pick_station(c, "heat-rig-1", lambda s: bool(s.get("settings")))
    if station is None:
        c.record(False, f"POST {path} exercised", ["no station has settings"])
        return
    name = station["name"]
    setting = next((s for s in station["settings"] if s["name"] == "setpoint_c"), station["settings"][0])
    sname, lo, hi = setting["name"], setting["min"], setting["max"]
    values = {"name": name}
    original = c.status_of(name).get("results", {}).get(sname)
    value = round((lo + hi) / 2)
    if value == original:
        value += 1
    valid = {"name": sname, "value": value}

    def applied(expected: float) -> Callable[[Reply, Any], list[str]]:
        def check(reply: Reply, parsed: Any) -> list[str]:
            problems = accepted_by(name)(reply, parsed)
            if sname not in c.status_of(name).get("results", {}):
                return problems
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                now = c.status_of(name).get("results", {}).get(sname)
                if now == expected:
                    return problems
                time.sleep(0.2)
            return problems + [f"after 200, {name}'s results.{sname} is {now}, expected {expected}"]
        return check

    c.call("post", path, values, body=valid, authorization=c.bearer(), label=f"valid: {sname} {value}",
           expect={200}, extra=applied(value))
    # Refused writes change nothing: afterwards the setting still holds `value`.
    write_basics(c, path, values, {"name": sname, "value": value + 1})
    body_checks(c, path, values, valid)
    for bad, why in [(hi + (hi - lo) + 999, "above the setting's max"), (lo - (hi - lo) - 1, "below the setting's min")]:
        c.call("post", path, values, body={"name": sname, "value": bad}, authorization=c.bearer(),
               label=f"{sname} {bad}: {why} {lo}…{hi}", expect={422})
    c.call("post", path, values, body={"name": "no_such_setting", "value": 1}, authorization=c.bearer(),
           label="unknown setting", expect={422})
    now = c.status_of(name).get("results", {}).get(sname, value)
    c.record(now == value, f"refused writes left {name}'s {sname} at {value}",
             [] if now == value else [f"it is {now}"])
    if isinstance(original, (int, float)) and lo <= original <= hi and original != value:
        c.call("post", path, values, body={"name": sname, "value": original}, authorization=c.bearer(),
               label=f"valid: {sname} back to {original}", expect={200}, extra=applied(original))


def run_station(c: Checker) -> dict | None:
    return pick_station(c, "extractor-1", lambda s: isinstance(s.get("run"), dict))


def stop_and_wait(c: Checker, name: str, label: str) -> None:
    stop = "/api/stations/{name}/run/stop"
    if stop in c.contract.doc["paths"]:
        c.call("post", stop, {"name": name}, authorization=c.bearer(), label=label, expect={200},
               extra=accepted_by(name))
    else:
        http("post", c.url(stop, {"name": name}), authorization=c.bearer())
    c.record(c.wait_running(name, False), f"{name}'s run ended after run/stop (within 45 s)")


def plan_run_start(c: Checker, path: str) -> None:
    station = run_station(c)
    if station is None:
        c.record(False, f"POST {path} exercised", ["no station has a run"])
        return
    name = station["name"]
    values = {"name": name}
    valid = {"recipe": {"name": "openapi-check", "parameters": {}}}
    write_basics(c, path, values, NO_BODY)
    if c.running(name):
        stop_and_wait(c, name, "stop the run before run/start checks")
    # No run in progress now, so a body the server wrongly takes starts one (200) instead of hiding behind
    # "a run is already in progress" (422).
    body_checks(c, path, values, valid,
                after_acceptance=lambda: stop_and_wait(c, name, "stop the run a wrongly accepted body started"))
    c.call("post", path, values, authorization=c.bearer(), label="valid: no body (the default recipe)",
           expect={200}, extra=accepted_by(name))
    c.record(c.wait_running(name, True, timeout=20), f"{name} runs after run/start")
    c.call("post", path, values, body=valid, authorization=c.bearer(), label="while a run is in progress",
           expect={422})
    stop_and_wait(c, name, "stop to start again")
    c.call("post", path, values, body=valid, authorization=c.bearer(), label=f"valid: {short(valid)}",
           expect={200}, extra=accepted_by(name))
    c.record(c.wait_running(name, True, timeout=20), f"{name} runs after run/start with a recipe")


def plan_run_stop(c: Checker, path: str) -> None:
    station = run_station(c)
    if station is None:
        c.record(False, f"POST {path} exercised", ["no station has a run"])
        return
    name = station["name"]
    values = {"name": name}
    if not c.running(name):
        http("post", c.url("/api/stations/{name}/run/start", values), authorization=c.bearer())
        c.wait_running(name, True, timeout=20)
    write_basics(c, path, values, NO_BODY)
    c.record(c.running(name), f"refused run/stop requests left {name}'s run running")
    c.call("post", path, values, authorization=c.bearer(), label="valid: no body", expect={200},
           extra=accepted_by(name))
    c.record(c.wait_running(name, False), f"{name}'s run ended after run/stop (within 45 s)")
    c.call("post", path, values, authorization=c.bearer(), label="no run in progress", expect={422})
    # Leave the demo plant as it started: extractor running.
    http("post", c.url("/api/stations/{name}/run/start", values), authorization=c.bearer())


def plan_acknowledge(c: Checker, path: str) -> None:
    stations = http("get", c.base + "/api/stations").json().get("stations", [])
    active = [(s["name"], a["code"]) for s in stations for a in s.get("alarms", [])
              if a.get("acknowledged_at") is None]
    name = active[0][0] if active else c.first()
    values = {"name": name, "code": NOT_ACTIVE_ALARM}
    valid = {"by": "openapi-check"}
    write_basics(c, path, values, valid)
    body_checks(c, path, values, valid)
    c.call("post", path, values, body={"by": "   "}, authorization=c.bearer(), label="by is only blanks",
           expect={422})
    c.call("post", path, values, body=valid, authorization=c.bearer(), label="alarm not active", expect={422})
    if active:
        station, code = active[0]
        c.call("post", path, {"name": station, "code": code}, body=valid, authorization=c.bearer(),
               label=f"valid: active alarm {code}", expect={200}, extra=accepted_by(station))
    else:
        c.note(f"POST {path}: no active alarm on any station, so 200 was not exercised")


def plan_notify_test(c: Checker, path: str) -> None:
    targets = [t["name"] for t in http("get", c.base + "/api/notify").json().get("targets", [])]
    values = {"target": targets[0] if targets else "no-such-target"}
    write_basics(c, path, values, NO_BODY)
    c.call("post", path, {"target": "no-such-target"}, authorization=c.bearer(), label="unknown target",
           expect={404})


def plan_reload(c: Checker, path: str) -> None:
    """A reload of the configuration rigd runs (the demo plant, unchanged): 200 with every station in `unchanged` and
    nothing restarted, added or removed, the same stations listed afterwards, and a config_reloaded event by the
    token's name. Concurrent reloads get 200 or 409 (reload_in_progress). 422 (a refused file) is ReloadTests'."""
    write_basics(c, path, {}, NO_BODY)
    names = sorted(s["name"] for s in c.stations)

    def unchanged(reply: Reply, parsed: Any) -> list[str]:
        if reply.status != 200 or not isinstance(parsed, dict):
            return []
        problems = []
        if sorted(parsed.get("unchanged", [])) != names:
            problems.append(f"unchanged is {parsed.get('unchanged')}, expected every station: {names}")
        for key in ("errors", "restarted", "added", "removed", "restarted_with_their_line", "retried_refused",
                    "needs_restart", "not_confirmed_safe"):
            if parsed.get(key):
                problems.append(f"{key} is {parsed.get(key)} for an unchanged configuration")
        if parsed.get("by") != "admin":
            problems.append(f"by is {parsed.get('by')!r}, expected the token's name 'admin'")
        if f"{len(names)} unchanged" not in parsed.get("summary", ""):
            problems.append(f"summary {parsed.get('summary')!r} does not say '{len(names)} unchanged'")
        listed = http("get", c.base + "/api/stations")
        after = sorted(s.get("name") for s in listed.json().get("stations", [])) if listed.status == 200 else None
        if after != names:
            problems.append(f"after the reload GET /api/stations lists {after}, expected {names}")
        return problems

    c.call("post", path, {}, authorization=c.bearer(), label="valid: the unchanged configuration", expect={200},
           extra=unchanged)
    c.call("post", path, {}, raw=b"not json", authorization=c.bearer(), label="a body that is not JSON (never read)",
           expect={200}, extra=unchanged)
    deadline = time.monotonic() + 5
    events: list = []
    while time.monotonic() < deadline and not events:
        reply = http("get", c.base + "/api/events?from=-10m&limit=100000", authorization=c.bearer())
        events = [e for e in (reply.json().get("events", []) if reply.status == 200 else [])
                  if e.get("kind") == "config_reloaded" and e.get("actor") == "admin"]
        if not events:
            time.sleep(0.25)
    c.record(bool(events), "the data log records config_reloaded with the token's name (within 5 s)",
             [] if events else ["no config_reloaded event with actor 'admin' in GET /api/events?from=-10m"])
    # Several at once: each answers 200 (it ran) or 409 (another was running); none fails or changes anything.
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(c.call, "post", path, {}, authorization=c.bearer(), label="one of 4 at once",
                                   expect={200, 409}, extra=unchanged) for _ in range(4)]:
            future.result()


def hand_target(c: Checker, path: str) -> tuple[str, str, int] | None:
    """A station with a relay that may be held (the demo's pond-1 and its aerator-1), that relay, and the value it has
    now (holding it there leaves the plant as the controller has it). None, recorded as a failure, without one."""
    station = pick_station(c, "pond-1", lambda s: any(o.get("kind") == "relay" for o in s.get("hand_outputs", [])))
    if station is None:
        c.record(False, f"POST {path} exercised", ["no station has a relay to hold"])
        return None
    name = station["name"]
    relay = next(o["name"] for o in station["hand_outputs"] if o.get("kind") == "relay")
    return name, relay, 1 if c.status_of(name).get("relays", {}).get(relay) else 0


def held(c: Checker, name: str) -> list[str]:
    return [h.get("output") for h in c.status_of(name).get("hand", [])]


def plan_hand(c: Checker, path: str) -> None:
    found = hand_target(c, path)
    if found is None:
        return
    name, relay, value = found
    values = {"name": name}
    valid = {"output": relay, "value": value, "minutes": 1, "why": "openapi-check"}

    def back_to_auto() -> None:
        http("post", c.url("/api/stations/{name}/auto", values), body={}, authorization=c.bearer())

    write_basics(c, path, values, valid)
    c.record(not held(c, name), f"refused hand requests left {name} without holds", held(c, name))
    body_checks(c, path, values, valid, after_acceptance=back_to_auto)
    maximum = c.status_of(name).get("hand_max_s", 1800) / 60
    for body, why in [({"output": "no_such_output", "value": 1}, "unknown output"),
                      ({"output": relay, "value": 2}, "a relay's value other than 0 or 1"),
                      ({"output": relay, "value": 1, "minutes": maximum + 1}, f"longer than {maximum:g} min")]:
        c.call("post", path, values, body=body, authorization=c.bearer(), label=why, expect={422})

    def holds(reply: Reply, parsed: Any) -> list[str]:
        problems = accepted_by(name)(reply, parsed)
        hold = next((h for h in c.status_of(name).get("hand", []) if h.get("output") == relay), None)
        if reply.status == 200 and (hold is None or hold.get("by") != "admin" or hold.get("why") != "openapi-check"):
            problems.append(f"after 200, {name}'s hand is {c.status_of(name).get('hand')}")
        return problems

    c.call("post", path, values, body=valid, authorization=c.bearer(), label=f"valid: {short(valid)}",
           expect={200}, extra=holds)


def plan_auto(c: Checker, path: str) -> None:
    found = hand_target(c, path)
    if found is None:
        return
    name, relay, value = found
    values = {"name": name}
    if relay not in held(c, name):
        http("post", c.url("/api/stations/{name}/hand", values), body={"output": relay, "value": value, "minutes": 1},
             authorization=c.bearer())
    valid = {"output": relay, "why": "openapi-check"}
    write_basics(c, path, values, valid)
    c.record(relay in held(c, name), f"refused auto requests left {relay} of {name} held", held(c, name))
    body_checks(c, path, values, valid)
    c.call("post", path, values, body={"output": "no_such_output"}, authorization=c.bearer(),
           label="an output not in hand mode", expect={422})

    def released(reply: Reply, parsed: Any) -> list[str]:
        problems = accepted_by(name)(reply, parsed)
        if reply.status == 200 and held(c, name):
            problems.append(f"after 200, {name} still holds {held(c, name)}")
        return problems

    c.call("post", path, values, body=valid, authorization=c.bearer(), label=f"valid: {short(valid)}",
           expect={200}, extra=released)
    c.call("post", path, values, authorization=c.bearer(), label="no body, nothing held", expect={422})


def calibration_target(c: Checker, path: str) -> tuple[str, str, str, float] | None:
    """A station with a channel to calibrate, the channel, a method for it and a standard's value: the demo's
    nursery-1 with salinity_ppt by conductivity in a 35 ppt standard, else the first channel that has a method other
    than do (whose saturation point takes no value) with a value of 1. None, recorded as a failure, without one."""
    def channel(s: dict) -> tuple[str, str] | None:
        channels = (s.get("calibration") or {}).get("channels", [])
        for ch in channels:
            if ch.get("name") == "salinity_ppt" and "conductivity" in ch.get("methods", []):
                return ch["name"], "conductivity"
        for ch in channels:
            for method in ch.get("methods", []):
                if method != "do":
                    return ch["name"], method
        return None

    station = pick_station(c, "nursery-1", lambda s: channel(s) is not None)
    if station is None:
        c.record(False, f"POST {path} exercised", ["no station has a channel to calibrate"])
        return None
    name = station["name"]
    chosen, method = channel(station)
    return name, chosen, method, 35.0 if chosen == "salinity_ppt" else 1.0


def calibration_session(c: Checker, name: str) -> dict | None:
    return (c.status_of(name).get("calibration") or {}).get("session")


def cancel_calibration(c: Checker, name: str) -> None:
    """Ends whatever calibration the station has, outside the checks (422 when it has none)."""
    http("post", c.url("/api/stations/{name}/calibration/cancel", {"name": name}), authorization=c.bearer())


def start_calibration(c: Checker, name: str, channel: str, method: str) -> None:
    """A fresh calibration in state waiting, outside the checks."""
    cancel_calibration(c, name)
    http("post", c.url("/api/stations/{name}/calibration/start", {"name": name}),
         body={"channel": channel, "method": method}, authorization=c.bearer())


def session_is(name: str, state: str | None, c: Checker) -> Callable[[Reply, Any], list[str]]:
    """A calibration write's answer: the station, who asked, and its session's state after it (None: no session),
    both in the answer and in the station's status."""
    def check(reply: Reply, parsed: Any) -> list[str]:
        problems = accepted_by(name)(reply, parsed)
        if reply.status != 200:
            return problems
        answered = (parsed.get("calibration") or {}).get("session") if isinstance(parsed, dict) else None
        for where, session in (("the answer", answered), ("the status", calibration_session(c, name))):
            got = session.get("state") if isinstance(session, dict) else None
            if got != state:
                problems.append(f"after 200, {where}'s calibration session is {short(session, 200)}, "
                                f"expected state {state}")
        return problems
    return check


def plan_calibration_start(c: Checker, path: str) -> None:
    found = calibration_target(c, path)
    if found is None:
        return
    name, channel, method, _ = found
    values = {"name": name}
    points = 1 if method == "conductivity" else 2
    valid = {"channel": channel, "method": method, "points": points, "why": "openapi-check"}
    cancel_calibration(c, name)
    write_basics(c, path, values, valid)
    c.record(calibration_session(c, name) is None, f"refused calibration/start requests left {name} without a session",
             [short(calibration_session(c, name))] if calibration_session(c, name) else [])
    # No session now, so a body the server wrongly takes starts one (200) instead of hiding behind "a calibration is
    # in progress" (422).
    body_checks(c, path, values, valid, after_acceptance=lambda: cancel_calibration(c, name))
    for body, why in [({"channel": "no_such_channel", "method": "linear"}, "unknown channel"),
                      ({"channel": channel, "method": "ph" if method != "ph" else "do"}, "a method that does not fit"),
                      ({"channel": channel, "method": "linear", "points": 1}, "linear with 1 point")]:
        c.call("post", path, values, body=body, authorization=c.bearer(), label=why, expect={422})
        if calibration_session(c, name) is not None:
            cancel_calibration(c, name)
    c.call("post", path, values, body=valid, authorization=c.bearer(), label=f"valid: {short(valid)}",
           expect={200}, extra=session_is(name, "waiting", c))
    c.call("post", path, values, body=valid, authorization=c.bearer(), label="while a calibration is in progress",
           expect={422})
    cancel_calibration(c, name)
    c.record(calibration_session(c, name) is None, f"{name}'s calibration cancelled after the start checks")


def plan_calibration_point(c: Checker, path: str) -> None:
    found = calibration_target(c, path)
    if found is None:
        return
    name, channel, method, value = found
    values = {"name": name}
    valid = {"value": value, "temp_c": 25, "lot": "openapi-check"}
    start_calibration(c, name, channel, method)
    c.record(calibration_session(c, name) is not None, f"{name} has a calibration of {channel} to add points to")
    write_basics(c, path, values, valid)
    session = calibration_session(c, name) or {}
    c.record(session.get("state") == "waiting", f"refused calibration/point requests left {name}'s session waiting",
             [] if session.get("state") == "waiting" else [short(session)])
    # Waiting for a point, so a body the server wrongly takes starts one (200): start the session again after it.
    body_checks(c, path, values, valid, after_acceptance=lambda: start_calibration(c, name, channel, method))
    for body, why in [({}, f"no value for a {method} point"), ({"value": 1e9}, "a value outside the channel's range")]:
        c.call("post", path, values, body=body, authorization=c.bearer(), label=why, expect={422})
    c.call("post", path, values, authorization=c.bearer(), label=f"no body: no value for a {method} point",
           expect={422})
    c.call("post", path, values, body=valid, authorization=c.bearer(), label=f"valid: {short(valid)}",
           expect={200}, extra=session_is(name, "settling", c))
    c.call("post", path, values, body=valid, authorization=c.bearer(), label="while a point is settling",
           expect={422})
    cancel_calibration(c, name)
    c.record(calibration_session(c, name) is None, f"{name}'s calibration cancelled with its point settling")
    c.call("post", path, values, body=valid, authorization=c.bearer(), label="no calibration in progress",
           expect={422})


def plan_calibration_finish(c: Checker, path: str) -> None:
    """A calibration cannot be finished within the checker's time (a point takes [calibration] stable_window_s, 60 s
    by default, to be recorded): the refusals only; 200 is CalibrationTests'."""
    found = calibration_target(c, path)
    if found is None:
        return
    name, channel, method, _ = found
    values = {"name": name}
    valid = {"apply": True}
    cancel_calibration(c, name)
    write_basics(c, path, values, valid)
    body_checks(c, path, values, valid)
    c.call("post", path, values, body=valid, authorization=c.bearer(), label="no calibration in progress",
           expect={422})
    c.call("post", path, values, authorization=c.bearer(), label="no body, no calibration in progress", expect={422})
    start_calibration(c, name, channel, method)
    c.call("post", path, values, body=valid, authorization=c.bearer(), label="no point recorded yet", expect={422})
    session = calibration_session(c, name) or {}
    c.record(session.get("state") == "waiting", f"a refused finish left {name}'s session waiting",
             [] if session.get("state") == "waiting" else [short(session)])
    cancel_calibration(c, name)
    c.record(calibration_session(c, name) is None, f"{name}'s calibration cancelled after the finish checks")


def plan_calibration_cancel(c: Checker, path: str) -> None:
    found = calibration_target(c, path)
    if found is None:
        return
    name, channel, method, _ = found
    values = {"name": name}
    start_calibration(c, name, channel, method)
    write_basics(c, path, values, {})
    c.record(calibration_session(c, name) is not None, f"refused calibration/cancel requests left {name}'s session")
    body_checks(c, path, values, {}, after_acceptance=lambda: start_calibration(c, name, channel, method))
    c.call("post", path, values, body={}, authorization=c.bearer(), label="valid: {}", expect={200},
           extra=session_is(name, None, c))
    c.call("post", path, values, authorization=c.bearer(), label="no calibration to cancel", expect={422})
    start_calibration(c, name, channel, method)
    c.call("post", path, values, authorization=c.bearer(), label="valid: no body", expect={200},
           extra=session_is(name, None, c))


WRITE_PLANS: dict[str, Callable[[Checker, str], None]] = {
    "/api/stations/{name}/hand": plan_hand,
    "/api/stations/{name}/auto": plan_auto,
    "/api/stations/{name}/calibration/start": plan_calibration_start,
    "/api/stations/{name}/calibration/point": plan_calibration_point,
    "/api/stations/{name}/calibration/finish": plan_calibration_finish,
    "/api/stations/{name}/calibration/cancel": plan_calibration_cancel,
    "/api/notify/{target}/test": plan_notify_test,
    "/api/reload": plan_reload,
    "/api/stations/{name}/setpoints": plan_setpoints,
    "/api/stations/{name}/run/start": plan_run_start,
    "/api/stations/{name}/run/stop": plan_run_stop,
    "/api/stations/{name}/alarms/{code}/acknowledge": plan_acknowledge,
}


# MARK: Main


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # exit 1 (not argparse's 2): anything but a pass is 1
        self.print_usage(sys.stderr)
        print(f"openapi_check: {message}", file=sys.stderr)
        sys.exit(1)


def main() -> int:
    parser = Parser(description="Checks a running rigd against its OpenAPI document.")
    parser.add_argument("base_url", help="e.g. http://127.0.0.1:8080")
    parser.add_argument("token_file", help="rigd's API token file (<data-dir>/api-token)")
    parser.add_argument("--viewer-token-file", metavar="FILE",
                        help="a named token of role viewer (rigd token add NAME --role viewer): writes must answer 403")
    parser.add_argument("--document", metavar="FILE",
                        help="check the server against this document instead of the one it serves")
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    try:
        with open(args.token_file, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as error:
        print(f"openapi_check: cannot read the token file: {error}", file=sys.stderr)
        return 1
    if not token:
        print(f"openapi_check: the token file {args.token_file} is empty", file=sys.stderr)
        return 1

    # The served document: JSON, and a valid OpenAPI 3.1 document.
    served = http("get", base + "/api/openapi.json")
    served_doc: Any = None
    if served.error or served.status != 200:
        print(f"FAIL GET /api/openapi.json → {served.status}: {served.error or ''}")
        print(served.describe(token))
        print("openapi_check: 1 check, 1 failed (the server did not serve its document)")
        return 1
    try:
        served_doc = served.json()
    except ValueError as error:
        print(f"FAIL GET /api/openapi.json is JSON: {error}")
        return 1

    if args.document:
        try:
            with open(args.document, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as error:
            print(f"openapi_check: cannot read {args.document}: {error}", file=sys.stderr)
            return 1
        source = f"local document {args.document}"
    else:
        doc, source = served_doc, "served document"
    if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
        print(f"FAIL the {source} has no `paths` object")
        return 1

    viewer_token = None
    if args.viewer_token_file:
        try:
            with open(args.viewer_token_file, encoding="utf-8") as f:
                viewer_token = f.read().strip()
        except OSError as error:
            print(f"openapi_check: cannot read the viewer token file: {error}", file=sys.stderr)
            return 1
    checker = Checker(base, token, Contract(doc), viewer_token)
    print(f"openapi_check: checking {base} against the {source} "
          f"({len(checker.contract.operations())} operations)")
    errors = spec_errors(served_doc)
    checker.record(not errors, "the served document is a valid OpenAPI 3.1 document (openapi-spec-validator)",
                   errors)
    if args.document:
        errors = spec_errors(doc)
        checker.record(not errors, f"{args.document} is a valid OpenAPI 3.1 document (openapi-spec-validator)",
                       errors)
        if doc != served_doc:
            checker.note(f"{args.document} differs from the served document")
    checker.run()

    failures = [c for c in checker.checks if not c.ok]
    total = len(checker.checks)
    print(f"\nopenapi_check: {total} checks, {total - len(failures)} passed, {len(failures)} failed"
          + (f"; {len(checker.notes)} notes" if checker.notes else ""))
    if failures:
        print("\nFAILURES:")
        for i, check in enumerate(failures, 1):
            print(f"{i}. {check.label}")
            for p in check.problems:
                print(f"    - {p}")
            if check.reply is not None:
                print(check.reply.describe(token))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
