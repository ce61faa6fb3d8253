"""Fidelity patches for moto_server 5.2.1, applied by scripts/moto_child.py before the
server starts (scripts/moto.sh and the Rust harness both start moto through it).

Each patch makes moto answer the way real AWS does where moto's answer breaks a strict
client (the AWS SDK for Rust) or hides behaviour that ecs-roll must handle. Each checks
that the moto internals it relies on are there and otherwise leaves moto alone (and says
so on stderr), so a moto upgrade can bring a quirk back but cannot break the server.

ecs-task-containers
    DescribeTasks / RunTask / StartTask / StopTask: `containers[].cpu` and `.memory` are
    strings in the ECS API ("256"). moto copies the task definition's integers and the
    Rust SDK then fails the whole call ("type mismatch: expected string"). Also one
    `containers` entry per container definition (moto: only the first), each with its
    own name and image.

ecs-start-task-placement
    StartTask checks the container instance's remaining CPU, memory and host ports like
    ECS does, and answers `failures: [{"arn": <container instance>, "reason":
    "RESOURCE:PORTS"}]` (or RESOURCE:CPU / RESOURCE:MEMORY) instead of placing a second
    task on a static host port that is taken (moto checks nothing in StartTask).

ecs-stop-task-idempotent
    StopTask of a task that is already STOPPED returns it unchanged (moto releases its
    host port a second time and answers HTTP 500).

ecs-list-tasks
    ListTasks without desiredStatus lists RUNNING tasks only (moto: stopped ones too),
    and `family` matches tasks of every revision of the family (moto: only of ACTIVE
    revisions, so deregistering a revision hid its running tasks).

elb-registration
    RegisterInstancesWithLoadBalancer is idempotent (moto registers an instance twice and
    DescribeInstanceHealth then lists it twice), and Register/Deregister answer with the
    instances now registered (moto: an empty list).

elb-connection-draining
    Deregistering an instance from a classic ELB with connection draining enabled starts
    a deregistration that lasts the draining timeout (the worst case: connections kept
    open until the timeout); meanwhile DescribeInstanceHealth reports the instance as
    `InService` with description "Instance deregistration currently in progress." (AWS's
    own wording), then drops it. An instance asked about by id that is not registered is
    `OutOfService` / "Instance is not currently registered with the LoadBalancer."
    (moto: state `Unknown`); a registered, stopped EC2 instance is `OutOfService`.
    Registering the instance again ends its deregistration.
    ECS_ROLL_TESTBED_DRAINING=off turns this part off (moto's immediate deregistration).
"""

from __future__ import annotations

import os
import sys
import threading
import time

APPLIED: list[str] = []

DEREGISTERING = "Instance deregistration currently in progress."
NOT_REGISTERED = "Instance is not currently registered with the LoadBalancer."
STOPPED = "Instance is in stopped state."


def _warn(msg: str) -> None:
    print(f"moto_patches: {msg}", file=sys.stderr)


# --------------------------------------------------------------------------------------
# ECS


def _patch_task_containers() -> None:
    try:
        from moto.ecs import models
    except Exception as e:  # moto layout changed
        _warn(f"ecs-task-containers not applied ({e})")
        return
    Task = getattr(models, "Task", None)
    Container = getattr(models, "Container", None)
    if Task is None or Container is None:
        _warn("ecs-task-containers not applied (moto.ecs.models.Task/Container missing)")
        return

    original_init = Task.__init__

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original_init(self, *args, **kwargs)
        containers = getattr(self, "containers", None)
        if not containers:
            return
        task_def = kwargs["task_definition"] if "task_definition" in kwargs else (args[1] if len(args) > 1 else None)
        defs = list(getattr(task_def, "container_definitions", None) or [])
        rebuilt = []
        for i, cdef in enumerate(defs or [None]):
            c = containers[0] if i == 0 else Container(task_def)
            if cdef is not None:
                c.name = cdef.get("name")
                c.image = cdef.get("image")
                c.cpu = cdef.get("cpu")
                c.memory = cdef.get("memory")
            for attr in ("cpu", "memory"):
                v = getattr(c, attr, None)
                if v is not None and not isinstance(v, str):
                    setattr(c, attr, str(v))
            rebuilt.append(c)
        self.containers = rebuilt

    Task.__init__ = __init__
    APPLIED.append("ecs-task-containers")


def _placement_failure(ci, req) -> str | None:  # type: ignore[no-untyped-def]
    remaining = {r.get("name"): r for r in getattr(ci, "remaining_resources", [])}
    if (req.get("CPU") or 0) > (remaining.get("CPU", {}).get("integerValue") or 0):
        return "RESOURCE:CPU"
    if (req.get("MEMORY") or 0) > (remaining.get("MEMORY", {}).get("integerValue") or 0):
        return "RESOURCE:MEMORY"
    taken = {str(p) for p in remaining.get("PORTS", {}).get("stringSetValue", [])}
    if any(str(p) in taken for p in req.get("PORTS") or []):
        return "RESOURCE:PORTS"
    return None


