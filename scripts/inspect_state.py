#!/usr/bin/env python3
"""Inspect the AWS state of the local testbed (moto_server on loopback) as JSON.

Two modes:

  scripts/inspect_state.py state  [--endpoint URL] [--cluster C] [--load-balancer LB] [--family F]
      Prints one JSON object: task definitions (revision, status, images, tags), every
      task of the cluster (RUNNING and STOPPED, with task definition, image and EC2
      instance), running tasks per instance, container instances (remaining ports,
      CPU, memory), the classic ELB (registered instances, instance health, health
      check, connection draining, cross-zone) and the EC2 instances' states.

  scripts/inspect_state.py sample [--interval 0.05] [--max-seconds 900] ...
      Health sampler: prints one JSON line per sample until killed (SIGTERM/SIGINT),
      stdin reaches EOF (only with --stop-on-eof) or --max-seconds passes:
        {"seq": 3, "t_ms": 152, "registered": 3, "in_service": 3, "draining": 0,
         "serving": 3, "cut": 0, "in_service_ids": [...], "draining_ids": [...],
         "serving_ids": [...], "cut_ids": [...]}
      registered: instances registered with the ELB (DescribeInstanceHealth), not
                  counting those whose deregistration (connection draining) is in progress.
      in_service: registered instances the ELB reports InService: the ones that get new
                  requests.
      draining:   instances being deregistered ("Instance deregistration currently in
                  progress.": in-flight requests still being served).
      serving:    InService instances that run a RUNNING task of the family (or of any
                  family without --family). Exact for the moment of the health call: the
                  same task ARN must be RUNNING in a task snapshot taken before it and in
                  one taken after it (a stopped task never runs again; after it, when the
                  cluster has services, DEACTIVATING counts as running, see `cut`).
      cut:        draining instances that had no RUNNING task of the family already
                  before the health call: their task was stopped while connections were
                  still draining (in-flight requests cut). When the cluster has services,
                  a DEACTIVATING task counts as running here: one the ECS service scheduler
                  stops keeps running until its load balancers are done draining it.
      A failed sample prints {"seq": n, "t_ms": ..., "error": "..."} and sampling goes on.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from testbed_common import clients, die, json_default, resolve_endpoint, resolve_region  # noqa: E402


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", nargs="?", choices=["state", "sample"], default="state")
    p.add_argument("--endpoint", help="moto endpoint (default: $AWS_ENDPOINT_URL); loopback only")
    p.add_argument("--region", help="default: $AWS_REGION or us-east-1")
    p.add_argument("--cluster", default="cb-prototype")
    p.add_argument("--load-balancer", default="cb-prototype-elb")
    p.add_argument("--family", default=None, help="task definition family (state: default all; sample: default any)")
    p.add_argument("--interval", type=float, default=0.05, help="sample mode: seconds between samples (default 0.05)")
    p.add_argument("--max-seconds", type=float, default=900.0, help="sample mode: stop after this long (default 900)")
    p.add_argument("--no-tasks", action="store_true", help="sample mode: only DescribeInstanceHealth (no serving count)")
    p.add_argument("--stop-on-eof", action="store_true", help="sample mode: stop when stdin is closed")
    return p.parse_args(argv)


# What a classic ELB says of an instance whose connections are draining.
DEREGISTERING = "Instance deregistration currently in progress."


def family_revision(td_arn: str) -> tuple[str, int]:
    name = td_arn.rsplit("/", 1)[-1]
    family, _, rev = name.rpartition(":")
    return family, int(rev)


def tags_dict(tags: list[dict] | None) -> dict:
    return {t["key"]: t["value"] for t in (tags or [])}


def paginate(method, key: str, **kwargs) -> list:
    out: list = []
    token = None
    while True:
        kw = dict(kwargs)
        if token:
            kw["nextToken"] = token
        r = method(**kw)
        out.extend(r.get(key, []))
        token = r.get("nextToken")
        if not token:
            return out


class Inspector:
    def __init__(self, args: argparse.Namespace):
        endpoint = resolve_endpoint(args.endpoint)
        region = resolve_region(args.region)
        self.args = args
        self.ec2, self.ecs, self.elb = clients(endpoint, region, "ec2", "ecs", "elb")
        self._ci_cache: dict[str, dict] = {}
        # Whether the cluster has ECS services (looked up at the first sample).
        self.has_services: bool | None = None

    # ---- ECS -------------------------------------------------------------------------

    def container_instances(self) -> list[dict]:
        arns = paginate(self.ecs.list_container_instances, "containerInstanceArns", cluster=self.args.cluster)
        out = []
        for i in range(0, len(arns), 100):
            r = self.ecs.describe_container_instances(cluster=self.args.cluster, containerInstances=arns[i : i + 100])
            for ci in r["containerInstances"]:
                remaining = {x["name"]: x for x in ci.get("remainingResources", [])}
                attrs = {a["name"]: a.get("value") for a in ci.get("attributes", [])}
                info = {
                    "arn": ci["containerInstanceArn"],
                    "instance_id": ci.get("ec2InstanceId"),
                    "availability_zone": attrs.get("ecs.availability-zone"),
                    "status": ci.get("status"),
                    "running_tasks_count": ci.get("runningTasksCount"),
                    "pending_tasks_count": ci.get("pendingTasksCount"),
                    "remaining_ports": sorted(remaining.get("PORTS", {}).get("stringSetValue", []), key=_port_key),
                    "remaining_cpu": remaining.get("CPU", {}).get("integerValue"),
                    "remaining_memory": remaining.get("MEMORY", {}).get("integerValue"),
                }
                self._ci_cache[info["arn"]] = info
                out.append(info)
        return out

    def instance_of(self, ci_arn: str | None) -> dict:
        if not ci_arn:
            return {}
        if ci_arn not in self._ci_cache:
            self.container_instances()
        return self._ci_cache.get(ci_arn, {})

    def task_arns(self, desired: str) -> list[str]:
        return paginate(self.ecs.list_tasks, "taskArns", cluster=self.args.cluster, desiredStatus=desired)

    def describe_tasks(self, arns: list[str]) -> list[dict]:
        out = []
        for i in range(0, len(arns), 100):
            r = self.ecs.describe_tasks(cluster=self.args.cluster, tasks=arns[i : i + 100], include=["TAGS"])
            out.extend(r["tasks"])
        return out

    def tasks(self) -> list[dict]:
        # Both lists explicitly: real ECS lists only RUNNING by default; moto lists everything.
        arns = list(dict.fromkeys(self.task_arns("RUNNING") + self.task_arns("STOPPED")))
        out = []
        for t in self.describe_tasks(arns):
            family, revision = family_revision(t["taskDefinitionArn"])
            ci = self.instance_of(t.get("containerInstanceArn"))
            images = {c["name"]: c.get("image") for c in t.get("containers", [])}
            out.append(
                {
                    "arn": t["taskArn"],
                    "task_definition_arn": t["taskDefinitionArn"],
                    "family": family,
                    "revision": revision,
                    "last_status": t.get("lastStatus"),
                    "desired_status": t.get("desiredStatus"),
                    "container_instance_arn": t.get("containerInstanceArn"),
                    "instance_id": ci.get("instance_id"),
                    "availability_zone": ci.get("availability_zone"),
                    "images": images,
                    "image": next(iter(images.values()), None),
                    "started_by": t.get("startedBy") or None,
                    "stopped_reason": t.get("stoppedReason") or None,
                    "group": t.get("group"),
                    "tags": tags_dict(t.get("tags")),
                }
            )
        out.sort(key=lambda t: (t["instance_id"] or "", t["desired_status"] != "RUNNING", t["revision"]))
        return out

    def task_definitions(self) -> list[dict]:
        kw = {"familyPrefix": self.args.family} if self.args.family else {}
        arns = []
        for status in ("ACTIVE", "INACTIVE"):
            arns += paginate(self.ecs.list_task_definitions, "taskDefinitionArns", status=status, **kw)
        out = []
        for arn in dict.fromkeys(arns):
            r = self.ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
            td = r["taskDefinition"]
            images = {c["name"]: c.get("image") for c in td.get("containerDefinitions", [])}
            out.append(
                {
                    "arn": td["taskDefinitionArn"],
                    "family": td["family"],
                    "revision": td["revision"],
                    "status": td.get("status"),
                    "images": images,
                    "image": next(iter(images.values()), None),
                    "host_ports": [
                        pm.get("hostPort")
                        for c in td.get("containerDefinitions", [])
                        for pm in c.get("portMappings", [])
                    ],
                    "tags": tags_dict(r.get("tags")),
                }
            )
        out.sort(key=lambda t: (t["family"], t["revision"]))
        return out

    # ---- ELB / EC2 -------------------------------------------------------------------

    def instance_health(self) -> list[dict]:
        r = self.elb.describe_instance_health(LoadBalancerName=self.args.load_balancer)
        return r["InstanceStates"]

    def load_balancer(self) -> dict | None:
        try:
            r = self.elb.describe_load_balancers(LoadBalancerNames=[self.args.load_balancer])
        except self.elb.exceptions.AccessPointNotFoundException:
            return None
        lb = r["LoadBalancerDescriptions"][0]
        attrs = self.elb.describe_load_balancer_attributes(LoadBalancerName=self.args.load_balancer)[
            "LoadBalancerAttributes"
        ]
        health = self.instance_health()
        cd = attrs.get("ConnectionDraining", {})
        return {
            "name": lb["LoadBalancerName"],
            "registered_instances": sorted(i["InstanceId"] for i in lb.get("Instances", [])),
            "instance_health": {h["InstanceId"]: h["State"] for h in health},
            "in_service": sum(
                1 for h in health if h["State"] == "InService" and h.get("Description") != DEREGISTERING
            ),
            "draining_instances": sorted(h["InstanceId"] for h in health if h.get("Description") == DEREGISTERING),
            "health_check": lb.get("HealthCheck"),
            "connection_draining": {"enabled": cd.get("Enabled"), "timeout": cd.get("Timeout")},
            "cross_zone": attrs.get("CrossZoneLoadBalancing", {}).get("Enabled"),
            "listeners": [
                {
                    "protocol": ld["Listener"]["Protocol"],
                    "load_balancer_port": ld["Listener"]["LoadBalancerPort"],
                    "instance_protocol": ld["Listener"].get("InstanceProtocol"),
                    "instance_port": ld["Listener"]["InstancePort"],
                }
                for ld in lb.get("ListenerDescriptions", [])
            ],
            "availability_zones": sorted(lb.get("AvailabilityZones", [])),
        }

    def ec2_instances(self) -> dict:
        out = {}
        for res in self.ec2.describe_instances()["Reservations"]:
            for i in res["Instances"]:
                out[i["InstanceId"]] = {
                    "state": i["State"]["Name"],
                    "availability_zone": i.get("Placement", {}).get("AvailabilityZone"),
                }
        return out

    # ---- modes -----------------------------------------------------------------------

    def state(self) -> dict:
        container_instances = self.container_instances()
        tasks = self.tasks()
        running: dict[str, list] = {ci["instance_id"]: [] for ci in container_instances}
        for t in tasks:
            if t["last_status"] == "RUNNING" and t["desired_status"] == "RUNNING":
                running.setdefault(t["instance_id"], []).append(
                    {"arn": t["arn"], "family": t["family"], "revision": t["revision"], "image": t["image"]}
                )
        return {
            "cluster": self.args.cluster,
            "task_definitions": self.task_definitions(),
            "tasks": tasks,
            "running_tasks_by_instance": running,
            "container_instances": container_instances,
            "load_balancer": self.load_balancer(),
            "ec2_instances": self.ec2_instances(),
        }

    def running_by_instance(self, deactivating: bool = False) -> tuple[dict[str, set], dict[str, set]]:
        """instance id -> ARNs of RUNNING tasks (of --family, if given); and the same with the
        DEACTIVATING ones too, when `deactivating` (listed with desiredStatus STOPPED)."""
        running: dict[str, set] = {}
        alive: dict[str, set] = {}
        arns = self.task_arns("RUNNING") + (self.task_arns("STOPPED") if deactivating else [])
        for t in self.describe_tasks(list(dict.fromkeys(arns))):
            status = (t.get("lastStatus"), t.get("desiredStatus"))
            if status != ("RUNNING", "RUNNING") and status[0] != "DEACTIVATING":
                continue
            if self.args.family and family_revision(t["taskDefinitionArn"])[0] != self.args.family:
                continue
            iid = self.instance_of(t.get("containerInstanceArn")).get("instance_id")
            if iid:
                alive.setdefault(iid, set()).add(t["taskArn"])
                if status == ("RUNNING", "RUNNING"):
                    running.setdefault(iid, set()).add(t["taskArn"])
        return running, alive

    def sample_once(self) -> dict:
        if self.has_services is None:
            self.has_services = bool(self.ecs.list_services(cluster=self.args.cluster)["serviceArns"])
        before, alive = (None, None) if self.args.no_tasks else self.running_by_instance(self.has_services)
        health = self.instance_health()
        draining = sorted(h["InstanceId"] for h in health if h.get("Description") == DEREGISTERING)
        registered = [h for h in health if h["State"] != "Unknown" and h["InstanceId"] not in draining]
        in_service = sorted(h["InstanceId"] for h in registered if h["State"] == "InService")
        sample = {
            "registered": len(registered),
            "in_service": len(in_service),
            "draining": len(draining),
            "in_service_ids": in_service,
            "draining_ids": draining,
        }
        if before is not None:
            _, after = self.running_by_instance(self.has_services)
            serving = sorted(i for i in in_service if before.get(i, set()) & after.get(i, set()))
            cut = sorted(i for i in draining if not alive.get(i))
            sample["serving"] = len(serving)
            sample["serving_ids"] = serving
            sample["cut"] = len(cut)
            sample["cut_ids"] = cut
        return sample


def _port_key(p: str):
    return (0, int(p)) if p.isdigit() else (1, p)


def run_sampler(insp: Inspector, args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.stop_on_eof:

        def watch_stdin():
            sys.stdin.read()
            stop.set()

        threading.Thread(target=watch_stdin, daemon=True).start()

    t0 = time.monotonic()
    seq = 0
    while not stop.is_set() and time.monotonic() - t0 < args.max_seconds:
        started = time.monotonic()
        try:
            sample = insp.sample_once()
        except Exception as e:  # keep sampling through transient errors
            sample = {"error": f"{type(e).__name__}: {e}"[:500]}
        line = {"seq": seq, "t_ms": round((started - t0) * 1000), **sample}
        try:
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            return 0
        seq += 1
        stop.wait(max(0.0, args.interval - (time.monotonic() - started)))
    return 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    insp = Inspector(args)
    if args.mode == "sample":
        return run_sampler(insp, args)
    try:
        state = insp.state()
    except Exception as e:
        die(f"inspection failed: {type(e).__name__}: {e}", 1)
    json.dump(state, sys.stdout, default=json_default, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
