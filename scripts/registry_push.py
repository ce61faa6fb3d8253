#!/usr/bin/env python3
"""Pushes a minimal image (one config blob, no layers) into a container registry on
loopback through its HTTP API v2, under one or more tags: enough for a manifest lookup to
find it. For tests and the demo against Debian's docker-registry; refuses any registry that
is not on this machine.

    registry_push.py http://127.0.0.1:5000 rafabor/prototype-4-cb v0.0.1 v0.0.2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import urllib.error
import urllib.request

from testbed_common import die, resolve_endpoint

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"


def request(method: str, url: str, body: bytes = b"", content_type: str | None = None) -> dict:
    """Sends; returns the response's headers (dies on an HTTP error)."""
    req = urllib.request.Request(url, data=body, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return dict(resp.headers)
    except urllib.error.HTTPError as e:
        die(f"{method} {url}: HTTP {e.code}: {e.read()[:300]!r}")
    return {}


def push(registry: str, name: str, tags: list[str]) -> None:
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, "config": {}}
    ).encode()
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    # An upload session, then the blob in one PUT to where it points.
    location = request("POST", f"{registry}/v2/{name}/blobs/uploads/")["Location"]
    if location.startswith("/"):
        location = registry + location
    sep = "&" if "?" in location else "?"
    request("PUT", f"{location}{sep}digest={digest}", config, "application/octet-stream")
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": CONFIG_TYPE, "size": len(config), "digest": digest},
            "layers": [],
        }
    ).encode()
    for tag in tags:
        request("PUT", f"{registry}/v2/{name}/manifests/{tag}", manifest, MANIFEST_TYPE)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("registry", help="http://127.0.0.1:PORT (loopback only)")
    p.add_argument("name", help="repository, e.g. rafabor/prototype-4-cb")
    p.add_argument("tags", nargs="+")
    a = p.parse_args()
    registry = resolve_endpoint(a.registry).rstrip("/")
    push(registry, a.name, a.tags)
    print(json.dumps({"registry": registry, "name": a.name, "tags": a.tags}))


if __name__ == "__main__":
    main()