def _patch_ecs_tasks() -> None:
    try:
        from moto.core.responses import ActionResult
        from moto.ecs import models, responses
    except Exception as e:
        _warn(f"ecs task patches not applied ({e})")
        return
    Backend = getattr(models, "EC2ContainerServiceBackend", None)
    Response = getattr(responses, "EC2ContainerServiceResponse", None)
    needed = [
        (Backend, "start_task"),
        (Backend, "stop_task"),
        (Backend, "list_tasks"),
        (Backend, "_get_cluster"),
        (Backend, "describe_task_definition"),
        (Backend, "_calculate_task_resource_requirements"),
        (Response, "start_task"),
    ]
    missing = [f"{getattr(c, '__name__', c)}.{m}" for c, m in needed if c is None or not hasattr(c, m)]
    if missing:
        _warn(f"ecs task patches not applied (missing {missing})")
        return

    def start_task_response(self):  # type: ignore[no-untyped-def]
        backend = self.ecs_backend
        cluster_str = self._get_param("cluster", "default")
        td_str = self._get_param("taskDefinition")
        wanted = self._get_param("containerInstances") or []
        args = (
            self._get_param("overrides"),
            self._get_param("startedBy"),
            self._get_param("tags"),
            self._get_param("group"),
        )
        if not wanted:  # moto's own error
            return ActionResult({"tasks": backend.start_task(cluster_str, td_str, wanted, *args), "failures": []})
        cluster = backend._get_cluster(cluster_str)
        req = backend._calculate_task_resource_requirements(backend.describe_task_definition(td_str))
        instances = backend.container_instances.get(cluster.name, {})
        tasks, failures = [], []
        for ci_str in wanted:
            ci = instances.get(ci_str.split("/")[-1])
            if ci is None:
                failures.append({"arn": ci_str, "reason": "MISSING"})
                continue
            reason = _placement_failure(ci, req)
            if reason:
                failures.append({"arn": ci.container_instance_arn, "reason": reason})
                continue
            tasks.extend(backend.start_task(cluster_str, td_str, [ci_str], *args))
        return ActionResult({"tasks": tasks, "failures": failures})

    original_stop = Backend.stop_task

    def stop_task(self, cluster_str, task_str, reason):  # type: ignore[no-untyped-def]
        cluster = self._get_cluster(cluster_str)
        task_id = task_str.split("/")[-1]
        for arn, task in (self.tasks.get(cluster.name) or {}).items():
            if arn.endswith(task_id) and getattr(task, "last_status", None) == "STOPPED":
                return task
        return original_stop(self, cluster_str, task_str, reason)

    original_list = Backend.list_tasks

    def list_tasks(  # type: ignore[no-untyped-def]
        self,
        cluster_str=None,
        container_instance=None,
        family=None,
        started_by=None,
        service_name=None,
        desiredStatus=None,
    ):
        tasks = original_list(
            self, cluster_str, container_instance, None, started_by, service_name, desiredStatus or "RUNNING"
        )
        if family:
            tasks = [t for t in tasks if t.task_definition_arn.rsplit("/", 1)[-1].rpartition(":")[0] == family]
        return tasks

    Response.start_task = start_task_response
    Backend.stop_task = stop_task
    Backend.list_tasks = list_tasks
    APPLIED.extend(["ecs-start-task-placement", "ecs-stop-task-idempotent", "ecs-list-tasks"])


# --------------------------------------------------------------------------------------
# Classic ELB

_lock = threading.Lock()


def _draining_of(lb) -> dict:  # type: ignore[no-untyped-def]
    """instance id -> monotonic deadline of its deregistration; expired entries pruned."""
    d = lb.__dict__.setdefault("_testbed_draining", {})
    now = time.monotonic()
    for iid in [i for i, deadline in d.items() if deadline <= now]:
        del d[iid]
    return d


def _draining_timeout(lb) -> float | None:  # type: ignore[no-untyped-def]
    cd = (getattr(lb, "attributes", None) or {}).get("connection_draining") or {}
    enabled = cd.get("Enabled", cd.get("enabled"))
    if isinstance(enabled, str):
        enabled = enabled.lower() == "true"
    if not enabled:
        return None
    timeout = cd.get("Timeout", cd.get("timeout", 300))
    try:
        return float(timeout)
    except (TypeError, ValueError):
        return 300.0


