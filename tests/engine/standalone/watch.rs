//! `status --watch` on the simulated platform: the status read at chosen instants of a
//! deploy, rendered as the frames the watch draws, compared with the frames expected; and
//! `--until-stable`'s judgement at each of them.

use super::*;
use ecs_roll::aws::ApiCalls;
use ecs_roll::cli::OutputFormat;
use ecs_roll::commands::{Aws, status};
use ecs_roll::settings::{Mode, Settings, Target};
use ecs_roll::sim::MemoryRegistries;

fn aws(run: &Run) -> Aws {
    Aws {
        ecs: run.sim.ecs(),
        tags: Arc::new(run.tags.clone()),
        elb: run.sim.elb(),
        services: run.sim.services(),
        target_groups: run.sim.target_groups(),
        one_offs: run.sim.one_offs(),
        logs: run.sim.logs(),
        registries: Arc::new(MemoryRegistries::default()),
        alarms: run.sim.alarms(),
        calls: ApiCalls::new(),
    }
}

fn settings() -> Settings {
    Settings {
        cluster: "cb-prototype".into(),
        family: "cb-prototype".into(),
        target: Target::Standalone {
            load_balancer: LB.into(),
        },
        profile: None,
        region: None,
        output: OutputFormat::Text,
        mode: Mode::Plain,
        poll: Poll::default(),
        lock_heartbeat: ecs_roll::engine::lock::HEARTBEAT,
        task_definition: None,
        container: Some("cb-prototype".into()),
        config: Default::default(),
    }
}

/// A frame without what differs from run to run (when and by whom a revision was deployed).
fn frame(text: &str) -> String {
    text.lines()
        .map(|l| match l.find(", deployed ") {
            Some(i) => format!("{}; {}", &l[..i], l.rsplit("; ").next().unwrap_or("")),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const HEAD: &str = "cluster cb-prototype · family cb-prototype · load balancer cb-prototype-elb
health check HTTP:5555/testme every 30s, healthy after 2 · connection draining 60s";
const TABLE: &str = "INSTANCE             ZONE        REVISION        TASK     LOAD BALANCER";

/// The frame the watch draws: the head, the revisions running, the instances.
fn expected(running: &[&str], instances: [&str; 3]) -> String {
    let rows: Vec<String> = instances
        .iter()
        .zip(["1  us-east-1a", "2  us-east-1b", "3  us-east-1c"])
        .map(|(state, host)| format!("i-0000000000000000{host}  {state}"))
        .collect();
    format!(
        "{HEAD}\n{}\n{TABLE}\n{}",
        running.join("\n"),
        rows.join("\n")
    )
}

const V1_ON: &str = "running cb-prototype:1 (rafabor/prototype-4-cb:v0.0.1) on";
const V2_ON: &str = "running cb-prototype:2 (rafabor/prototype-4-cb:v0.0.2) on";

#[tokio::test(start_paused = true)]
async fn the_watch_draws_each_moment_of_a_rolling_deploy() {
    let run = Run::new(world(3));
    let (aws, s) = (aws(&run), settings());
    let start = tokio::time::Instant::now();
    let look = || async {
        let snap = status::snapshot(&s, &aws).await.unwrap();
        (frame(&snap.text()), snap.stable())
    };
    let frames = async {
        let mut out = Vec::new();
        for at in [0, 10, 70, 200] {
            tokio::time::sleep_until(start + Duration::from_secs(at)).await;
            out.push(look().await);
        }
        out
    };
    let (out, mut frames) = tokio::join!(run.deploy(V2), frames);
    assert_eq!(out.unwrap().result, RunResult::Succeeded);
    frames.push(look().await);

    let v1 = format!("{V1_ON} 3 task(s); rollback target: none recorded");
    let old = |n: usize| format!("{V1_ON} {n} task(s); rollback target: none recorded");
    let new = |n: usize| format!("{V2_ON} {n} task(s); rollback target: cb-prototype:1");
    let want = [
        // Before the first change: stable.
        (
            expected(
                &[&v1],
                [
                    "cb-prototype:1  RUNNING  InService",
                    "cb-prototype:1  RUNNING  InService",
                    "cb-prototype:1  RUNNING  InService",
                ],
            ),
            true,
        ),
        // The first instance drains.
        (
            expected(
                &[&v1],
                [
                    "cb-prototype:1  RUNNING  Draining",
                    "cb-prototype:1  RUNNING  InService",
                    "cb-prototype:1  RUNNING  InService",
                ],
            ),
            false,
        ),
        // Its new task starts.
        (
            expected(
                &[&old(2)],
                [
                    "cb-prototype:2  PENDING  OutOfService",
                    "cb-prototype:1  RUNNING  InService",
                    "cb-prototype:1  RUNNING  InService",
                ],
            ),
            false,
        ),
        // One new, one old serving, the second instance's new task starting.
        (
            expected(
                &[&new(1), &old(1)],
                [
                    "cb-prototype:2  RUNNING  InService",
                    "cb-prototype:2  PENDING  OutOfService",
                    "cb-prototype:1  RUNNING  InService",
                ],
            ),
            false,
        ),
        // Done: stable again, --until-stable ends here.
        (
            expected(
                &[&new(3)],
                [
                    "cb-prototype:2  RUNNING  InService",
                    "cb-prototype:2  RUNNING  InService",
                    "cb-prototype:2  RUNNING  InService",
                ],
            ),
            true,
        ),
    ];
    for (i, ((got, stable), (frame, want_stable))) in frames.iter().zip(&want).enumerate() {
        assert_eq!(got, frame, "frame {i}");
        assert_eq!(stable, want_stable, "frame {i} stable");
    }
    // In a terminal the second frame replaces the first in place: up 7 lines, cleared.
    let lines = |f: &str| f.lines().map(String::from).collect::<Vec<_>>();
    let drawn = ecs_roll::render::watch::redraw(&lines(&want[0].0), &lines(&want[1].0), true, "");
    assert!(drawn.starts_with("\x1b[7A\x1b[J"), "{drawn:?}");
    // In a log only the line that changed.
    let logged =
        ecs_roll::render::watch::redraw(&lines(&want[0].0), &lines(&want[1].0), false, "t");
    assert_eq!(
        logged,
        "[t] i-00000000000000001  us-east-1a  cb-prototype:1  RUNNING  Draining\n"
    );
}
