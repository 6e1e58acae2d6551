#!/usr/bin/env python3
"""Down-convert docs/openapi.json (OpenAPI 3.1) to the OpenAPI 3.0.3 that progenitor reads.

    python3 sdk/rust/codegen/downconvert.py docs/openapi.json > openapi-3.0.json

Only what our document uses (and a little more) is converted; anything 3.1-only that this script
does not know makes it fail loudly instead of producing a document that silently means less:

- `openapi: 3.1.0` -> `3.0.3`; `info.license.identifier` (3.1 only) is dropped.
- `type: [T, "null"]` -> `type: T, nullable: true`.
- `oneOf`/`anyOf` with a `{type: "null"}` member -> the other member(s) with `nullable: true`
  (a lone `$ref` becomes `allOf: [$ref]`, since 3.0 ignores siblings of `$ref`).
- `const: v` -> `enum: [v]`; `examples: [...]` -> `example`; numeric `exclusiveMinimum/Maximum`
  -> `minimum/maximum` + boolean flag.
- tuples (`prefixItems`, `items: false`) -> arrays of untyped items (`items: {}`, min/maxItems).

And two things progenitor cannot express, both documented in sdk/rust/README.md:
- a request body with non-JSON media types (the logo upload: image/png|jpeg|webp) becomes one
  `application/octet-stream` binary body (the SDK sends the bytes; the caller sets Content-Type
  via the raw request if needed);
- a response with JSON and other media types (audit logs' `text/csv`) keeps only JSON.

And the input rules in bodies (`minLength`, `maxLength`, `pattern`, integer bounds, and the `enum` of an array's
string items or a query parameter: scopes, event types, delivery statuses; a query parameter
keeps its `pattern`, as `format` of the audit log always had): progenitor would turn each such field
into a newtype or enum of its own, changing the SDK's types whenever a rule is stated. The SDK
keeps `String`s; the server checks the rules and answers 422 naming the field.

The output is deterministic (sorted keys, 2-space indent) so regenerating is reproducible.
"""
import copy
import json
import sys

SCHEMA_ONLY_31 = {
    "$schema", "$id", "$anchor", "$dynamicRef", "$dynamicAnchor", "$defs", "if", "then", "else",
    "dependentSchemas", "dependentRequired", "unevaluatedProperties", "unevaluatedItems",
    "contains", "minContains", "maxContains", "propertyNames", "patternProperties",
    "contentEncoding", "contentMediaType", "contentSchema",
}


def is_null(schema):
    return isinstance(schema, dict) and schema.get("type") == "null" and len(schema) == 1