def _patch_elb(simulate_draining: bool) -> None:
    try:
        from moto.core.responses import ActionResult
        from moto.elb import models, responses
        from moto.elb.exceptions import NoActiveLoadBalancerFoundError
    except Exception as e:
        _warn(f"elb patches not applied ({e})")
        return
    Backend = getattr(models, "ELBBackend", None)
    Response = getattr(responses, "ELBResponse", None)
    needed = [
        (Backend, "register_instances"),
        (Backend, "deregister_instances"),
        (Backend, "describe_instance_health"),
        (Backend, "get_load_balancer"),
        (Response, "register_instances_with_load_balancer"),
        (Response, "deregister_instances_from_load_balancer"),
        (Response, "describe_instance_health"),
    ]
    missing = [f"{getattr(c, '__name__', c)}.{m}" for c, m in needed if c is None or not hasattr(c, m)]
    if missing or not hasattr(models, "ec2_backends"):
        _warn(f"elb patches not applied (missing {missing or ['ec2_backends']})")
        return

    original_register = Backend.register_instances
    original_deregister = Backend.deregister_instances

    def register_instances(self, load_balancer_name, instance_ids, from_autoscaling=False):  # type: ignore[no-untyped-def]
        lb = self.get_load_balancer(load_balancer_name)
        with _lock:
            if lb is None:
                return original_register(self, load_balancer_name, instance_ids, from_autoscaling)
            present = set(lb.instance_ids)
            new = list(dict.fromkeys(i for i in instance_ids if i not in present))
            draining = _draining_of(lb)
            for i in instance_ids:
                draining.pop(i, None)
            return original_register(self, load_balancer_name, new, from_autoscaling)

    def deregister_instances(self, load_balancer_name, instance_ids, from_autoscaling=False):  # type: ignore[no-untyped-def]
        lb = self.get_load_balancer(load_balancer_name)
        with _lock:
            if lb is None:
                return original_deregister(self, load_balancer_name, instance_ids, from_autoscaling)
            before = set(lb.instance_ids)
            result = original_deregister(self, load_balancer_name, instance_ids, from_autoscaling)
            timeout = _draining_timeout(lb) if simulate_draining else None
            if timeout:
                draining = _draining_of(lb)
                deadline = time.monotonic() + timeout
                for i in instance_ids:
                    if i in before and i not in lb.instance_ids:
                        draining[i] = deadline
            return result

    def describe_instance_health(self, lb_name, instances):  # type: ignore[no-untyped-def]
        lb = self.get_load_balancer(lb_name)
        if lb is None:
            raise NoActiveLoadBalancerFoundError(name=lb_name)
        with _lock:
            registered = list(dict.fromkeys(lb.instance_ids))
            draining = dict(_draining_of(lb))
        provided = [i["InstanceId"] for i in instances]
        ids = provided or registered + [i for i in draining if i not in registered]
        ec2 = models.ec2_backends[self.account_id][self.region_name]
        out = []
        for iid in ids:
            if iid in registered:
                try:
                    running = ec2.get_instance(iid).is_running()
                except models.InvalidInstanceIdError:
                    continue
                if running:
                    out.append({"InstanceId": iid, "State": "InService", "ReasonCode": "N/A", "Description": "N/A"})
                else:
                    out.append({"InstanceId": iid, "State": "OutOfService", "ReasonCode": "Instance", "Description": STOPPED})
            elif iid in draining:
                out.append({"InstanceId": iid, "State": "InService", "ReasonCode": "N/A", "Description": DEREGISTERING})
            else:
                out.append({"InstanceId": iid, "State": "OutOfService", "ReasonCode": "N/A", "Description": NOT_REGISTERED})
        return out

    def _registered(self):  # type: ignore[no-untyped-def]
        lb = self.elb_backend.get_load_balancer(self._get_param("LoadBalancerName"))
        return ActionResult({"Instances": [{"InstanceId": i} for i in dict.fromkeys(lb.instance_ids)]})

    def register_response(self):  # type: ignore[no-untyped-def]
        instances = self._get_param("Instances", [])
        self.elb_backend.register_instances(self._get_param("LoadBalancerName"), [i["InstanceId"] for i in instances])
        return _registered(self)

    def deregister_response(self):  # type: ignore[no-untyped-def]
        instances = self._get_param("Instances", [])
        self.elb_backend.deregister_instances(self._get_param("LoadBalancerName"), [i["InstanceId"] for i in instances])
        return _registered(self)

    def health_response(self):  # type: ignore[no-untyped-def]
        states = self.elb_backend.describe_instance_health(
            self._get_param("LoadBalancerName"), self._get_param("Instances", [])
        )
        return ActionResult(
            {
                "InstanceStates": [
                    {
                        "InstanceId": s["InstanceId"],
                        "State": s["State"],
                        "ReasonCode": s.get("ReasonCode", "N/A"),
                        "Description": s.get("Description", "N/A"),
                    }
                    for s in states
                ]
            }
        )

    Backend.register_instances = register_instances
    Backend.deregister_instances = deregister_instances
    Backend.describe_instance_health = describe_instance_health
    Response.register_instances_with_load_balancer = register_response
    Response.deregister_instances_from_load_balancer = deregister_response
    Response.describe_instance_health = health_response
    APPLIED.append("elb-registration")
    if simulate_draining:
        APPLIED.append("elb-connection-draining")


def apply() -> list[str]:
    _patch_task_containers()
    _patch_ecs_tasks()
    draining = os.environ.get("ECS_ROLL_TESTBED_DRAINING", "on").lower() not in ("off", "0", "false", "no")
    _patch_elb(draining)
    return APPLIED
