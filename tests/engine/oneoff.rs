//! One-off tasks on the simulated platform, under tokio's paused clock: a command that exits
//! 0 (its log followed in order, each line once), exits 1, is OOM-killed, never starts (the
//! image cannot be pulled), runs past --run-timeout, is interrupted or left running; on the
//! reference setup (every instance takes host port 5555) it runs a variant without port
//! mappings, reused the next time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecs_roll::engine::events::Recorder;
use ecs_roll::engine::oneoff::variant::{self, TAG_ONE_OFF};
use ecs_roll::engine::oneoff::{
    self, End, LogSource, LogWhere, OneOffCtx, OneOffError, OneOffEvent, Report, Spec, Stop, Why,
};
use ecs_roll::engine::wait::Poll;
use ecs_roll::engine::{Cancel, Ctx, Timeouts};
use ecs_roll::platform::{ContainerOverride, RunTaskRequest, TaskStatus};
use ecs_roll::sim::{Behaviour, Command, MemoryTags, Sim};
use serde_json::json;

const APP: &str = "cb-prototype";
const IMAGE: &str = "rafabor/prototype-4-cb:v0.0.2";

fn task_definition(image: &str) -> serde_json::Value {
    json!({
        "family": APP,
        "containerDefinitions": [{
            "name": APP, "image": image, "cpu": 256, "memory": 256, "essential": true,
            "portMappings": [{ "containerPort": 5555, "hostPort": 5555, "protocol": "tcp" }],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/cb-prototype", "awslogs-region": "eu-west-1",
                "awslogs-stream-prefix": "ecs"}}
        }, {
            "name": "metrics", "image": "metrics:1", "cpu": 16, "memory": 32, "essential": false
        }]
    })
}

/// The reference setup: two instances, each running the app on host port 5555.
fn world() -> Sim {
    Sim::builder()
        .cluster(APP)
        .instances(2)
        .task_definition(task_definition(IMAGE))
        .tasks_on_each_instance()
        .build()
}

struct Run {
    sim: Sim,
    cancel: Cancel,
    events: Arc<Mutex<Vec<OneOffEvent>>>,
}

impl Run {
    fn new(sim: Sim) -> Run {
        Run {
            sim,
            cancel: Cancel::default(),
            events: Arc::default(),
        }
    }

    fn ctx(&self) -> Ctx {
        Ctx {
            ecs: self.sim.ecs(),
            tags: Arc::new(MemoryTags::default()),
            elb: self.sim.elb(),
            alarms: self.sim.alarms(),
            cluster: APP.into(),
            family: APP.into(),
            observer: Arc::new(Recorder::default()),
            poll: Poll::default(),
            timeouts: Timeouts::default(),
            cancel: self.cancel.clone(),
            actor: "test".into(),
            lock_heartbeat: ecs_roll::engine::lock::HEARTBEAT,
            gate: None,
        }
    }

    /// The spec `ecs-roll run --command LINE` makes for the running revision: its one-off
    /// variant, the app container's command overridden, its awslogs stream followed.
    async fn spec(&self, line: &str, timeout: Duration) -> Spec {
        let ecs = self.sim.ecs();
        let revision = ecs.describe_task_definition(APP).await.unwrap();
        let (run_as, _) = variant::variant(ecs.as_ref(), &revision).await.unwrap();
        Spec {
            request: RunTaskRequest {
                cluster: APP.into(),
                task_definition: run_as.arn.clone(),
                started_by: "ecs-roll/run".into(),
                launch_type: Some("EC2".into()),
                overrides: vec![ContainerOverride {
                    name: APP.into(),
                    command: Some(line.split(' ').map(String::from).collect()),
                    environment: vec![("STAGE".into(), "migrate".into())],
                }],
                ..Default::default()
            },
            revision: revision.name(),
            essential: oneoff::essential_containers(&revision.body),
            log: LogWhere::Awslogs(LogSource::of(&revision.body, APP).unwrap()),
            timeout,
            leave_running: false,
        }
    }

