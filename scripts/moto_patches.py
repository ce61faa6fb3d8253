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

ecs-service-scheduler
    Opt-in (the state manager's transition of model `ecs::service`): ECS's service scheduler
    for rolling updates, which moto lacks: tasks started and stopped within maximumPercent /
    minimumHealthyPercent, registered with and drained from the service's load balancers,
    deployments, counts and service events kept as ECS keeps them. See its section below.
ecs-one-off-exits
    Opt-in (ECS_ROLL_TESTBED_ONE_OFF_SECONDS=N, which the e2e harness sets for the one-off
    tests): moto runs no containers, so a task never exits by itself. A task RunTask started
    with a command override (`overrides.containerOverrides[].command`) stops N seconds
    later, as if its command had ended: seen STOPPED by DescribeTasks with stopCode
    EssentialContainerExited and stoppedReason "Essential container in task exited"; the
    overridden container exits with the code its command names (`sh -c "exit 3"`, or a
    last word `exit 3`: 3; otherwise 0), the other containers 0. The command `sleep
    forever` never exits (for timeouts and interrupts). Also gives moto's network
    interfaces the `private_dns_name` its awsvpc RunTask reads (moto 5.2.1 fails every
    awsvpc RunTask, such as a Fargate service's one-off, with HTTP 500 without it).
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


# --------------------------------------------------------------------------------------
# ECS service scheduler
#
# moto records services and their deployments but schedules nothing: no task is started for
# a service, UpdateService changes the task definition in place and no rollout ever happens.
# This section adds ECS's service scheduler for the services that ecs-roll deploys (REPLICA,
# ECS deployment controller, rolling updates), after ECS's documented behaviour:
#
# * UpdateService with another task definition (or forceNewDeployment) starts a deployment:
#   a new PRIMARY one, the previous ones become ACTIVE. Another change (the deployment
#   configuration, the desired count) starts none.
# * A reconciler thread, every `seconds` (below), moves every service along:
#   - starts tasks of the PRIMARY deployment's task definition (startedBy = the deployment
#     id, group `service:NAME`) while the service has fewer than its desired count and the
#     tasks that are not stopping stay within floor(desired x maximumPercent / 100); spread
#     over availability zones, then instances; an instance is skipped when its CPU, memory
#     or a static host port is taken (as the StartTask placement patch checks), and ECS's
#     "was unable to place a task" event is given at most once a minute;
#   - registers each task with the service's load balancers once it has been RUNNING for
#     REGISTRATION_DELAY (ECS registers a task after its agent reported it RUNNING; so a look
#     at the tasks, then at the load balancer, never finds a target before its task): the
#     EC2 instance with a classic ELB, `instance` targets (instance id, host port) or `ip`
#     targets with a target group; a task counts as healthy once every load balancer reports
#     it InService / healthy (moto's own health reporting: at once);
#   - takes a task that stopped by itself (StopTask, a crash) out of the load balancers, and
#     counts it in its deployment's failedTasks if it never was healthy; it is replaced;
#   - stops tasks of the other deployments (unhealthy ones first), then surplus PRIMARY ones,
#     while at least ceil(desired x minimumHealthyPercent / 100) healthy tasks stay: first
#     deregistered (the classic ELB's connection draining of the elb-connection-draining
#     patch, or the target group's deregistration delay), DEACTIVATING with desiredStatus
#     STOPPED meanwhile, then stopped (the host port is free only then);
#   - keeps the counts ecs-roll reads consistent: the service's and each deployment's
#     runningCount / pendingCount / desiredCount (an ACTIVE deployment's desired count is
#     the tasks it still has), and `deployments` (a drained ACTIVE deployment leaves);
#   - marks the PRIMARY deployment COMPLETED once it runs its desired count, all healthy,
#     and no task of another deployment is left; rolloutState is only reported for services
#     without a classic ELB (AWS does not return it for those);
#   - records ECS's service events, newest first ("has started 1 tasks: (task ...).",
#     "has begun draining connections on 1 tasks.", "(deployment ...) deployment completed.",
#     "has reached a steady state.", ...).
# * CreateService keeps `deploymentConfiguration` (ECS's default 200 / 100 when none is given).
#
# Opt-in, so moto is unchanged for every other test: the scheduler runs while the state
# manager's transition of model `ecs::service` is {"progression": "time", "seconds": S}
# (POST /moto-api/state-manager/set-transition; unset-transition turns it off again). A
# reset (POST /moto-api/reset) keeps the setting, as for every transition; seed_reference.py
# sets or unsets it explicitly. While it runs, each AWS call and each reconciler pass hold
# one lock, so a call never sees a pass half done.
#
# Not modelled: the circuit breaker (failed tasks are counted, nothing trips), alarms, placement constraints and strategies other than
# the spread, DAEMON services, other strategies than ROLLING, health check grace periods and
# failing health checks (moto reports every running target healthy), task sets.

SCHEDULER_MODEL = "ecs::service"
EVENTS_KEPT = 100
UNABLE_EVERY = 60.0
REGISTRATION_DELAY = 0.5

_world_lock = threading.RLock()
_warned: set[str] = set()


def _scheduler_interval() -> float | None:
    """Seconds between reconciler passes; None while the scheduler is off."""
    try:
        from moto.moto_api import state_manager

        t = state_manager.get_transition(SCHEDULER_MODEL)
        if t.get("progression") != "time":
            return None
        seconds = float(t.get("seconds", 0.25))
    except Exception:
        return None
    return seconds if seconds > 0 else None


def _utcnow():  # type: ignore[no-untyped-def]
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def _new_id(prefix: str = "") -> str:
    import uuid

    return f"{prefix}{uuid.uuid4()}"


def _classic_only(svc) -> bool:  # type: ignore[no-untyped-def]
    return any(lb.get("loadBalancerName") for lb in svc.load_balancers or [])


def _new_deployment(svc, task_definition_arn: str) -> dict:  # type: ignore[no-untyped-def]
    import random

    now = _utcnow()
    d = {
        "id": f"ecs-svc/{random.randrange(10**18, 10**19)}",
        "status": "PRIMARY",
        "taskDefinition": task_definition_arn,
        "desiredCount": svc.desired_count,
        "pendingCount": 0,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": now,
        "updatedAt": now,
        "launchType": svc.launch_type,
        "platformFamily": "EC2" if svc.launch_type == "EC2" else "FARGATE",
    }
    if not _classic_only(svc):
        d["rolloutState"] = "IN_PROGRESS"
        d["rolloutStateReason"] = f"ECS deployment {d['id']} in progress."
    return d


def _push_event(svc, message: str) -> None:  # type: ignore[no-untyped-def]
    svc.events.insert(0, {"id": _new_id(), "createdAt": _utcnow(), "message": f"(service {svc.name}) {message}"})
    del svc.events[EVENTS_KEPT:]


def _task_list(tasks) -> str:  # type: ignore[no-untyped-def]
    return " ".join(f"(task {t.id})" for t in tasks)


class _Scene:
    """One service, as the reconciler sees it during one pass."""

    def __init__(self, backend, svc) -> None:  # type: ignore[no-untyped-def]
        from moto.elb.models import elb_backends
        from moto.elbv2.models import elbv2_backends

        self.backend = backend
        self.svc = svc
        self.cluster = svc.cluster_name
        self.elb = elb_backends[backend.account_id][backend.region_name]
        self.elbv2 = elbv2_backends[backend.account_id][backend.region_name]
        group = f"service:{svc.name}"
        self.tasks = [t for t in (backend.tasks.get(self.cluster) or {}).values() if t.group == group]
        self.instances = backend.container_instances.get(self.cluster, {})
        self.primary = svc.deployments[0]

    def ec2_of(self, task) -> str | None:  # type: ignore[no-untyped-def]
        ci = self.instances.get((task.container_instance_arn or "").split("/")[-1])
        return ci.ec2_instance_id if ci else None

    def endpoint(self, lb: dict, task) -> dict | None:  # type: ignore[no-untyped-def]
        """The target group target a task is: its instance and host port, or its address."""
        tg = self.elbv2.target_groups.get(lb.get("targetGroupArn"))
        if tg is None:
            return None
        port = lb.get("containerPort")
        if getattr(tg, "target_type", "instance") == "ip":
            ip = next(
                (d["value"] for a in task.attachments for d in a.get("details", []) if d["name"] == "privateIPv4Address"),
                None,
            )
            return {"Id": ip, "Port": port} if ip else None
        td = self.backend.describe_task_definition(task.task_definition_arn)
        host_port = next(
            (
                m.get("hostPort") or port
                for c in td.container_definitions
                if c.get("name") == lb.get("containerName")
                for m in c.get("portMappings", [])
                if m.get("containerPort") == port
            ),
            port,
        )
        iid = self.ec2_of(task)
        return {"Id": iid, "Port": host_port} if iid else None

    # -- load balancers -------------------------------------------------------------------

    def register(self, task, notes) -> None:  # type: ignore[no-untyped-def]
        for lb in self.svc.load_balancers:
            if lb.get("loadBalancerName"):
                iid = self.ec2_of(task)
                if iid:
                    self.elb.register_instances(lb["loadBalancerName"], [iid])
                    notes.count("registered", f"instances in (elb {lb['loadBalancerName']})")
            elif (target := self.endpoint(lb, task)) is not None:
                self.elbv2.register_targets(lb["targetGroupArn"], [target])
                notes.count("registered", f"targets in (target-group {lb['targetGroupArn']})")
        task._testbed_registered = True

    def deregister(self, task, notes) -> float:  # type: ignore[no-untyped-def]
        """Takes the task out of every load balancer; returns when its draining ends."""
        until = time.monotonic()
        for lb in self.svc.load_balancers:
            name = lb.get("loadBalancerName")
            if name:
                iid = self.ec2_of(task)
                found = self.elb.get_load_balancer(name)
                if iid and found is not None and iid in found.instance_ids:
                    self.elb.deregister_instances(name, [iid])
                    with _lock:
                        until = max(until, _draining_of(found).get(iid, until))
                    notes.count("deregistered", f"instances in (elb {name})")
            elif (target := self.endpoint(lb, task)) is not None:
                tg = self.elbv2.target_groups.get(lb["targetGroupArn"])
                if tg is not None and target["Id"] in tg.targets:
                    self.elbv2.deregister_targets(lb["targetGroupArn"], [target])
                    delay = float(tg.attributes.get("deregistration_delay.timeout_seconds", 300))
                    until = max(until, time.monotonic() + delay)
                    notes.count("deregistered", f"targets in (target-group {lb['targetGroupArn']})")
        task._testbed_registered = False
        return until

    def healthy(self, task) -> bool:  # type: ignore[no-untyped-def]
        """RUNNING, and InService / healthy in every load balancer of the service."""
        if not _running(task) or (self.svc.load_balancers and not getattr(task, "_testbed_registered", False)):
            return False
        for lb in self.svc.load_balancers:
            name = lb.get("loadBalancerName")
            if name:
                iid = self.ec2_of(task)
                states = self.elb.describe_instance_health(name, [{"InstanceId": iid}]) if iid else []
                if not any(s["State"] == "InService" and s.get("Description") != DEREGISTERING for s in states):
                    return False
            else:
                target = self.endpoint(lb, task)
                if target is None or target["Id"] not in self.elbv2.target_groups[lb["targetGroupArn"]].targets:
                    return False
                health = self.elbv2.describe_target_health(lb["targetGroupArn"], [target])
                if not health or health[0].status != "healthy":
                    return False
        task._testbed_healthy_once = True
        return True

    # -- tasks ----------------------------------------------------------------------------

    def place(self, notes):  # type: ignore[no-untyped-def]
        """Starts one task of the PRIMARY deployment; None when no instance has room."""
        td = self.backend.describe_task_definition(self.primary["taskDefinition"])
        req = self.backend._calculate_task_resource_requirements(td)
        live = [t for t in self.tasks if t.last_status != "STOPPED"]

        def spread(ci):  # type: ignore[no-untyped-def]
            az = ci.attributes.get("ecs.availability-zone")
            in_az = sum(1 for t in live if self.az_of(t) == az)
            on_ci = sum(1 for t in live if t.container_instance_arn == ci.container_instance_arn)
            return (in_az, on_ci)

        candidates = [ci for ci in self.instances.values() if ci.status == "ACTIVE"]
        fits = [ci for ci in candidates if _placement_failure(ci, req) is None]
        if not fits:
            self.unable(candidates, req, notes)
            return None
        ci = min(fits, key=spread)
        (task,) = self.backend.start_task(
            self.cluster,
            td.arn,
            [ci.container_instance_arn],
            None,
            self.primary["id"],
            None,
            f"service:{self.svc.name}",
        )
        task._testbed_started_at = time.monotonic()
        self.tasks.append(task)
        notes.started.append(task)
        return task

    def az_of(self, task) -> str | None:  # type: ignore[no-untyped-def]
        ci = self.instances.get((task.container_instance_arn or "").split("/")[-1])
        return ci.attributes.get("ecs.availability-zone") if ci else None

    def unable(self, candidates, req, notes) -> None:  # type: ignore[no-untyped-def]
        now = time.monotonic()
        if now < getattr(self.svc, "_testbed_unable_at", -UNABLE_EVERY) + UNABLE_EVERY:
            return
        self.svc._testbed_unable_at = now
        why = {
            "RESOURCE:PORTS": "is already using a port required by your task",
            "RESOURCE:CPU": "has insufficient CPU units available",
            "RESOURCE:MEMORY": "has insufficient memory available",
        }
        closest = candidates[0] if candidates else None
        detail = ""
        if closest is not None:
            reason = why.get(_placement_failure(closest, req) or "", "is not available")
            detail = f" The closest matching (container-instance {closest.container_instance_arn.split('/')[-1]}) {reason}."
        notes.first.append(
            "was unable to place a task because no container instance met all of its requirements."
            f"{detail} For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
        )

    def retire(self, task, reason: str, notes) -> None:  # type: ignore[no-untyped-def]
        """ECS's order: out of the load balancers, drained, then stopped."""
        until = self.deregister(task, notes) if getattr(task, "_testbed_registered", False) else time.monotonic()
        if until > time.monotonic():
            notes.draining += 1
        task.desired_status = "STOPPED"
        task.last_status = "DEACTIVATING"
        task._testbed_stop_at = until
        task._testbed_stop_reason = reason
        notes.stopped.append(task)


class _Notes:
    """Events of one pass, worded and ordered as ECS gives them."""

    def __init__(self) -> None:
        self.first: list[str] = []
        self.stopped: list = []
        self.draining = 0
        self.started: list = []
        self.counts: dict[tuple[str, str], int] = {}
        self.last: list[str] = []

    def count(self, verb: str, what: str) -> None:
        self.counts[(verb, what)] = self.counts.get((verb, what), 0) + 1

    def messages(self) -> list[str]:
        out = list(self.first)
        if self.stopped:
            out.append(f"has stopped {len(self.stopped)} running tasks: {_task_list(self.stopped)}.")
        if self.draining:
            out.append(f"has begun draining connections on {self.draining} tasks.")
        out += [f"deregistered {n} {what}" for (verb, what), n in self.counts.items() if verb == "deregistered"]
        if self.started:
            out.append(f"has started {len(self.started)} tasks: {_task_list(self.started)}.")
        out += [f"registered {n} {what}" for (verb, what), n in self.counts.items() if verb == "registered"]
        return out + self.last


def _running(t) -> bool:  # type: ignore[no-untyped-def]
    return t.desired_status == "RUNNING" and t.last_status == "RUNNING"


def _pending(t) -> bool:  # type: ignore[no-untyped-def]
    return t.desired_status == "RUNNING" and t.last_status == "PENDING"


def _finish_stopping(scene: _Scene) -> bool:
    """Stops the DEACTIVATING tasks whose draining is over."""
    changed = False
    for t in scene.tasks:
        if t.last_status == "DEACTIVATING" and time.monotonic() >= getattr(t, "_testbed_stop_at", 0):
            scene.backend.stop_task(scene.cluster, t.task_arn, getattr(t, "_testbed_stop_reason", ""))
            changed = True
    return changed


def _forget_stopped(scene: _Scene, notes: _Notes) -> bool:
    """Tasks that stopped by themselves (StopTask, a crash): out of the load balancers at once,
    and counted as failed tasks of their deployment if they never were healthy."""
    changed = False
    for t in scene.tasks:
        if t.last_status == "STOPPED" and getattr(t, "_testbed_registered", False):
            scene.deregister(t, notes)
            changed = True
        if t.last_status == "STOPPED" and not hasattr(t, "_testbed_stop_at") and not hasattr(t, "_testbed_gone"):
            t._testbed_gone = True
            d = next((d for d in scene.svc.deployments if d["id"] == t.started_by), None)
            if d is not None and not getattr(t, "_testbed_healthy_once", False):
                d["failedTasks"] = d.get("failedTasks", 0) + 1
                d["updatedAt"] = _utcnow()
            changed = True
    return changed


def _register_running(scene: _Scene, notes: _Notes) -> bool:
    changed = False
    due = time.monotonic() - REGISTRATION_DELAY
    for t in scene.tasks:
        if (
            _running(t)
            and not getattr(t, "_testbed_registered", False)
            and getattr(t, "_testbed_started_at", 0) <= due
        ):
            scene.register(t, notes)
            changed = True
    return changed


def _roll(scene: _Scene, notes: _Notes) -> bool:
    """One step of the rolling update, within maximumPercent and minimumHealthyPercent."""
    svc, primary = scene.svc, scene.primary["id"]
    config = getattr(svc, "deployment_configuration", None) or {}
    desired = max(svc.desired_count or 0, 0)
    max_total = desired * int(config.get("maximumPercent", 200)) // 100
    min_healthy = -(-desired * int(config.get("minimumHealthyPercent", 100)) // 100)
    live = [t for t in scene.tasks if t.desired_status == "RUNNING"]
    healthy = {t.task_arn for t in live if scene.healthy(t)}
    healthy_total = len(healthy)
    live_primary = sum(1 for t in live if t.started_by == primary)
    changed = False
    # Other deployments' tasks first, unhealthy ones before healthy ones; then PRIMARY surplus.
    for t in sorted(live, key=lambda t: (t.started_by == primary, t.task_arn in healthy)):
        ours = t.started_by == primary
        if ours and live_primary <= desired:
            continue
        if t.task_arn in healthy:
            if healthy_total <= min_healthy:
                continue
            healthy_total -= 1
        scene.retire(t, f"Scaling activity initiated by (deployment {primary})", notes)
        live.remove(t)
        live_primary -= int(ours)
        changed = True
    room = max_total - len(live)
    while live_primary < desired and room > 0 and scene.place(notes) is not None:
        live_primary += 1
        room -= 1
        changed = True
    return changed


def _count(scene: _Scene) -> None:
    """The service's and each deployment's counts, from the tasks; drained ACTIVE deployments
    leave the service."""
    svc = scene.svc
    kept = []
    for i, d in enumerate(svc.deployments):
        mine = [t for t in scene.tasks if t.started_by == d["id"]]
        counts = {
            "runningCount": sum(1 for t in mine if _running(t)),
            "pendingCount": sum(1 for t in mine if _pending(t)),
            "desiredCount": svc.desired_count if i == 0 else sum(1 for t in mine if t.desired_status == "RUNNING"),
        }
        if any(d.get(k) != v for k, v in counts.items()):
            d.update(counts, updatedAt=_utcnow())
        if i == 0 or any(t.last_status != "STOPPED" for t in mine):
            kept.append(d)
    svc.deployments[:] = kept
    svc.running_count = sum(1 for t in scene.tasks if _running(t))
    svc.pending_count = sum(1 for t in scene.tasks if _pending(t))


def _complete(scene: _Scene, notes: _Notes) -> None:
    """COMPLETED once the PRIMARY runs its desired count, all healthy, and nothing else is left;
    then (and while it stays so) the service is steady."""
    svc, p = scene.svc, scene.primary
    ours = [t for t in scene.tasks if t.started_by == p["id"] and t.desired_status == "RUNNING"]
    settled = (
        len(ours) == svc.desired_count
        and all(scene.healthy(t) for t in ours)
        and all(t.last_status == "STOPPED" for t in scene.tasks if t.started_by != p["id"])
        and len(svc.deployments) == 1
    )
    completed = svc.__dict__.setdefault("_testbed_completed", set())
    if settled and p["id"] not in completed:
        completed.add(p["id"])
        if "rolloutState" in p:
            p.update(rolloutState="COMPLETED", rolloutStateReason=f"ECS deployment {p['id']} completed.")
            p["updatedAt"] = _utcnow()
        notes.last.append(f"(deployment {p['id']}) deployment completed.")
    if settled and not getattr(svc, "_testbed_steady", False):
        notes.last.append("has reached a steady state.")
    svc._testbed_steady = settled


def _reconcile(backend, svc) -> None:  # type: ignore[no-untyped-def]
    if (
        svc.status != "ACTIVE"
        or (svc.deployment_controller or {}).get("type", "ECS") != "ECS"
        or svc.scheduling_strategy != "REPLICA"
        or not svc.deployments
        or not svc.task_definition
    ):
        return
    scene = _Scene(backend, svc)
    notes = _Notes()
    for _ in range(8):  # until nothing more changes at this instant
        changed = _finish_stopping(scene)
        changed |= _forget_stopped(scene, notes)
        changed |= _register_running(scene, notes)
        changed |= _roll(scene, notes)
        if not changed:
            break
    _count(scene)
    _complete(scene, notes)
    for m in notes.messages():
        _push_event(svc, m)


def _scheduler_loop() -> None:
    from moto.ecs.models import ecs_backends

    while True:
        time.sleep(_scheduler_interval() or 0.5)
        with _world_lock:
            if _scheduler_interval() is None:  # turned off meanwhile
                continue
            try:
                for regions in list(ecs_backends.values()):
                    for backend in list(regions.values()):
                        for svc in list(backend.services.values()):
                            _reconcile(backend, svc)
            except Exception as e:  # a moto change: say so once, keep the server up
                key = f"{type(e).__name__}: {e}"
                if key not in _warned:
                    _warned.add(key)
                    import traceback

                    _warn(f"ecs-service-scheduler: pass failed: {key}\n{traceback.format_exc()}")


def _patch_service_scheduler() -> None:
    try:
        from moto.core.responses import BaseResponse
        from moto.ecs import models, responses
        from moto.elbv2.models import elbv2_backends  # noqa: F401
        from moto.moto_api import state_manager  # noqa: F401
        from moto.moto_api._internal.responses import MotoAPIResponse
    except Exception as e:
        _warn(f"ecs-service-scheduler not applied ({e})")
        return
    Backend = getattr(models, "EC2ContainerServiceBackend", None)
    Response = getattr(responses, "EC2ContainerServiceResponse", None)
    Service = getattr(models, "Service", None)
    needed = [
        (Backend, "update_service"),
        (Backend, "_get_service"),
        (Backend, "start_task"),
        (Backend, "stop_task"),
        (Response, "create_service"),
        (BaseResponse, "call_action"),
        (MotoAPIResponse, "reset_response"),
    ]
    missing = [f"{getattr(c, '__name__', c)}.{m}" for c, m in needed if c is None or not hasattr(c, m)]
    if missing or Service is None or "elb-registration" not in APPLIED or "ecs-start-task-placement" not in APPLIED:
        _warn(f"ecs-service-scheduler not applied (missing {missing or ['Service or the elb/ecs task patches']})")
        return

    original_call_action = BaseResponse.call_action
    original_reset = MotoAPIResponse.reset_response
    original_create = Response.create_service
    original_update = Backend.update_service

    def call_action(self):  # type: ignore[no-untyped-def]
        if _scheduler_interval() is None:
            return original_call_action(self)
        with _world_lock:
            return original_call_action(self)

    def reset_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        with _world_lock:
            return original_reset(self, *args, **kwargs)

    def create_service(self):  # type: ignore[no-untyped-def]
        result = original_create(self)
        if _scheduler_interval() is None:
            return result
        svc = self.ecs_backend._get_service(self._get_param("cluster", "default"), self._get_param("serviceName"))
        svc.deployment_configuration = self._get_param("deploymentConfiguration") or {
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
        }
        if svc.deployments:
            svc.deployments[:] = [_new_deployment(svc, svc.task_definition)]
        svc.running_count = svc.pending_count = 0
        return result

    def update_service(self, props):  # type: ignore[no-untyped-def]
        if _scheduler_interval() is None:
            return original_update(self, props)
        svc = self._get_service(props.get("cluster", "default"), props["service"].split("/")[-1])
        before = svc.task_definition
        force = props.pop("force_new_deployment", False)
        wanted = props.get("task_definition")
        result = original_update(self, props)
        if wanted:
            # moto keeps the reference as given (`family:2`); ECS reports the ARN.
            result.task_definition = self.describe_task_definition(wanted).arn
        if (result.deployment_controller or {}).get("type", "ECS") == "ECS" and (
            result.task_definition != before or force
        ):
            for d in result.deployments:
                d.update(status="ACTIVE", updatedAt=_utcnow())
            result.deployments.insert(0, _new_deployment(result, result.task_definition))
            result._testbed_steady = False
        if result.deployments:
            _count(_Scene(self, result))
        return result

    BaseResponse.call_action = call_action
    MotoAPIResponse.reset_response = reset_response
    Response.create_service = create_service
    Backend.update_service = update_service
    threading.Thread(target=_scheduler_loop, name="ecs-service-scheduler", daemon=True).start()
    APPLIED.append("ecs-service-scheduler")


# --------------------------------------------------------------------------------------
# ECS one-off tasks (opt-in)

ESSENTIAL_EXITED = "Essential container in task exited"


def _one_off_exit(command: list) -> int | None:  # type: ignore[type-arg]
    """The exit code a one-off command ends with; None when it never ends."""
    line = " ".join(str(w) for w in command)
    if line == "sleep forever":
        return None
    words = line.replace('"', " ").replace("'", " ").split()
    if len(words) >= 2 and words[-2] == "exit" and words[-1].isdigit():
        return int(words[-1])
    return 0


def _patch_one_off_exits() -> None:
    raw = os.environ.get("ECS_ROLL_TESTBED_ONE_OFF_SECONDS")
    if not raw:
        return
    try:
        after = float(raw)
        from moto.ecs import models
    except Exception as e:
        _warn(f"ecs-one-off-exits not applied ({e})")
        return
    Backend = getattr(models, "EC2ContainerServiceBackend", None)
    missing = [m for m in ("run_task", "describe_tasks") if Backend is None or not hasattr(Backend, m)]
    if missing:
        _warn(f"ecs-one-off-exits not applied (missing {missing})")
        return
    original_run, original_describe = Backend.run_task, Backend.describe_tasks

    def run_task(self, cluster_str, task_definition_str, count, overrides, *args, **kwargs):  # type: ignore[no-untyped-def]
        tasks = original_run(self, cluster_str, task_definition_str, count, overrides, *args, **kwargs)
        for o in (overrides or {}).get("containerOverrides") or []:
            if o.get("command"):
                for t in tasks:
                    t._one_off = (time.monotonic() + after, o.get("name"), _one_off_exit(o["command"]))
        return tasks

    def describe_tasks(self, cluster_str, tasks):  # type: ignore[no-untyped-def]
        found = original_describe(self, cluster_str, tasks)
        for t in found:
            due, name, code = getattr(t, "_one_off", (None, None, None))
            if due is None or code is None or time.monotonic() < due or t.last_status == "STOPPED":
                continue
            t.last_status = "STOPPED"
            t.desired_status = "STOPPED"
            t.stop_code = "EssentialContainerExited"
            t.stopped_reason = ESSENTIAL_EXITED
            for c in t.containers:
                c.last_status = "STOPPED"
                c.exitCode = code if c.name == name else 0
        return found

    Backend.run_task = run_task
    Backend.describe_tasks = describe_tasks
    try:
        from moto.ec2.models.elastic_network_interfaces import NetworkInterface

        original_eni_init = NetworkInterface.__init__

        def eni_init(eni, *args, **kwargs):  # type: ignore[no-untyped-def]
            original_eni_init(eni, *args, **kwargs)
            if not hasattr(eni, "private_dns_name"):
                eni.private_dns_name = f"ip-{str(eni.private_ip_address).replace('.', '-')}.ec2.internal"

        NetworkInterface.__init__ = eni_init
    except Exception as e:
        _warn(f"ecs-one-off-exits: awsvpc RunTask left as moto has it ({e})")
    APPLIED.append("ecs-one-off-exits")


def apply() -> list[str]:
    _patch_task_containers()
    _patch_ecs_tasks()
    draining = os.environ.get("ECS_ROLL_TESTBED_DRAINING", "on").lower() not in ("off", "0", "false", "no")
    _patch_elb(draining)
    _patch_service_scheduler()
    _patch_one_off_exits()
    return APPLIED