def convert_schema(schema, where, rules=False):
    if isinstance(schema, bool):
        # `true` = anything, `false` = nothing: 3.0 has no boolean schemas
        if schema:
            return {}
        raise SystemExit(f"{where}: boolean schema `false` has no OpenAPI 3.0 form")
    if not isinstance(schema, dict):
        raise SystemExit(f"{where}: schema is not an object")
    s = dict(schema)
    unknown = SCHEMA_ONLY_31 & s.keys()
    if unknown:
        raise SystemExit(f"{where}: 3.1-only keywords not handled: {sorted(unknown)}")

    t = s.get("type")
    if isinstance(t, list):
        rest = [x for x in t if x != "null"]
        if len(rest) != 1:
            raise SystemExit(f"{where}: type {t} has no OpenAPI 3.0 form")
        s["type"] = rest[0]
        if "null" in t:
            s["nullable"] = True
    elif t == "null":
        raise SystemExit(f"{where}: a bare `type: null` schema has no OpenAPI 3.0 form")

    for key in ("oneOf", "anyOf"):
        if key in s:
            members = s[key]
            rest = [m for m in members if not is_null(m)]
            if len(rest) != len(members):
                s["nullable"] = True
                if len(rest) == 1:
                    del s[key]
                    only = rest[0]
                    if "$ref" in only:
                        s["allOf"] = [only]
                    else:
                        s.update({k: v for k, v in only.items() if k not in s or k == "type"})
                else:
                    s[key] = rest

    if "const" in s:
        s["enum"] = [s.pop("const")]
    if "examples" in s:
        examples = s.pop("examples")
        if examples and "example" not in s:
            s["example"] = examples[0]
    for bound, flag in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(s.get(bound), (int, float)) and not isinstance(s.get(bound), bool):
            s[flag] = s.pop(bound)
            s[bound] = True

    if "prefixItems" in s:
        n = len(s.pop("prefixItems"))
        if s.get("items") is False:
            del s["items"]
        s["items"] = {}
        s["minItems"] = n
        s["maxItems"] = n
        s["description"] = (s.get("description", "") + " A tuple of " + str(n) + " items.").strip()

    if s.get("type") == "string" and not rules:
        for rule in ("minLength", "maxLength", "pattern"):
            s.pop(rule, None)
    if s.get("type") == "integer" and not rules:
        for rule in ("minimum", "maximum"):
            s.pop(rule, None)

    # recurse
    for key in ("properties",):
        if key in s:
            s[key] = {name: convert_schema(sub, f"{where}.{key}.{name}") for name, sub in s[key].items()}
    for key in ("items", "not"):
        if key in s:
            s[key] = convert_schema(s[key], f"{where}.{key}")
    if isinstance(s.get("items"), dict) and s["items"].get("type") == "string":
        s["items"].pop("enum", None)
    if "additionalProperties" in s and isinstance(s["additionalProperties"], dict):
        s["additionalProperties"] = convert_schema(s["additionalProperties"], f"{where}.additionalProperties")
    for key in ("oneOf", "anyOf", "allOf"):
        if key in s:
            s[key] = [convert_schema(sub, f"{where}.{key}[{i}]") for i, sub in enumerate(s[key])]
    return s


def convert_content(content, where):
    for media, body in content.items():
        if "schema" in body:
            body["schema"] = convert_schema(body["schema"], f"{where}.{media}")
    return content


def convert(doc):
    doc = copy.deepcopy(doc)
    if not str(doc.get("openapi", "")).startswith("3.1"):
        raise SystemExit(f"expected an OpenAPI 3.1 document, got {doc.get('openapi')!r}")
    doc["openapi"] = "3.0.3"
    doc.pop("jsonSchemaDialect", None)
    doc.pop("webhooks", None)
    doc.get("info", {}).get("license", {}).pop("identifier", None)
    doc["info"].get("license", {}).setdefault("name", "Apache-2.0")

    components = doc.get("components", {})
    for name, schema in components.get("schemas", {}).items():
        components["schemas"][name] = convert_schema(schema, f"components.schemas.{name}")

    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or method == "parameters":
                continue
            where = f"{method.upper()} {path}"
            for param in op.get("parameters", []):
                if "schema" in param:
                    param["schema"] = convert_schema(param["schema"], f"{where} param {param['name']}", rules=True)
                    if param.get("in") == "query" and param["schema"].get("type") == "string":
                        param["schema"].pop("enum", None)
            body = op.get("requestBody")
            if body:
                media = list(body["content"])
                if media != ["application/json"] and all(not m.endswith("json") for m in media):
                    body["content"] = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
                    body["description"] = (body.get("description", "") +
                                           f" (Accepted media types: {', '.join(media)}.)").strip()
                else:
                    convert_content(body["content"], f"{where} body")
            for status, response in op.get("responses", {}).items():
                content = response.get("content")
                if content:
                    if "application/json" in content and len(content) > 1:
                        response["content"] = {"application/json": content["application/json"]}
                    convert_content(response["content"], f"{where} {status}")
                for header_name, header in response.get("headers", {}).items():
                    if "schema" in header:
                        header["schema"] = convert_schema(header["schema"], f"{where} {status} header {header_name}")
    return doc


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    json.dump(convert(doc), sys.stdout, indent=2, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
