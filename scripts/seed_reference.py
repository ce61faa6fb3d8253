#!/usr/bin/env python3
"""Seed a running moto_server with the ecs-roll reference setup.

The reference setup (the cb-prototype app, see shared/origin):
  * ECS on EC2: cluster `cb-prototype`, one container instance per availability
    zone (us-east-1a/b/c), each backed by an EC2 instance from moto's EC2;
  * task definition family `cb-prototype` registered from taskdefs/cb-prototype.json
    (static host port 5555, bridge mode);
  * the app as standalone tasks (no ECS service), one per instance, started with
    StartTask on the first N instances;
  * a classic ELB `cb-prototype-elb` (HTTP 80 -> 5555, health check HTTP:5555/testme,
    connection draining 60 s, cross-zone on) with the instances running a task registered.

With --service NAME the app is an ECS service instead (N tasks, behind the classic ELB, or
with --service-target-group behind an ALB target group `NAME-tg` of instance targets whose
deregistration delay is the draining timeout), deploymentConfiguration 200 / 100 unless
--max-percent / --min-healthy-percent say otherwise. The ECS service scheduler of
scripts/moto_patches.py is turned on (a pass every --scheduler-interval s) and the seed
returns once the service has reached a steady state. Without --service it is turned off.

Everything is reset first (POST /moto-api/reset) and the ECS task-transition fix is
applied (tasks otherwise drift towards STOPPED on every DescribeTasks).

Prints one JSON object on stdout (ids and ARNs of what was created); progress and
errors go to stderr.

Usage:
  scripts/seed_reference.py --endpoint http://127.0.0.1:5055 [--instances 3] [--tasks 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from testbed_common import (  # noqa: E402
    REPO_ROOT,
    clients,
    die,
    json_default,
    reset_moto,
    resolve_endpoint,
    resolve_region,
)

# An AMI that moto's EC2 knows (ECS-optimised in spirit; moto ships it in its default AMI list).
DEFAULT_AMI = "ami-12c6146b"
DEFAULT_AZS = "us-east-1a,us-east-1b,us-east-1c"
# Host ports the ECS agent reserves on a real container instance.
RESERVED_PORTS = ["22", "2375", "2376", "51678", "51679"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", help="moto endpoint (default: $AWS_ENDPOINT_URL); loopback only")
    p.add_argument("--region", help="default: $AWS_REGION or us-east-1")
    p.add_argument("--cluster", default="cb-prototype")
    p.add_argument("--load-balancer", default="cb-prototype-elb")
    p.add_argument(
        "--task-definition",
        default=str(REPO_ROOT / "taskdefs" / "cb-prototype.json"),
        help="register-task-definition --cli-input-json file (default: taskdefs/cb-prototype.json)",
    )
    p.add_argument("--instances", type=int, default=3, help="container instances, spread over the AZs (default 3)")
    p.add_argument("--tasks", type=int, default=None, help="tasks to start on the first N instances (default: one per instance)")
    p.add_argument("--azs", default=DEFAULT_AZS, help=f"comma-separated availability zones (default {DEFAULT_AZS})")
    p.add_argument("--instance-type", default="t3.small")
    p.add_argument("--ami", default=DEFAULT_AMI)
    p.add_argument("--started-by", default=None, help="startedBy of the seeded tasks (default: none)")
    # classic ELB
    p.add_argument("--listener-port", type=int, default=80)
    p.add_argument("--instance-port", type=int, default=5555)
    p.add_argument("--health-target", default=None, help="default HTTP:<instance-port>/testme")
    p.add_argument("--health-interval", type=int, default=30)
    p.add_argument("--health-timeout", type=int, default=5)
    p.add_argument("--healthy-threshold", type=int, default=2)
    p.add_argument("--unhealthy-threshold", type=int, default=2)
    p.add_argument("--draining-timeout", type=int, default=60, help="connection draining timeout in s (default 60)")
    p.add_argument("--no-draining", action="store_true", help="disable connection draining")
    p.add_argument("--no-cross-zone", action="store_true", help="disable cross-zone load balancing")
    p.add_argument("--no-reset", action="store_true", help="do not reset moto first (the transition fix is still applied)")
    # ECS service
    p.add_argument("--service", default=None, help="run the app as this ECS service instead of standalone tasks")
    p.add_argument("--service-target-group", action="store_true", help="the service behind an ALB target group, not the classic ELB")
    p.add_argument("--max-percent", type=int, default=200, help="the service's maximumPercent (default 200)")
    p.add_argument("--min-healthy-percent", type=int, default=100, help="the service's minimumHealthyPercent (default 100)")
    p.add_argument("--scheduler-interval", type=float, default=0.25, help="seconds between service scheduler passes (default 0.25)")
    args = p.parse_args(argv)
    if args.instances < 1:
        p.error("--instances must be >= 1")
    if args.tasks is None:
        args.tasks = args.instances
    if not 0 <= args.tasks <= args.instances:
        p.error("--tasks must be between 0 and --instances")
    args.azs = [a.strip() for a in args.azs.split(",") if a.strip()]
    if not args.azs:
        p.error("--azs is empty")
    if args.health_target is None:
        args.health_target = f"HTTP:{args.instance_port}/testme"
    if args.service_target_group and not args.service:
        p.error("--service-target-group needs --service")
    return args


def load_task_definition(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            td = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        die(f"cannot read task definition {path}: {e}")
    if not isinstance(td, dict) or "family" not in td or "containerDefinitions" not in td:
        die(f"{path}: not a register-task-definition input (needs family and containerDefinitions)")
    return td


def seed(args: argparse.Namespace) -> dict:
    endpoint = resolve_endpoint(args.endpoint)
    region = resolve_region(args.region)
    started = time.monotonic()

    if args.no_reset:
        from testbed_common import TASK_TRANSITION_FIX, moto_post

        moto_post(endpoint, "/moto-api/state-manager/set-transition", TASK_TRANSITION_FIX)
    else:
        reset_moto(endpoint)

    ec2, ecs, elb = clients(endpoint, region, "ec2", "ecs", "elb")
    td_input = load_task_definition(args.task_definition)

    # EC2 instances, one per AZ round-robin.
    instances = []
    for i in range(args.instances):
        az = args.azs[i % len(args.azs)]
        r = ec2.run_instances(
            ImageId=args.ami,
            MinCount=1,
            MaxCount=1,
            InstanceType=args.instance_type,
            Placement={"AvailabilityZone": az},
            TagSpecifications=[
                {
                    "ResourceType": "instance",
                    "Tags": [
                        {"Key": "Name", "Value": f"{args.cluster}-ecs-{i + 1}"},
                        {"Key": "ecs-cluster", "Value": args.cluster},
                    ],
                }
            ],
        )
        instances.append({"instance_id": r["Instances"][0]["InstanceId"], "availability_zone": az})

    # ECS cluster and container instances.
    cluster_arn = ecs.create_cluster(clusterName=args.cluster)["cluster"]["clusterArn"]
    for inst in instances:
        ci = ecs.register_container_instance(
            cluster=args.cluster,
            instanceIdentityDocument=json.dumps({"instanceId": inst["instance_id"]}),
            # moto ignores totalResources (it always registers CPU 4096 / MEMORY 7482),
            # but a real agent sends them, so we do too.
            totalResources=[
                {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 1024},
                {"name": "PORTS", "type": "STRINGSET", "stringSetValue": RESERVED_PORTS},
            ],
            attributes=[{"name": "ecs.availability-zone", "value": inst["availability_zone"]}],
        )["containerInstance"]
        inst["container_instance_arn"] = ci["containerInstanceArn"]
        inst["task_arn"] = None

    # Task definition.
    td = ecs.register_task_definition(**td_input)["taskDefinition"]
    td_arn = td["taskDefinitionArn"]

    # Classic ELB.
    elb.create_load_balancer(
        LoadBalancerName=args.load_balancer,
        Listeners=[
            {
                "Protocol": "HTTP",
                "LoadBalancerPort": args.listener_port,
                "InstanceProtocol": "HTTP",
                "InstancePort": args.instance_port,
            }
        ],
        AvailabilityZones=sorted({i["availability_zone"] for i in instances}),
        Tags=[{"Key": "app", "Value": td_input["family"]}],
    )
    elb.configure_health_check(
        LoadBalancerName=args.load_balancer,
        HealthCheck={
            "Target": args.health_target,
            "Interval": args.health_interval,
            "Timeout": args.health_timeout,
            "HealthyThreshold": args.healthy_threshold,
            "UnhealthyThreshold": args.unhealthy_threshold,
        },
    )
    elb.modify_load_balancer_attributes(
        LoadBalancerName=args.load_balancer,
        LoadBalancerAttributes={
            "ConnectionDraining": {"Enabled": not args.no_draining, "Timeout": args.draining_timeout},
            "CrossZoneLoadBalancing": {"Enabled": not args.no_cross_zone},
        },
    )

    set_scheduler(endpoint, args.scheduler_interval if args.service else None)
    if args.service:
        service = seed_service(args, ec2, ecs, td_arn, td_input, instances)
        return summary(args, endpoint, region, started, cluster_arn, td, instances, service)

    # Standalone tasks on the first N instances, then register those instances.
    with_tasks = instances[: args.tasks]
    for inst in with_tasks:
        kwargs = {
            "cluster": args.cluster,
            "taskDefinition": td_arn,
            "containerInstances": [inst["container_instance_arn"]],
        }
        if args.started_by:
            kwargs["startedBy"] = args.started_by
        r = ecs.start_task(**kwargs)
        if r.get("failures") or len(r.get("tasks", [])) != 1:
            die(f"start_task on {inst['container_instance_arn']} failed: {r.get('failures')}", 1)
        inst["task_arn"] = r["tasks"][0]["taskArn"]
    if with_tasks:
        elb.register_instances_with_load_balancer(
            LoadBalancerName=args.load_balancer,
            Instances=[{"InstanceId": i["instance_id"]} for i in with_tasks],
        )

    return summary(args, endpoint, region, started, cluster_arn, td, instances, None)


def summary(args, endpoint, region, started, cluster_arn, td, instances, service) -> dict:  # type: ignore[no-untyped-def]
    with_tasks = [i for i in instances if i["task_arn"]]
    return {
        "endpoint": endpoint,
        "region": region,
        "cluster": args.cluster,
        "cluster_arn": cluster_arn,
        "load_balancer": args.load_balancer,
        "family": td["family"],
        "task_definition_arn": td["taskDefinitionArn"],
        "task_definition_revision": td["revision"],
        "image": td["containerDefinitions"][0].get("image"),
        "instances": instances,
        "instance_ids": [i["instance_id"] for i in instances],
        "container_instance_arns": [i["container_instance_arn"] for i in instances],
        "task_arns": [i["task_arn"] for i in with_tasks],
        "registered_instance_ids": [] if service and service["target_group_arn"] else [i["instance_id"] for i in with_tasks],
        "service": service,
        "elapsed_ms": round((time.monotonic() - started) * 1000),
    }


def set_scheduler(endpoint: str, interval: float | None) -> None:
    """Turns the ECS service scheduler of moto_patches.py on (a pass every `interval` s) or off."""
    from testbed_common import moto_post

    if interval is None:
        moto_post(endpoint, "/moto-api/state-manager/unset-transition", {"model_name": "ecs::service"})
    else:
        transition = {"progression": "time", "seconds": interval}
        moto_post(endpoint, "/moto-api/state-manager/set-transition", {"model_name": "ecs::service", "transition": transition})


def target_group(args, ec2, azs: list[str]) -> str:  # type: ignore[no-untyped-def]
    """An ALB in the default VPC forwarding to a target group of instance targets on the app's port."""
    (elbv2,) = clients(resolve_endpoint(args.endpoint), resolve_region(args.region), "elbv2")
    vpc = next(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v.get("IsDefault"))
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    subnet_ids = [s["SubnetId"] for s in subnets if s["AvailabilityZone"] in azs]
    alb = elbv2.create_load_balancer(Name=f"{args.service}-alb", Subnets=subnet_ids)["LoadBalancers"][0]
    tg = elbv2.create_target_group(
        Name=f"{args.service}-tg",
        Protocol="HTTP",
        Port=args.instance_port,
        VpcId=vpc,
        TargetType="instance",
        HealthCheckPath="/testme",
        HealthCheckIntervalSeconds=args.health_interval,
        HealthCheckTimeoutSeconds=args.health_timeout,
        HealthyThresholdCount=args.healthy_threshold,
        UnhealthyThresholdCount=args.unhealthy_threshold,
    )["TargetGroups"][0]["TargetGroupArn"]
    delay = 0 if args.no_draining else args.draining_timeout
    elbv2.modify_target_group_attributes(
        TargetGroupArn=tg, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}]
    )
    elbv2.create_listener(
        LoadBalancerArn=alb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=args.listener_port,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    return tg


def seed_service(args, ec2, ecs, td_arn: str, td_input: dict, instances: list[dict]) -> dict:  # type: ignore[no-untyped-def]
    """Creates the service and waits (bounded) until ECS, as patched, reports it steady."""
    container = td_input["containerDefinitions"][0]["name"]
    tg = target_group(args, ec2, sorted({i["availability_zone"] for i in instances})) if args.service_target_group else None
    lb = {"targetGroupArn": tg} if tg else {"loadBalancerName": args.load_balancer}
    svc = ecs.create_service(
        cluster=args.cluster,
        serviceName=args.service,
        taskDefinition=td_arn,
        desiredCount=args.tasks,
        launchType="EC2",
        loadBalancers=[{**lb, "containerName": container, "containerPort": args.instance_port}],
        deploymentConfiguration={"maximumPercent": args.max_percent, "minimumHealthyPercent": args.min_healthy_percent},
    )["service"]
    deadline = time.monotonic() + 30
    while True:
        svc = ecs.describe_services(cluster=args.cluster, services=[args.service])["services"][0]
        if any("has reached a steady state" in e["message"] for e in svc.get("events", [])):
            break
        if time.monotonic() > deadline:
            die(f"service {args.service} not steady within 30 s (is the ECS service scheduler patch applied?): {svc}", 1)
        time.sleep(0.05)
    arns = ecs.list_tasks(cluster=args.cluster, serviceName=args.service)["taskArns"]
    tasks = ecs.describe_tasks(cluster=args.cluster, tasks=arns)["tasks"] if arns else []
    by_ci = {t["containerInstanceArn"]: t["taskArn"] for t in tasks if t.get("group") == f"service:{args.service}"}
    for inst in instances:
        inst["task_arn"] = by_ci.get(inst["container_instance_arn"])
    return {
        "name": svc["serviceName"],
        "arn": svc["serviceArn"],
        "deployment_id": svc["deployments"][0]["id"],
        "target_group_arn": tg,
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        summary = seed(args)
    except Exception as e:  # botocore errors, connection refused...
        die(f"seeding failed: {type(e).__name__}: {e}", 1)
    json.dump(summary, sys.stdout, default=json_default)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
