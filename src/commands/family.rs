//! The family of standalone tasks when nothing names it (no --family, ECS_ROLL_FAMILY,
//! `family` key or task definition file): the one whose tasks run on the instances registered
//! with the classic ELB, when exactly one does. So `ecs-roll --cluster C --load-balancer L
//! rollback` works with the flags that named the deploy's target.

use std::collections::BTreeSet;

use super::Aws;
use crate::error::Error;
use crate::platform::{ContainerInstance, Task};
use crate::settings::{Settings, Target};

/// Fills in `s.family` from what runs behind the load balancer, if no setting named it.
pub async fn find(s: &mut Settings, aws: &Aws) -> Result<(), Error> {
    if !s.family_unknown() {
        return Ok(());
    }
    let Target::Standalone { load_balancer } = &s.target else {
        return Ok(());
    };
    let before = Error::from_api_before_change;
    let lb = aws
        .elb
        .describe_load_balancer(load_balancer)
        .await
        .map_err(before)?
        .ok_or_else(|| {
            Error::preflight(
                format!("classic load balancer {load_balancer:?} not found"),
                "check --load-balancer and --region",
            )
        })?;
    let instances = aws
        .ecs
        .container_instances(&s.cluster)
        .await
        .map_err(before)?;
    let tasks = aws.ecs.cluster_tasks(&s.cluster).await.map_err(before)?;
    let found = families_behind(&lb.instances, &instances, &tasks);
    s.family = decide(&found, load_balancer, &s.cluster)?;
    Ok(())
}

/// The families of the running tasks on the container instances whose EC2 instances are
/// registered with the load balancer.
pub fn families_behind(
    registered: &[String],
    instances: &[ContainerInstance],
    tasks: &[Task],
) -> BTreeSet<String> {
    let behind: BTreeSet<&str> = instances
        .iter()
        .filter(|i| registered.contains(&i.ec2_instance_id))
        .map(|i| i.arn.as_str())
        .collect();
    tasks
        .iter()
        .filter(|t| t.is_running())
        .filter(|t| {
            t.container_instance_arn
                .as_deref()
                .is_some_and(|ci| behind.contains(ci))
        })
        .filter_map(|t| family_of_arn(&t.task_definition_arn))
        .collect()
}

/// `arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION` -> FAMILY.
fn family_of_arn(arn: &str) -> Option<String> {
    let name = arn.rsplit('/').next()?;
    let (family, revision) = name.rsplit_once(':')?;
    (!family.is_empty() && revision.chars().all(|c| c.is_ascii_digit())).then(|| family.to_string())
}

/// One family found: that one. Several, or none: exit 2, saying which and what to pass.
pub fn decide(
    found: &BTreeSet<String>,
    load_balancer: &str,
    cluster: &str,
) -> Result<String, Error> {
    let mut it = found.iter();
    match (it.next(), it.next()) {
        (Some(one), None) => Ok(one.clone()),
        (Some(_), Some(_)) => {
            let names: Vec<&str> = found.iter().map(String::as_str).collect();
            Err(Error::usage(
                format!(
                    "tasks of several families run behind load balancer {load_balancer:?} in cluster {cluster:?}: {}",
                    names.join(", ")
                ),
                format!(
                    "name the family: pass --family {} (or another of them), or --task-definition FILE",
                    names[0]
                ),
            ))
        }
        (None, _) => Err(Error::usage(
            format!(
                "no task runs behind load balancer {load_balancer:?} in cluster {cluster:?}, so no family can be found there"
            ),
            "pass --family NAME or --task-definition FILE, or add `family = \"...\"` to ecs-roll.toml",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::ResourceStatus;

    fn instance(arn: &str, ec2: &str) -> ContainerInstance {
        ContainerInstance {
            arn: arn.into(),
            ec2_instance_id: ec2.into(),
            availability_zone: None,
            status: ResourceStatus::Active,
            agent_connected: true,
            remaining_cpu: 0,
            remaining_memory: 0,
            used_ports: Vec::new(),
        }
    }

    fn task(family: &str, on: &str, status: &str) -> Task {
        let mut t = Task::new(
            "arn:aws:ecs:r:1:task/c/x",
            &format!("arn:aws:ecs:r:1:task-definition/{family}:3"),
            status,
            status,
        );
        t.container_instance_arn = Some(on.into());
        t
    }

    #[test]
    fn the_families_behind_are_those_running_on_registered_instances() {
        let instances = [instance("ci/a", "i-a"), instance("ci/b", "i-b")];
        let tasks = [
            task("web", "ci/a", "RUNNING"),
            task("worker", "ci/b", "RUNNING"),
            task("old", "ci/a", "STOPPED"),
        ];
        let found = families_behind(&["i-a".into()], &instances, &tasks);
        assert_eq!(found.into_iter().collect::<Vec<_>>(), ["web"]);
        let both = families_behind(&["i-a".into(), "i-b".into()], &instances, &tasks);
        assert_eq!(both.into_iter().collect::<Vec<_>>(), ["web", "worker"]);
        assert!(families_behind(&[], &instances, &tasks).is_empty());
    }

    #[test]
    fn one_family_behind_is_taken_several_or_none_exit_2_saying_what_to_pass() {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(decide(&set(&["web"]), "lb", "c").unwrap(), "web");
        let e = decide(&set(&["web", "api"]), "lb", "c").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("api, web"), "{e}");
        assert!(e.hint().contains("--family api"), "{}", e.hint());
        let e = decide(&set(&[]), "lb", "c").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("no task runs behind"), "{e}");
        assert!(e.hint().contains("--family NAME"), "{}", e.hint());
    }

    #[test]
    fn the_family_of_a_revision_arn() {
        assert_eq!(
            family_of_arn("arn:aws:ecs:eu-west-1:1:task-definition/cb-prototype:12").as_deref(),
            Some("cb-prototype")
        );
        assert_eq!(family_of_arn("nonsense"), None);
    }
}
