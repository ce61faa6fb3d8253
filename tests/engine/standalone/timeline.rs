//! The job summary draws the deploy: a Mermaid gantt of the phases, steps (planned beside
//! actual) and waits, and the healthy targets per revision over time, from the run's timed
//! events; each chart is checked by Mermaid's own parser.

use super::*;
use ecs_roll::render;

/// The job summary of `out` with the run's timeline.
fn summary(run: &Run, mut out: Outcome) -> String {
    out.timeline = run.recording.timeline();
    render::github::summary_markdown(&out)
}

fn chart<'a>(md: &'a str, kind: &str) -> &'a str {
    let start = md.find(&format!("```mermaid\n{kind}")).expect(kind);
    let rest = &md[start..];
    &rest[..rest[3..].find("```").unwrap() + 3]
}

#[tokio::test(start_paused = true)]
async fn a_rolling_deploy_is_drawn_step_by_step_with_its_plan_and_healthy_targets() {
    let run = Run::new(world(3));
    let out = run.deploy(V2).await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded);
    let md = summary(&run, out);
    let kinds = crate::mermaid::assert_parses("a rolling deploy", &md);
    assert_eq!(kinds, ["gantt", "xychart"]);
    let gantt = chart(&md, "gantt");
    assert_eq!(gantt.matches(":done, s").count(), 3, "{gantt}");
    assert_eq!(gantt.matches(" planned ").count(), 3, "{gantt}");
    assert!(!gantt.contains("crit"), "{gantt}");
    // 3 old serving at first, 3 new at the end, never fewer than 2 in all.
    assert!(
        md.contains("| At | cb-prototype:1 | cb-prototype:2 |"),
        "{md}"
    );
    let rows: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| ") && l.ends_with(" |"))
        .collect();
    assert!(rows.iter().any(|r| r.ends_with("| 3 | 0 |")), "{md}");
    assert!(
        rows.last().is_some_and(|r| r.ends_with("| 0 | 3 |")),
        "{md}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_blue_green_deploy_is_drawn() {
    let sim = Sim::builder()
        .cluster("cb-prototype")
        .instances(6)
        .elb(LB, health_check("HTTP:5555/testme"))
        .draining(Duration::from_secs(30))
        .task_definition(task_definition(V1))
        .build();
    let run = Run::new(sim);
    seed_tasks(&run, 3).await;
    let out = run.deploy(V2).await.unwrap();
    assert_eq!(out.plan.as_ref().unwrap().strategy, Strategy::BlueGreen);
    let md = summary(&run, out);
    assert_eq!(
        crate::mermaid::assert_parses("a blue/green deploy", &md),
        ["gantt", "xychart"]
    );
    // Blue/green: the three new targets serve beside the three old ones for a while.
    assert!(md.lines().any(|l| l.ends_with("| 3 | 3 |")), "{md}");
}

#[tokio::test(start_paused = true)]
async fn a_rolled_back_deploy_marks_the_failed_step_and_the_rollback() {
    let run = Run::new(world(3));
    run.sim
        .set_image_behaviour(V2, Behaviour::CrashAfter(Duration::from_secs(20)));
    let out = run.deploy(V2).await.unwrap();
    assert_eq!(out.result, RunResult::RolledBack);
    let md = summary(&run, out);
    crate::mermaid::assert_parses("a rolled-back deploy", &md);
    let gantt = chart(&md, "gantt");
    assert!(gantt.contains("FAILED :crit, s0"), "{gantt}");
    assert!(gantt.contains("Rollback :crit"), "{gantt}");
    assert!(gantt.contains("rolled-back"), "{gantt}");
}
