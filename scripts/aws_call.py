#!/usr/bin/env python3
"""Call one AWS API operation on the local testbed (moto on loopback) and print JSON.

  scripts/aws_call.py [--endpoint URL] SERVICE OPERATION ['{"json": "params"}']
  e.g. scripts/aws_call.py ecs stop_task '{"cluster": "cb-prototype", "task": "arn:..."}'

SERVICE is a boto3 client name (ecs, elb, elbv2, ec2), OPERATION its snake_case method.
Success: the response (without ResponseMetadata) on stdout, exit 0.
AWS error: {"error": {"code": ..., "message": ..., "http_status": ...}} on stdout, exit 3.
Tests use it to change the world under ecs-roll (stop a task, deregister an instance...).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from testbed_common import clients, die, json_default, resolve_endpoint, resolve_region  # noqa: E402


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint")
    p.add_argument("--region")
    p.add_argument("service")
    p.add_argument("operation")
    p.add_argument("params", nargs="?", default="{}")
    args = p.parse_args(argv)
    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as e:
        die(f"params are not JSON: {e}")
    (client,) = clients(resolve_endpoint(args.endpoint), resolve_region(args.region), args.service)
    method = getattr(client, args.operation, None)
    if method is None:
        die(f"{args.service} has no operation {args.operation}")
    from botocore.exceptions import ClientError

    try:
        resp = method(**params)
    except ClientError as e:
        err = e.response.get("Error", {})
        out = {
            "error": {
                "code": err.get("Code"),
                "message": err.get("Message") or str(e),
                "http_status": e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
            }
        }
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
        return 3
    resp.pop("ResponseMetadata", None)
    json.dump(resp, sys.stdout, default=json_default)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
