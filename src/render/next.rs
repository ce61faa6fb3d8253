//! What to do next, given how a run ended. Every command named here works, exactly as
//! printed, in the state the run left (tests/e2e/hints.rs runs each one): `ecs-roll rollback`
//! is offered only when there is a revision to return to, and never after a rollback that
//! already happened.

use crate::engine::failure::{Failure, Interruption};
use crate::engine::outcome::{Outcome, RunResult};

/// The sentence after the result (and the cause's own hint), if there is one to say.
pub fn next_step(o: &Outcome) -> Option<String> {
    let previous = o.previous.as_ref().map(|p| p.name.as_str());
    // After `abort` the revision left may have no previous one recorded: name it.
    let back = |to: &str| match o.command.as_str() {
        "abort" => format!("`ecs-roll rollback --to {to}` returns to {to}"),
        _ => format!("`ecs-roll rollback` returns to {to}"),
    };
    let service = o.service.is_some();
    Some(match o.result {
        RunResult::Succeeded => {
            let p = o.previous.as_ref()?;
            format!(
                "previous revision: {} ({}); {}",
                p.name,
                p.image.as_deref().unwrap_or("?"),
                back(&p.name)
            )
        }
        RunResult::Planned => format!(
            "a rollback after this {} would return to {}",
            o.command, previous?
        ),
        RunResult::RolledBack => format!(
            "{} runs again; fix the cause, then deploy again",
            previous.unwrap_or("the previous revision")
        ),
        RunResult::Failed if before_failed(o) => format!(
            "nothing was rolled out: {} keeps serving, and {} stays registered but not deployed; fix the command, then deploy again",
            previous.unwrap_or("what ran before"),
            o.target
                .as_ref()
                .map_or("the new revision", |t| t.name.as_str())
        ),
        RunResult::Failed => {
            let stand = if service {
                "where each task stands is below"
            } else {
                "where each instance stands is below"
            };
            match previous {
                Some(p) => format!("{stand}; fix the cause and deploy again, or {}", back(p)),
                None => format!("{stand}; fix the cause and deploy again"),
            }
        }
        RunResult::Interrupted => interrupted(o, previous)?,
    })
}

fn before_failed(o: &Outcome) -> bool {
    matches!(
        o.failure.as_ref().map(|f| &f.cause),
        Some(Failure::BeforeFailed(_))
    )
}

fn interrupted(o: &Outcome, previous: Option<&str>) -> Option<String> {
    let undo = |p: &str| format!(", or `ecs-roll rollback` to return to {p}");
    // An interrupted `rollback` is finished by running it again (a plain `rollback` would
    // finish it too, not undo it).
    // An interrupted `abort` leaves ECS rolling back: running it again follows that.
    let previous = previous.filter(|_| o.command != "rollback" && o.command != "abort");
    let resume = if o.command == "rollback" {
        "run the same command again to finish the rollback"
    } else {
        "run the same command again to resume"
    };
    let how = match o.failure.as_ref().map(|f| &f.cause) {
        Some(Failure::Interrupted { how }) => how,
        // The deploy had failed and its rollback was interrupted: finish the rollback.
        Some(_) => {
            return previous.map(|p| {
                format!("the rollback to {p} was interrupted: `ecs-roll rollback` finishes it")
            });
        }
        None => return None,
    };
    Some(match how {
        Interruption::BeforeChange => {
            "nothing was changed in AWS; run the same command again".into()
        }
        Interruption::StepFinished => format!(
            "every instance is either serving or out of the load balancer with no task; {resume}{}",
            previous.map(undo).unwrap_or_default()
        ),
        Interruption::BeforeRollout { .. } => {
            "nothing was rolled out; run the same command again to run the command and deploy"
                .into()
        }
        Interruption::RollbackContinues { service_deployment } => format!(
            "ECS carries on rolling {service_deployment} back by itself; `ecs-roll status --watch --until-stable` follows it to its end"
        ),
        Interruption::DeploymentContinues { deployment } => format!(
            "ECS carries on with deployment {deployment} by itself, replacing the service's tasks and registering the new ones as targets of its load balancers; run the same command again to watch it{}",
            previous.map(undo).unwrap_or_default()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::failure::FailureReport;
    use crate::engine::outcome::RevisionInfo;

    fn outcome(
        result: RunResult,
        service: bool,
        previous: bool,
        cause: Option<Failure>,
    ) -> Outcome {
        let rev = |n: i64| RevisionInfo {
            arn: format!("arn:td/app:{n}"),
            name: format!("app:{n}"),
            revision: n,
            image: Some(format!("app:v{n}")),
            images: Default::default(),
        };
        Outcome {
            result,
            previous: previous.then(|| rev(1)),
            target: Some(rev(2)),
            service: service.then(|| "web".into()),
            failure: cause.map(|c| FailureReport::new(None, c)),
            ..Outcome::planned("deploy", "c", "app", "lb".into())
        }
    }

    fn interrupted(how: Interruption) -> Option<Failure> {
        Some(Failure::Interrupted { how })
    }

    #[test]
    fn a_rollback_is_offered_only_when_there_is_one_to_make() {
        use RunResult::*;
        let continues = || Interruption::DeploymentContinues {
            deployment: "ecs-svc/1".into(),
        };
        // (result, service, previous, cause) -> offers `ecs-roll rollback`
        let cases = [
            (Succeeded, false, true, None, true),
            (Succeeded, false, false, None, false),
            (Failed, false, true, Some(Failure::DeadlinePassed), true),
            (Failed, true, true, Some(Failure::DeadlinePassed), true),
            (Failed, false, false, Some(Failure::DeadlinePassed), false),
            // Rolled back already: a second rollback would go elsewhere, or nowhere.
            (
                RolledBack,
                false,
                true,
                Some(Failure::DeadlinePassed),
                false,
            ),
            (
                Interrupted,
                false,
                true,
                interrupted(Interruption::StepFinished),
                true,
            ),
            (
                Interrupted,
                false,
                false,
                interrupted(Interruption::StepFinished),
                false,
            ),
            (Interrupted, true, true, interrupted(continues()), true),
            (
                Interrupted,
                false,
                true,
                interrupted(Interruption::BeforeChange),
                false,
            ),
            // The rollback after a failure was interrupted: it is what is left to do.
            (
                Interrupted,
                false,
                true,
                Some(Failure::DeadlinePassed),
                true,
            ),
            (Planned, false, true, None, false),
        ];
        for (result, service, previous, cause, offers) in cases {
            let o = outcome(result, service, previous, cause);
            let next = next_step(&o).unwrap_or_default();
            assert_eq!(
                next.contains("`ecs-roll rollback`"),
                offers,
                "{result:?} service {service} previous {previous}: {next}"
            );
            if offers {
                assert!(next.contains("app:1"), "names where it returns: {next}");
            }
        }
    }

    #[test]
    fn a_service_speaks_of_tasks_and_targets_not_instances() {
        let continues = Interruption::DeploymentContinues {
            deployment: "ecs-svc/1".into(),
        };
        for o in [
            outcome(RunResult::Interrupted, true, true, interrupted(continues)),
            outcome(RunResult::Failed, true, true, Some(Failure::DeadlinePassed)),
        ] {
            let next = next_step(&o).unwrap();
            assert!(next.contains("task"), "{next}");
            assert!(!next.contains("instance"), "{next}");
        }
    }
}
