//! The engine on the simulated platform, whole deploys under tokio's paused clock: the
//! reference setup (rolling in place), blue/green and surge, every way a new version can fail,
//! interruption and resume, throttling. Every scenario asserts the final state, the result and
//! that the instances serving the app never dropped to zero.

use std::sync::Arc;
use std::time::Duration;

use ecs_roll::engine::deploy::{self, TAG_PREVIOUS};
use ecs_roll::engine::diagnosis::{CheckProblem, Diagnosis, PullProblem, diagnose};
use ecs_roll::engine::events::{LockWarning, Recorder, Staleness, Warning};
use ecs_roll::engine::failure::Mismatch;
use ecs_roll::engine::plan::Strategy;
use ecs_roll::engine::plan::notes::Note;
use ecs_roll::engine::rollback;
use ecs_roll::engine::timeline::Recording;
use ecs_roll::engine::wait::Poll;
use ecs_roll::engine::{
    Action, Cancel, Ctx, Desired, Event, Failure, Options, Outcome, RunResult, StandaloneCtx,
    Timeouts,
};
use ecs_roll::error::Error;
use ecs_roll::image::ImageRef;
use ecs_roll::platform::HealthCheck;
use ecs_roll::sim::{Behaviour, Fault, MemoryTags, Sim, health_check};
use ecs_roll::taskdef::TaskDefinition;
use serde_json::json;

mod alarms;
mod before;
mod failure_log;
mod history_records;
mod images;
mod keep_revisions;
mod lost_answers;
mod predictions;
mod release;
mod rollback_records;
mod time_limits;
mod timeline;
mod watch;

const LB: &str = "cb-prototype-elb";
const V1: &str = "rafabor/prototype-4-cb:v0.0.1";
const V2: &str = "rafabor/prototype-4-cb:v0.0.2";

fn task_definition(image: &str) -> serde_json::Value {
    json!({
        "family": "cb-prototype",
        "containerDefinitions": [{
            "name": "cb-prototype", "image": image, "cpu": 256, "memory": 256, "essential": true,
            "portMappings": [{ "containerPort": 5555, "hostPort": 5555, "protocol": "tcp" }]
        }]
    })
}

/// The reference setup with `instances` container instances, `tasks` of them running v1.
fn world(instances: usize) -> Sim {
    Sim::builder()
        .cluster("cb-prototype")
        .instances(instances)
        .elb(
            LB,
            HealthCheck {
                interval: Duration::from_secs(30),
                healthy_threshold: 2,
                ..health_check("HTTP:5555/testme")
            },
        )
        .draining(Duration::from_secs(60))
        .task_definition(task_definition(V1))
        .tasks_on_each_instance()
        .build()
}

struct Run {
    sim: Sim,
    tags: MemoryTags,
    recorder: Arc<Recorder>,
    /// The recorder's events with their times: the run's timeline.
    recording: Arc<Recording>,
    cancel: Cancel,
    timeouts: Timeouts,
}

impl Run {
    fn new(sim: Sim) -> Run {
        let recorder = Arc::new(Recorder::default());
        Run {
            sim,
            tags: MemoryTags::default(),
            recorder: recorder.clone(),
            recording: Recording::new(recorder),
            cancel: Cancel::default(),
            timeouts: Timeouts::default(),
        }
    }

    /// Another run against the same AWS (the rerun after an interrupt or a kill).
    fn again(&self) -> Run {
        Run {
            tags: self.tags.clone(),
            ..Run::new(self.sim.clone())
        }
    }

    fn ctx(&self) -> StandaloneCtx {
        StandaloneCtx {
            ctx: Ctx {
                ecs: self.sim.ecs(),
                tags: Arc::new(self.tags.clone()),
                elb: self.sim.elb(),
                alarms: self.sim.alarms(),
                cluster: "cb-prototype".into(),
                family: "cb-prototype".into(),
                observer: self.recording.clone(),
                poll: Poll::default(),
                timeouts: self.timeouts,
                cancel: self.cancel.clone(),
                actor: "test".into(),
                lock_heartbeat: ecs_roll::engine::lock::HEARTBEAT,
                gate: None,
            },
            load_balancer: LB.into(),
        }
    }

