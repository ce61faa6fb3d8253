#!/usr/bin/env python3
"""Validates ecs-roll's machine-readable output against the committed JSON Schemas.

    check_schema.py result FILE...       each FILE one --output json document
    check_schema.py json-lines FILE...   each FILE an --output json-lines stream (every line)

The schemas are schema/result.schema.json and schema/json-lines.schema.json (draft 2020-12).
Exit 0 when every document is valid, 1 naming each error (file, line, path, message), 2 on
bad usage. Used by tests/e2e/schema.rs with the real binary's output.
"""

import json
import pathlib
import sys

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMA_DIR = pathlib.Path(__file__).resolve().parent.parent / "schema"


def load(name: str) -> dict:
    return json.loads((SCHEMA_DIR / name).read_text())


def validator(kind: str) -> Draft202012Validator:
    result, lines = load("result.schema.json"), load("json-lines.schema.json")
    registry = Registry().with_resources(
        [(s["$id"], Resource.from_contents(s)) for s in (result, lines)]
    )
    schema = result if kind == "result" else lines
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=registry)


def leaves(errors):
    for e in errors:
        if e.context:
            yield from leaves(e.context)
        else:
            yield e


def documents(kind: str, path: str):
    text = pathlib.Path(path).read_text()
    if kind == "result":
        yield 0, json.loads(text)
        return
    for n, line in enumerate(text.splitlines(), 1):
        yield n, json.loads(line)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("result", "json-lines"):
        print(__doc__, file=sys.stderr)
        return 2
    kind, files = argv[0], argv[1:]
    v = validator(kind)
    bad = 0
    for path in files:
        for n, doc in documents(kind, path):
            errors = list(v.iter_errors(doc))
            if not errors:
                continue
            bad += 1
            line = f" line {n}" if n else ""
            # Every innermost error, with the branch of a oneOf it is in (schema path).
            for e in leaves(errors):
                where = "/".join(str(p) for p in e.absolute_path) or "(document)"
                branch = "/".join(str(p) for p in e.absolute_schema_path)
                print(f"{path}{line}: {where}: {e.message} [{branch}]")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