    async fn run(&self, spec: &Spec) -> Result<Report, OneOffError> {
        let ctx = self.ctx();
        let (tasks, logs) = (self.sim.one_offs(), self.sim.logs());
        let o = OneOffCtx {
            ctx: &ctx,
            tasks: tasks.as_ref(),
            logs: logs.as_ref(),
        };
        let events = self.events.clone();
        let emit = move |e: &OneOffEvent| events.lock().unwrap().push(e.clone());
        oneoff::run(&o, spec, &emit).await
    }

    fn log_lines(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                OneOffEvent::Log { message } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    fn app_tasks_running(&self) -> usize {
        self.sim
            .tasks()
            .iter()
            .filter(|t| t.is_running() && t.task_definition_arn.ends_with(&format!("/{APP}:1")))
            .count()
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[tokio::test(start_paused = true)]
async fn a_command_that_exits_0_succeeds_with_its_log_in_order_and_each_line_once() {
    let run = Run::new(world());
    let lines = [
        (secs(1), "migrating"),
        (secs(4), "step 1"),
        (secs(9), "done"),
    ];
    run.sim
        .set_command("./migrate up", Command::exits(secs(10), 0).logging(&lines));
    let spec = run.spec("./migrate up", secs(1800)).await;
    let report = run.run(&spec).await.unwrap();
    assert_eq!(report.end, End::Succeeded);
    assert!(report.succeeded());
    assert_eq!(run.log_lines(), vec!["migrating", "step 1", "done"]);
    assert_eq!(report.last_log_lines, vec!["migrating", "step 1", "done"]);
    assert_eq!(
        report.exit_codes,
        vec![(APP.to_string(), Some(0)), ("metrics".to_string(), Some(0))]
    );
    // Placed beside the app's own tasks, which kept running.
    assert_eq!(run.app_tasks_running(), 2);
    let statuses: Vec<TaskStatus> = run
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            OneOffEvent::Status { status } => Some(status.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            TaskStatus::Pending,
            TaskStatus::Running,
            TaskStatus::Stopped
        ]
    );
    // 10 s to start, 10 s of command, seen within a poll.
    assert!(
        report.duration >= secs(20) && report.duration < secs(28),
        "{:?}",
        report.duration
    );
    let sent = &run.sim.run_task_requests()[0];
    assert_eq!(
        sent.overrides[0].command.as_deref().unwrap(),
        ["./migrate", "up"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_command_that_exits_1_fails_naming_the_container_and_its_exit_code() {
    let run = Run::new(world());
    run.sim
        .set_command("./migrate up", Command::exits(secs(3), 1));
    let spec = run.spec("./migrate up", secs(1800)).await;
    let report = run.run(&spec).await.unwrap();
    let End::Failed { containers } = &report.end else {
        panic!("{:?}", report.end);
    };
    assert_eq!(containers.len(), 1, "{containers:?}");
    assert_eq!(containers[0].name, APP);
    assert_eq!(containers[0].exit_code, Some(1));
    assert_eq!(containers[0].why, Why::ExitedNonZero);
    let stopped = report.stopped.unwrap();
    assert_eq!(
        stopped.stop_code.as_deref(),
        Some("EssentialContainerExited")
    );
}

#[tokio::test(start_paused = true)]
async fn an_oom_killed_command_fails_as_out_of_memory_with_exit_137() {
    let run = Run::new(world());
    run.sim
        .set_command("./migrate up", Command::out_of_memory(secs(5)));
    let spec = run.spec("./migrate up", secs(1800)).await;
    let report = run.run(&spec).await.unwrap();
    let End::Failed { containers } = &report.end else {
        panic!("{:?}", report.end);
    };
    assert_eq!(containers[0].exit_code, Some(137));
    assert_eq!(containers[0].why, Why::OutOfMemory);
    assert!(
        containers[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("OutOfMemoryError"),
        "{containers:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_task_whose_image_cannot_be_pulled_fails_without_an_exit_code() {
    let sim = world();
    sim.set_image_behaviour(IMAGE, Behaviour::cannot_pull(IMAGE));
    let run = Run::new(sim);
    let spec = run.spec("./migrate up", secs(1800)).await;
    let report = run.run(&spec).await.unwrap();
    let End::Failed { containers } = &report.end else {
        panic!("{:?}", report.end);
    };
    assert_eq!(containers[0].exit_code, None);
    assert_eq!(containers[0].why, Why::NoExitCode);
    assert!(
        containers[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("CannotPullContainerError"),
        "{containers:?}"
    );
    assert_eq!(
        report.stopped.unwrap().stop_code.as_deref(),
        Some("TaskFailedToStart")
    );
}

#[tokio::test(start_paused = true)]
async fn a_command_past_the_run_timeout_is_stopped_with_a_reason_naming_ecs_roll() {
    let run = Run::new(world());
    run.sim
        .set_command("sleep forever", Command::runs_forever());
    let spec = run.spec("sleep forever", secs(60)).await;
    let report = run.run(&spec).await.unwrap();
    let why = Stop::TimedOut { limit: secs(60) };
    assert_eq!(report.end, End::Stopped { why, stopped: true });
    let stopped = report.stopped.clone().expect("seen STOPPED");
    assert_eq!(
        stopped.stopped_reason.as_deref(),
        Some("ecs-roll: the one-off task ran past --run-timeout 1m")
    );
    assert!(
        report.duration >= secs(60) && report.duration < secs(80),
        "{:?}",
        report.duration
    );
    assert!(!report.succeeded());
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_one_off_is_stopped_unless_left_running() {
    for leave_running in [false, true] {
        let run = Run::new(world());
        run.sim
            .set_command("sleep forever", Command::runs_forever());
        let mut spec = run.spec("sleep forever", secs(1800)).await;
        spec.leave_running = leave_running;
        let cancel = run.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(secs(30)).await;
            cancel.request();
        });
        let report = run.run(&spec).await.unwrap();
        let end = End::Stopped {
            why: Stop::Interrupted,
            stopped: !leave_running,
        };
        assert_eq!(report.end, end, "leave running: {leave_running}");
        // Told within a second of the interrupt, however long the poll interval had grown.
        let task = run
            .sim
            .tasks()
            .into_iter()
            .find(|t| t.arn == report.task_arn)
            .unwrap();
        assert_eq!(task.is_running(), leave_running);
        if !leave_running {
            assert_eq!(
                task.stopped_reason.as_deref(),
                Some("ecs-roll: interrupted (Ctrl-C/SIGTERM)")
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_one_off_variant_has_no_port_mappings_its_own_family_and_is_reused() {
    let sim = world();
    let ecs = sim.ecs();
    let revision = ecs.describe_task_definition(APP).await.unwrap();
    assert!(variant::needs_variant(&revision));
    let (first, reused) = variant::variant(ecs.as_ref(), &revision).await.unwrap();
    assert!(!reused);
    assert_eq!(first.family, "cb-prototype-one-off");
    assert_eq!(first.tags.get(TAG_ONE_OFF), Some(&revision.arn));
    assert!(
        first.body["containerDefinitions"][0]
            .get("portMappings")
            .is_none()
    );
    let (again, reused) = variant::variant(ecs.as_ref(), &revision).await.unwrap();
    assert!(reused);
    assert_eq!(again.arn, first.arn);
    // The app's family is untouched: its latest is still what runs.
    assert_eq!(
        ecs.describe_task_definition(APP).await.unwrap().arn,
        revision.arn
    );
}

#[tokio::test(start_paused = true)]
async fn a_task_ecs_cannot_place_is_not_started() {
    let run = Run::new(world());
    let mut spec = run.spec("./migrate up", secs(1800)).await;
    // The revision itself, with its static host port taken on every instance.
    spec.request.task_definition = format!("{APP}:1");
    let err = run.run(&spec).await.unwrap_err();
    assert!(matches!(err, OneOffError::NotStarted(_)), "{err:?}");
    assert_eq!(run.sim.tasks().len(), 2);
}