    async fn deploy_with(&self, image: &str, opts: Options) -> Result<Outcome, Error> {
        let td = TaskDefinition::parse(&task_definition(V1).to_string(), "test").unwrap();
        let desired = td.with_image("cb-prototype", &ImageRef::parse(image).unwrap());
        deploy::run(&self.ctx(), Desired::Definition(desired), &opts).await
    }

    async fn deploy(&self, image: &str) -> Result<Outcome, Error> {
        self.deploy_with(image, opts()).await
    }

    /// (image, task status) of every task the family runs, with the instance it runs on.
    fn running_images(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .sim
            .tasks()
            .into_iter()
            .filter(|t| t.is_running())
            .map(|t| {
                t.task_definition_arn
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        v.sort();
        v
    }

    fn registered_in_service(&self) -> usize {
        self.sim
            .instance_health(LB)
            .iter()
            .filter(|h| h.state == ecs_roll::platform::HealthState::InService)
            .count()
    }
}

/// What the classifier makes of the run's failure.
fn diagnosis(out: &Outcome) -> Diagnosis {
    diagnose(&out.failure.as_ref().expect("a failure").cause)
}

fn opts() -> Options {
    Options {
        command: "deploy".into(),
        rollback_on_failure: true,
        ..Options::default()
    }
}

#[tokio::test(start_paused = true)]
async fn reference_setup_rolls_one_instance_at_a_time_and_keeps_two_of_three_serving() {
    let run = Run::new(world(3));
    let sampler = run.sim.spawn_sampler(Duration::from_secs(1));
    let out = run.deploy(V2).await.unwrap();
    let capacity = sampler.stop();

    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(out.plan.as_ref().unwrap().strategy, Strategy::Rolling);
    assert_eq!(run.running_images(), ["cb-prototype:2"; 3]);
    assert_eq!(run.registered_in_service(), 3);
    assert_eq!(capacity.min_serving(), Some(2), "{:?}", capacity.timeline());
    assert!(
        run.sim.interruptions().is_empty(),
        "a task was stopped while still receiving traffic: {:?}",
        run.sim.interruptions()
    );
    let target = run
        .sim
        .ecs()
        .describe_task_definition("cb-prototype:2")
        .await
        .unwrap();
    assert!(target.tags[TAG_PREVIOUS].ends_with("cb-prototype:1"));
    assert_eq!(out.previous.unwrap().name, "cb-prototype:1");
}

#[tokio::test(start_paused = true)]
async fn spare_instances_give_a_blue_green_deploy_at_full_capacity() {
    let sim = Sim::builder()
        .cluster("cb-prototype")
        .instances(6)
        .elb(
            LB,
            HealthCheck {
                interval: Duration::from_secs(10),
                healthy_threshold: 3,
                ..health_check("HTTP:5555/testme")
            },
        )
        .draining(Duration::from_secs(30))
        .task_definition(task_definition(V1))
        .build();
    let run = Run::new(sim);
    // Three instances run v1, three are free.
    seed_tasks(&run, 3).await;
    let sampler = run.sim.spawn_sampler(Duration::from_secs(1));
    let out = run.deploy(V2).await.unwrap();
    let capacity = sampler.stop();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(out.plan.as_ref().unwrap().strategy, Strategy::BlueGreen);
    assert_eq!(run.running_images(), ["cb-prototype:2"; 3]);
    assert_eq!(capacity.min_serving(), Some(3));
    assert!(run.sim.interruptions().is_empty());
}

/// Starts v1 on the first `n` instances and registers them, as an operator would have.
async fn seed_tasks(run: &Run, n: usize) {
    let ecs = run.sim.ecs();
    let elb = run.sim.elb();
    let instances = ecs.container_instances("cb-prototype").await.unwrap();
    for ci in instances.iter().take(n) {
        ecs.start_task("cb-prototype", "cb-prototype:1", &ci.arn, "operator")
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(15)).await;
    let ids: Vec<String> = instances
        .iter()
        .take(n)
        .map(|c| c.ec2_instance_id.clone())
        .collect();
    elb.register_instances(LB, &ids).await.unwrap();
    // Long enough for any health check settings to pass.
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(run.registered_in_service(), n);
}

#[tokio::test(start_paused = true)]
async fn one_spare_instance_gives_a_surge_that_never_drops_capacity() {
    let sim = Sim::builder()
        .cluster("cb-prototype")
        .instances(4)
        .elb(LB, health_check("HTTP:5555/testme"))
        .task_definition(task_definition(V1))
        .build();
    let run = Run::new(sim);
    seed_tasks(&run, 3).await;
    let sampler = run.sim.spawn_sampler(Duration::from_secs(1));
    let out = run.deploy(V2).await.unwrap();
    let capacity = sampler.stop();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(
        out.plan.as_ref().unwrap().strategy,
        Strategy::Surge { surge: 1 }
    );
    assert_eq!(capacity.min_serving(), Some(3), "{:?}", capacity.timeline());
}

#[tokio::test(start_paused = true)]
async fn a_single_instance_without_spare_capacity_is_refused_before_any_change() {
    let run = Run::new(world(1));
    let err = run.deploy(V2).await.unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("--allow-downtime"), "{err}");
    assert_eq!(run.sim.call_count("RegisterTaskDefinition"), 0);
    assert_eq!(
        run.sim.call_count("StartTask") + run.sim.call_count("StopTask"),
        0
    );
    assert_eq!(run.sim.call_count("DeregisterInstancesFromLoadBalancer"), 0);
}

#[tokio::test(start_paused = true)]
async fn allow_downtime_replaces_a_single_instance() {
    let run = Run::new(world(1));
    let out = run
        .deploy_with(
            V2,
            Options {
                allow_downtime: true,
                ..opts()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert!(out.plan.unwrap().downtime);
    assert_eq!(run.running_images(), ["cb-prototype:2"]);
}

async fn assert_rolled_back(run: &Run, out: &Outcome, cause: fn(&Failure) -> bool) {
    assert_eq!(
        out.result,
        RunResult::RolledBack,
        "{:?} / {:?}",
        out.failure,
        out.rollback_failure
    );
    assert_eq!(out.exit_code(), 3);
    assert!(
        out.failure.as_ref().is_some_and(|f| cause(&f.cause)),
        "{:?}",
        out.failure
    );
    assert_eq!(run.running_images(), ["cb-prototype:1"; 3]);
    assert_eq!(run.registered_in_service(), 3);
    assert!(
        run.recorder
            .events()
            .iter()
            .any(|e| matches!(e, Event::RollbackStarted { .. })),
        "no rollback event"
    );
}

#[tokio::test(start_paused = true)]
async fn a_crashing_image_is_rolled_back_with_its_exit_code_and_the_app_keeps_serving() {
    let run = Run::new(world(3));
    run.sim
        .set_image_behaviour(V2, Behaviour::CrashAfter(Duration::from_secs(20)));
    let sampler = run.sim.spawn_sampler(Duration::from_secs(1));
    let out = run.deploy(V2).await.unwrap();
    let capacity = sampler.stop();
    assert_rolled_back(&run, &out, |f| {
        matches!(f, Failure::TaskStopped { task, deployed_earlier: false }
            if task.containers.iter().any(|c| c.exit_code == Some(1)))
    })
    .await;
    assert_eq!(
        diagnosis(&out),
        Diagnosis::AppCrashed {
            container: Some("cb-prototype".into()),
            exit_code: Some(1)
        }
    );
    assert!(
        capacity.min_serving() >= Some(2),
        "{:?}",
        capacity.timeline()
    );
}

#[tokio::test(start_paused = true)]
async fn a_task_deployed_by_an_earlier_step_that_crashes_ends_the_rollout() {
    // Step 1's task runs from 75 s and is InService at 125 s; 75 s after RUNNING (150 s),
    // while step 2 drains the next instance, it exits.
    let run = Run::new(world(3));
    run.sim
        .set_image_behaviour(V2, Behaviour::CrashAfter(Duration::from_secs(75)));
    let out = run.deploy(V2).await.unwrap();
    assert_rolled_back(&run, &out, |f| {
        matches!(
            f,
            Failure::TaskStopped {
                deployed_earlier: true,
                ..
            }
        )
    })
    .await;
    // Noticed within step 2, during its draining, not after it; the instance being drained
    // went back into service at once, its old task still running.
    assert_eq!(out.steps.len(), 2, "{:?}", out.steps);
    assert!(
        out.steps[1].took < Duration::from_secs(30),
        "{:?}",
        out.steps
    );
    assert!(
        run.recorder.events().iter().any(|e| matches!(
            e,
            Event::Action(Action::InstancesRegistered { again: true, .. })
        )),
        "the drained instance was not registered again"
    );
}

#[tokio::test(start_paused = true)]
async fn a_deployed_task_that_stops_while_the_next_one_starts_lets_that_step_finish() {
    // Step 1 starts its task 65 s in (drain 60 s, stop 5 s), RUNNING 10 s later, InService
    // at 125 s. Step 2 drains until 185 s, stops, starts its task at 190 s; step 1's task
    // exits 140 s after RUNNING, at 215 s, while step 2's new task starts: stopping that one
    // too would leave only the third instance serving.
    let run = Run::new(world(3));
    run.sim
        .set_image_behaviour(V2, Behaviour::CrashAfter(Duration::from_secs(140)));
    let sampler = run.sim.spawn_sampler(Duration::from_secs(1));
    let out = run.deploy(V2).await.unwrap();
    let capacity = sampler.stop();
    assert_rolled_back(&run, &out, |f| {
        matches!(
            f,
            Failure::TaskStopped {
                deployed_earlier: true,
                ..
            }
        )
    })
    .await;
    assert_eq!(out.steps.len(), 2, "{:?}", out.steps);
    assert!(out.steps[1].ok, "step 2 finished: {:?}", out.steps);
    assert!(
        capacity.min_serving() >= Some(1),
        "{:?}",
        capacity.timeline()
    );
}

#[tokio::test(start_paused = true)]
async fn an_image_that_fails_its_health_checks_is_rolled_back_as_soon_as_the_elb_says_so() {
    let run = Run::new(world(3));
    run.sim.set_image_behaviour(V2, Behaviour::FailsHealthCheck);
    let sampler = run.sim.spawn_sampler(Duration::from_secs(1));
    let out = run.deploy(V2).await.unwrap();
    let capacity = sampler.stop();
    assert_rolled_back(&run, &out, |f| {
        matches!(
            f,
            Failure::HealthChecksFailed {
                unhealthy_for: None,
                ..
            }
        )
    })
    .await;
    assert!(
        matches!(
            diagnosis(&out),
            Diagnosis::HealthChecks { ref target, check: CheckProblem::Failing, unhealthy_for: None, .. }
                if target.starts_with("i-")
        ),
        "{:?}",
        diagnosis(&out)
    );
    assert!(capacity.min_serving() >= Some(2));
    // The ELB's verdict ends the step, not the health timeout (200 s): drain 60 s, stop 5 s,
    // start 30 s, then two checks against the running task (30 s apart) and their 5 s
    // timeout: about 160 s.
    let step = &out.steps[0];
    assert!(step.took < Duration::from_secs(165), "{:?}", step.took);
}

#[tokio::test(start_paused = true)]
async fn a_slow_booting_image_needs_a_health_grace_period() {
    // Answers 90 s after RUNNING: the ELB has failed it twice by then.
    let slow = Behaviour::SlowStart(Duration::from_secs(90));
    let run = Run::new(world(3));
    run.sim.set_image_behaviour(V2, slow.clone());
    let out = run.deploy(V2).await.unwrap();
    assert_rolled_back(&run, &out, |f| {
        matches!(
            f,
            Failure::HealthChecksFailed {
                unhealthy_for: None,
                ..
            }
        )
    })
    .await;

    let mut run = Run::new(world(3));
    run.timeouts.health_grace = Duration::from_secs(60);
    run.sim.set_image_behaviour(V2, slow);
    let out = run.deploy(V2).await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(run.running_images(), ["cb-prototype:2"; 3]);
}

/// `--timeout` reached at any moment of a step: the step in progress finishes its safe part
/// (draining and stopping are bounded by the ELB's and ECS's own limits), no new step starts,
/// and the deploy rolls back to a consistent fleet (exit 3): never a mixed fleet, an empty
/// instance or a rollback refused because a stopping task still held the host port.
#[tokio::test(start_paused = true)]
async fn a_timeout_at_any_moment_of_a_step_rolls_back_to_a_consistent_fleet() {
    // Step 1 runs 0-125 s (drain 60 s, stop, start, InService); step 2 drains from 125 s.
    for limit in [20, 62, 70, 100, 150, 186, 200] {
        let mut run = Run::new(world(3));
        run.timeouts.total = Some(Duration::from_secs(limit));
        let sampler = run.sim.spawn_sampler(Duration::from_secs(1));
        let out = run.deploy(V2).await.unwrap();
        let samples = sampler.stop();
        assert_eq!(
            out.result,
            RunResult::RolledBack,
            "--timeout {limit}s: {:?} / {:?}",
            out.failure,
            out.rollback_failure
        );
        assert_eq!(out.exit_code(), 3, "--timeout {limit}s");
        assert_eq!(
            run.running_images(),
            ["cb-prototype:1"; 3],
            "--timeout {limit}s"
        );
        assert_eq!(run.registered_in_service(), 3, "--timeout {limit}s");
        assert!(
            samples.min_serving() >= Some(2),
            "--timeout {limit}s: serving dropped to {:?}",
            samples.min_serving()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn an_image_that_cannot_be_pulled_is_rolled_back() {
    let run = Run::new(world(3));
    run.sim.set_image_behaviour(V2, Behaviour::cannot_pull(V2));
    let out = run.deploy(V2).await.unwrap();
    assert_rolled_back(&run, &out, |f| {
        matches!(f, Failure::TaskStopped { task, .. }
            if task.stopped_reason.as_deref().unwrap_or("").contains("CannotPullContainerError")
                || task.containers.iter().any(|c| c.reason.as_deref().unwrap_or("").contains("CannotPullContainerError")))
    })
    .await;
    assert_eq!(
        diagnosis(&out),
        Diagnosis::ImagePull {
            problem: PullProblem::NotFound,
            container: Some("cb-prototype".into()),
            image: Some(V2.into())
        }
    );
}

#[tokio::test(start_paused = true)]
async fn no_rollback_leaves_the_failed_state_and_reports_each_instance() {
    let run = Run::new(world(3));
    run.sim.set_image_behaviour(V2, Behaviour::cannot_pull(V2));
    let out = run
        .deploy_with(
            V2,
            Options {
                rollback_on_failure: false,
                ..opts()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.result, RunResult::Failed);
    assert_eq!(out.exit_code(), 1);
    assert!(out.rollback_steps.is_empty());
    // The first instance was taken out for the new task; the other two still serve v1.
    assert_eq!(run.running_images(), ["cb-prototype:1"; 2]);
    assert_eq!(out.instances.len(), 3);
    assert_eq!(
        out.instances
            .iter()
            .filter(|i| i.health.as_deref() == Some("InService"))
            .count(),
        2
    );
}

#[tokio::test(start_paused = true)]
async fn an_interrupt_finishes_the_step_in_progress_and_a_rerun_resumes() {
    let run = Run::new(world(3));
    let cancel = run.cancel.clone();
    let sampler = run.sim.spawn_sampler(Duration::from_secs(1));
    // Interrupt during the first step.
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        cancel.request();
    });
    let out = run.deploy(V2).await.unwrap();
    assert_eq!(out.result, RunResult::Interrupted);
    assert_eq!(out.exit_code(), 130);
    assert_eq!(out.steps.len(), 1, "only the step in progress is finished");
    assert_eq!(
        run.running_images(),
        ["cb-prototype:1", "cb-prototype:1", "cb-prototype:2"]
    );
    assert_eq!(run.registered_in_service(), 3);

    let again = run.again();
    let out = again.deploy(V2).await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(out.steps.len(), 2, "the switched instance is left alone");
    assert_eq!(
        again.sim.call_count("RegisterTaskDefinition"),
        1,
        "the identical revision is reused"
    );
    assert_eq!(again.running_images(), ["cb-prototype:2"; 3]);
    assert!(sampler.stop().min_serving() >= Some(2));
}

/// A kill -9 at any moment of a deploy (here: its future dropped at 3 s, in the first step's
/// draining, at 40 s and at 100 s, later steps) leaves a lock no longer renewed: a plain
/// rerun waits for it to go stale, takes it over, saying whose it was, and completes.
#[tokio::test(start_paused = true)]
async fn a_rerun_after_a_kill_takes_the_stale_lock_over_and_completes_the_deploy() {
    for killed_at in [3, 40, 100] {
        let run = Run::new(world(3));
        let sampler = run.sim.spawn_sampler(Duration::from_secs(1));
        let first = tokio::time::timeout(Duration::from_secs(killed_at), run.deploy(V2)).await;
        assert!(first.is_err(), "killed at {killed_at} s, before its end");
        assert!(
            !run.tags
                .of(&MemoryTags::cluster_arn_of("cb-prototype"))
                .is_empty(),
            "the killed run's lock stays"
        );
        let again = run.again();
        let started = tokio::time::Instant::now();
        let out = again.deploy(V2).await.unwrap();
        assert_eq!(
            out.result,
            RunResult::Succeeded,
            "killed at {killed_at} s: {:?}",
            out.failure
        );
        assert_eq!(again.running_images(), ["cb-prototype:2"; 3]);
        assert_eq!(again.registered_in_service(), 3);
        let took_over = again.recorder.events().into_iter().find_map(|e| match e {
            Event::Warning(Warning::Lock(LockWarning::TakenOver { holder, why, .. })) => {
                Some((holder, why))
            }
            _ => None,
        });
        assert!(
            matches!(&took_over, Some((h, Staleness::Silent { .. })) if h == "test"),
            "killed at {killed_at} s: {took_over:?}"
        );
        assert!(
            started.elapsed() >= Duration::from_secs(50),
            "waited for it"
        );
        assert!(
            run.tags
                .of(&MemoryTags::cluster_arn_of("cb-prototype"))
                .is_empty(),
            "released"
        );
        assert!(
            sampler.stop().min_serving() >= Some(2),
            "killed at {killed_at} s"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn rollback_returns_to_the_recorded_previous_revision_and_records_the_way_back() {
    let run = Run::new(world(3));
    assert_eq!(run.deploy(V2).await.unwrap().result, RunResult::Succeeded);
    let ecs = run.sim.ecs();
    let v2 = ecs
        .describe_task_definition("cb-prototype:2")
        .await
        .unwrap();
    let previous = ecs
        .describe_task_definition(&v2.tags[TAG_PREVIOUS])
        .await
        .unwrap();
    let sampler = run.sim.spawn_sampler(Duration::from_secs(1));
    let out = deploy::run(
        &run.ctx(),
        Desired::Revision(previous),
        &Options {
            command: "rollback".into(),
            rollback_on_failure: true,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(run.running_images(), ["cb-prototype:1"; 3]);
    assert!(sampler.stop().min_serving() >= Some(2));
    let v1 = ecs
        .describe_task_definition("cb-prototype:1")
        .await
        .unwrap();
    assert!(
        v1.tags[TAG_PREVIOUS].ends_with("cb-prototype:2"),
        "rolling back again returns to v2"
    );
    assert_eq!(run.sim.call_count("RegisterTaskDefinition"), 1);
}

#[tokio::test(start_paused = true)]
async fn deploying_what_already_runs_changes_nothing() {
    let run = Run::new(world(3));
    run.sim.clear_calls();
    let out = run.deploy(V1).await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded);
    assert_eq!(out.plan.unwrap().strategy, Strategy::Nothing);
    assert_eq!(
        run.sim.call_count("RegisterTaskDefinition") + run.sim.call_count("StartTask"),
        0
    );
}

#[tokio::test(start_paused = true)]
async fn a_deploy_completes_under_a_throttling_burst_and_random_faults() {
    let run = Run::new(world(3));
    run.sim.inject(Fault::throttled().next_calls(8));
    run.sim.inject(Fault::unavailable().with_probability(0.2));
    let sampler = run.sim.spawn_sampler(Duration::from_secs(1));
    let out = run.deploy(V2).await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(run.running_images(), ["cb-prototype:2"; 3]);
    assert!(sampler.stop().min_serving() >= Some(2));
}

#[tokio::test(start_paused = true)]
async fn dry_run_plans_and_changes_nothing() {
    let run = Run::new(world(3));
    run.sim.clear_calls();
    let out = run
        .deploy_with(
            V2,
            Options {
                dry_run: true,
                ..opts()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.result, RunResult::Planned);
    assert_eq!(out.plan.unwrap().steps.len(), 3);
    let changing = [
        "RegisterTaskDefinition",
        "TagResource",
        "StartTask",
        "StopTask",
        "RegisterInstancesWithLoadBalancer",
        "DeregisterInstancesFromLoadBalancer",
    ];
    for op in changing {
        assert_eq!(run.sim.call_count(op), 0, "{op}");
    }
    let diff = run.recorder.events().into_iter().find_map(|e| match e {
        Event::Diff {
            from_definition,
            to_definition,
            ..
        } => Some(ecs_roll::render::plain::diff_text(
            &from_definition,
            &to_definition,
        )),
        _ => None,
    });
    assert!(
        diff.unwrap()
            .contains("+      \"image\": \"rafabor/prototype-4-cb:v0.0.2\"")
    );
}

#[tokio::test(start_paused = true)]
async fn a_second_deploy_while_one_runs_fails_fast_naming_the_first() {
    let run = Run::new(world(3));
    let second = run.again();
    let first = async { run.deploy(V2).await };
    let other = async {
        // Starts while the first is rolling.
        tokio::time::sleep(Duration::from_secs(30)).await;
        let mut ctx = second.ctx();
        ctx.actor = "bob@ci".into();
        let td = TaskDefinition::parse(&task_definition(V1).to_string(), "test").unwrap();
        let desired = td.with_image(
            "cb-prototype",
            &ImageRef::parse("rafabor/prototype-4-cb:v0.0.3").unwrap(),
        );
        deploy::run(&ctx, Desired::Definition(desired), &opts()).await
    };
    let (a, b) = tokio::join!(first, other);
    assert_eq!(a.unwrap().result, RunResult::Succeeded);
    let err = b.unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().contains("in progress") && err.to_string().contains("test"),
        "{err}"
    );
    // The family ends on one revision, and the lock is gone.
    assert_eq!(run.running_images(), ["cb-prototype:2"; 3]);
    assert_eq!(run.sim.call_count("RegisterTaskDefinition"), 1);
    assert!(
        run.tags
            .of(&MemoryTags::cluster_arn_of("cb-prototype"))
            .is_empty()
    );
}

/// An instance taken out of the ELB by hand before the deploy (its task still runs): the plan
/// says, before any change, that the deploy registers it again, and it does.
#[tokio::test(start_paused = true)]
async fn an_instance_taken_out_of_the_elb_before_the_deploy_is_named_in_the_plan() {
    let run = Run::new(world(3));
    let out_of_elb = run.sim.instance_ids()[2].clone();
    run.sim
        .elb()
        .deregister_instances(LB, std::slice::from_ref(&out_of_elb))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(61)).await; // its connection draining
    let out = run.deploy(V2).await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    let events = run.recorder.events();
    let said = events.iter().position(|e| {
        matches!(e, Event::Warning(Warning::Plan {
            note: Note::Reregisters { instances },
            ..
        }) if instances == &vec![out_of_elb.clone()])
    });
    let first_change = events
        .iter()
        .position(|e| matches!(e, Event::Action(_)))
        .unwrap();
    assert!(
        said.is_some_and(|i| i < first_change),
        "said before any change: {events:#?}"
    );
    assert_eq!(run.registered_in_service(), 3);
}

fn rollback_opts() -> Options {
    Options {
        command: "rollback".into(),
        rollback_on_failure: true,
        ..Options::default()
    }
}

impl Run {
    /// Instances registered with the load balancer (and not leaving it) with no task running.
    async fn registered_without_task(&self) -> Vec<String> {
        let instances = self
            .sim
            .ecs()
            .container_instances("cb-prototype")
            .await
            .unwrap();
        let tasks = self.sim.tasks();
        let serves = |id: &str| {
            tasks.iter().any(|t| {
                t.is_running()
                    && instances.iter().any(|ci| {
                        ci.ec2_instance_id == id
                            && t.container_instance_arn.as_deref() == Some(&ci.arn)
                    })
            })
        };
        self.sim
            .instance_health(LB)
            .into_iter()
            .filter(|h| !h.is_deregistering() && !serves(&h.instance_id))
            .map(|h| h.instance_id)
            .collect()
    }
}

/// A --no-rollback deploy whose new task crashes leaves that task's instance registered with
/// nothing behind it, and the crashed revision the family's latest, running nowhere.
/// `ecs-roll rollback` (no --to) still finds that revision and returns to the one recorded
/// before it, restores the task count the failed deploy recorded, and leaves no registration
/// without a task.
#[tokio::test(start_paused = true)]
async fn a_rollback_after_a_crash_under_no_rollback_restores_the_recorded_count() {
    let run = Run::new(world(3));
    run.sim
        .set_image_behaviour(V2, Behaviour::CrashAfter(Duration::from_secs(5)));
    let no_rollback = Options {
        rollback_on_failure: false,
        ..opts()
    };
    let out = run.deploy_with(V2, no_rollback).await.unwrap();
    assert_eq!(out.result, RunResult::Failed, "{:?}", out.failure);
    assert_eq!(run.running_images(), ["cb-prototype:1"; 2]);
    let stray = run.registered_without_task().await;
    assert_eq!(
        stray.len(),
        1,
        "the crashed task's instance stays registered"
    );

    let to = rollback::standalone_target(&run.ctx()).await.unwrap();
    assert!(to.ends_with("cb-prototype:1"), "{to}");
    let previous = run.sim.ecs().describe_task_definition(&to).await.unwrap();
    let sampler = run.sim.spawn_sampler(Duration::from_secs(1));
    let out = deploy::run(&run.ctx(), Desired::Revision(previous), &rollback_opts())
        .await
        .unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(run.running_images(), ["cb-prototype:1"; 3]);
    assert_eq!(run.registered_in_service(), 3);
    assert_eq!(run.registered_without_task().await, Vec::<String>::new());
    assert!(sampler.stop().min_serving() >= Some(2));
}

/// Fewer tasks than the registrations: the one without a task is deregistered, not left.
#[tokio::test(start_paused = true)]
async fn a_registration_without_a_task_beyond_the_count_is_deregistered() {
    let run = Run::new(world(3));
    run.sim
        .set_image_behaviour(V2, Behaviour::CrashAfter(Duration::from_secs(5)));
    let no_rollback = Options {
        rollback_on_failure: false,
        ..opts()
    };
    run.deploy_with(V2, no_rollback).await.unwrap();
    let v1 = run
        .sim
        .ecs()
        .describe_task_definition("cb-prototype:1")
        .await
        .unwrap();
    let two = Options {
        count: Some(2),
        ..rollback_opts()
    };
    let out = deploy::run(&run.ctx(), Desired::Revision(v1), &two)
        .await
        .unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(run.running_images(), ["cb-prototype:1"; 2]);
    assert_eq!(run.registered_without_task().await, Vec::<String>::new());
}

/// An instance registered with the load balancer during the rollout, with no task on it:
/// the rollout's own steps went well, but success is not reported while it is registered.
#[tokio::test(start_paused = true)]
async fn no_success_while_an_instance_is_registered_without_a_task() {
    let sim = Sim::builder()
        .cluster("cb-prototype")
        .instances(4)
        .elb(LB, health_check("HTTP:5555/testme"))
        .draining(Duration::from_secs(5))
        .task_definition(task_definition(V1))
        .build();
    let run = Run::new(sim);
    seed_tasks(&run, 3).await;
    let spare = run.sim.instance_ids()[3].clone();
    // DRAINING: no new task goes there, so the plan leaves it alone.
    run.sim.set_instance_status(&spare, "DRAINING");
    let elb = run.sim.elb();
    tokio::spawn(async move {
        // Someone registers the spare instance while ecs-roll rolls out.
        tokio::time::sleep(Duration::from_secs(20)).await;
        elb.register_instances(LB, &[spare]).await.unwrap();
    });
    let out = run.deploy(V2).await.unwrap();
    assert_ne!(out.result, RunResult::Succeeded, "{:?}", out.steps);
    let Some(Failure::VerificationFailed { problems }) = out.failure.as_ref().map(|f| &f.cause)
    else {
        panic!("{:?}", out.failure)
    };
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, Mismatch::RegisteredWithoutTask { .. })),
        "{problems:?}"
    );
}

/// A DRAINING instance takes no new task: the refusal names it, as the capacity problem it
/// is, instead of speaking of downtime.
#[tokio::test(start_paused = true)]
async fn a_refusal_for_a_draining_instance_names_it_as_a_capacity_problem() {
    let run = Run::new(world(2));
    let draining = run.sim.instance_ids()[1].clone();
    run.sim.set_instance_status(&draining, "DRAINING");
    let err = run.deploy(V2).await.unwrap_err();
    assert_eq!(err.exit_code(), 2);
    let said = err.to_string();
    assert!(
        said.contains(&format!("container instance {draining} is DRAINING")),
        "{said}"
    );
    assert!(
        said.contains("capacity") && !said.contains("downtime"),
        "{said}"
    );
    assert!(!err.hint().contains("--allow-downtime"), "{}", err.hint());
    assert_eq!(run.sim.call_count("RegisterTaskDefinition"), 0);
}
