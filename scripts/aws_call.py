#!/usr/bin/env python3
"""Call one AWS API operation on the local testbed (moto on loopback) and print JSON.

  scripts/aws_call.py [--endpoint URL] SERVICE OPERATION ['{"json": "params"}']
  e.g. scripts/aws_call.py ecs stop_task '{"cluster": "cb-prototype", "task": "arn:..."}'

SERVICE is a boto3 client name (ecs, elb, elbv2, ec2), OPERATION its snake_case method.
Success: the response (without ResponseMetadata) on stdout, exit 0.
AWS error: {"error": {"code": ..., "message": ..., "http_status": ...}} on stdout, exit 3.
Tests use it to change the world under ecs-roll (stop a task, deregister an instance...).

  scripts/aws_call.py [--endpoint URL] --serve
Serves many calls from one process (no interpreter start per call): reads one JSON
request per line on stdin, {"service": "ecs", "operation": "stop_task", "params": {...}},
and writes one JSON line per request: {"ok": response} or {"error": {...}}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from testbed_common import clients, die, json_default, resolve_endpoint, resolve_region  # noqa: E402


class Caller:
    def __init__(self, endpoint: str, region: str):
        self.endpoint, self.region = endpoint, region
        self._clients: dict = {}

    def call(self, service: str, operation: str, params: dict) -> tuple[bool, dict]:
        """(True, response) or (False, {"code", "message", "http_status"})."""
        from botocore.exceptions import ClientError

        if service not in self._clients:
            (self._clients[service],) = clients(self.endpoint, self.region, service)
        method = getattr(self._clients[service], operation, None)
        if method is None:
            return False, {"code": "NoSuchOperation", "message": f"{service} has no operation {operation}", "http_status": None}
        try:
            resp = method(**params)
        except ClientError as e:
            err = e.response.get("Error", {})
            return False, {
                "code": err.get("Code"),
                "message": err.get("Message") or str(e),
                "http_status": e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
            }
        resp.pop("ResponseMetadata", None)
        return True, resp


def serve(caller: Caller) -> int:
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            ok, body = caller.call(req["service"], req["operation"], req.get("params") or {})
            out = {"ok": body} if ok else {"error": body}
        except Exception as e:  # a bad request or a crash in botocore: report, keep serving
            out = {"error": {"code": "HelperError", "message": f"{type(e).__name__}: {e}", "http_status": None}}
        sys.stdout.write(json.dumps(out, default=json_default) + "\n")
        sys.stdout.flush()
    return 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint")
    p.add_argument("--region")
    p.add_argument("--serve", action="store_true", help="answer JSON requests from stdin, one per line")
    p.add_argument("service", nargs="?")
    p.add_argument("operation", nargs="?")
    p.add_argument("params", nargs="?", default="{}")
    args = p.parse_args(argv)
    caller = Caller(resolve_endpoint(args.endpoint), resolve_region(args.region))
    if args.serve:
        return serve(caller)
    if not args.service or not args.operation:
        p.error("SERVICE and OPERATION are required (or --serve)")
    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as e:
        die(f"params are not JSON: {e}")
    ok, body = caller.call(args.service, args.operation, params)
    json.dump(body if ok else {"error": body}, sys.stdout, default=json_default)
    sys.stdout.write("\n")
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
