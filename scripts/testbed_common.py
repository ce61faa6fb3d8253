"""Shared helpers for the local AWS testbed scripts (moto_server on loopback).

Only ever talks to a loopback endpoint: the scripts refuse anything else, so a
mistyped AWS_ENDPOINT_URL can never reset or seed a real account.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
import urllib.parse
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# The fix from shared/reference/stack.md: without it every DescribeTasks call
# moves each task one step towards STOPPED.
TASK_TRANSITION_FIX = {
    "model_name": "ecs::task",
    "transition": {"progression": "manual", "times": 1000000},
}


def die(msg: str, code: int = 2) -> "None":
    print(f"{Path(sys.argv[0]).name}: error: {msg}", file=sys.stderr)
    sys.exit(code)


def resolve_endpoint(arg: str | None) -> str:
    endpoint = arg or os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        die("no endpoint: pass --endpoint http://127.0.0.1:PORT or set AWS_ENDPOINT_URL")
    parsed = urllib.parse.urlparse(endpoint)
    host = parsed.hostname or ""
    loopback = host == "localhost"
    if not loopback:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
    if parsed.scheme not in ("http", "https") or not loopback:
        die(f"refusing endpoint {endpoint!r}: the testbed only talks to moto on loopback")
    return endpoint.rstrip("/")


def resolve_region(arg: str | None) -> str:
    return arg or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def moto_post(endpoint: str, path: str, body: object | None = None, timeout: float = 10.0) -> bytes:
    data = json.dumps(body if body is not None else {}).encode()
    req = urllib.request.Request(
        endpoint + path,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (loopback only)
        return resp.read()


def reset_moto(endpoint: str) -> None:
    moto_post(endpoint, "/moto-api/reset")
    moto_post(endpoint, "/moto-api/state-manager/set-transition", TASK_TRANSITION_FIX)


def clients(endpoint: str, region: str, *names: str):
    import boto3
    from botocore.config import Config

    cfg = Config(
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
    )
    session = boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "testing",
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "testing",
        aws_session_token=os.environ.get("AWS_SESSION_TOKEN") or None,
        region_name=region,
    )
    return tuple(session.client(n, endpoint_url=endpoint, config=cfg) for n in names)


def json_default(o: object) -> str:
    # datetimes from boto3 responses
    iso = getattr(o, "isoformat", None)
    if iso is not None:
        return iso()
    return str(o)
