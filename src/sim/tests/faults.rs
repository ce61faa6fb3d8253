use super::*;
use crate::platform::{ApiErrorKind, ApiResult};
use crate::sim::{ApiCall, Fault};

async fn describe_n(sim: &Sim, n: usize) -> Vec<ApiResult<Vec<Task>>> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(sim.ecs().describe_tasks(CLUSTER, &[]).await);
    }
    out
}

fn pattern(results: &[ApiResult<Vec<Task>>]) -> String {
    results
        .iter()
        .map(|r| if r.is_ok() { '.' } else { 'x' })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_next_calls_of_one_operation_are_throttled_then_it_recovers() {
    let sim = origin();
    sim.inject(Fault::throttled().on("DescribeTasks").next_calls(3));
    advance(secs(2)).await;

    assert!(
        sim.ecs().cluster_is_active(CLUSTER).await.is_ok(),
        "other operations are not affected"
    );
    let results = describe_n(&sim, 4).await;
    assert_eq!(pattern(&results), "xxx.");
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(
        (err.kind, err.operation),
        (ApiErrorKind::Throttled, "DescribeTasks")
    );
    assert!(err.is_transient());

    let log = sim.calls();
    assert_eq!(
        log[..2],
        [
            ApiCall {
                at: secs(2),
                operation: "DescribeClusters",
                error: None
            },
            ApiCall {
                at: secs(2),
                operation: "DescribeTasks",
                error: Some(ApiErrorKind::Throttled)
            },
        ]
    );
    assert_eq!(sim.call_count("DescribeTasks"), 4);
}

#[tokio::test(start_paused = true)]
async fn probabilistic_faults_repeat_exactly_for_a_seed() {
    async fn run(seed: u64) -> String {
        let sim = Sim::builder().seed(seed).instances(1).build();
        sim.inject(Fault::unavailable().with_probability(0.3));
        pattern(&describe_n(&sim, 200).await)
    }
    let (a, b, c) = (run(7).await, run(7).await, run(8).await);
    assert_eq!(a, b);
    assert_ne!(a, c);
    let failures = a.chars().filter(|c| *c == 'x').count();
    assert!(
        (40..=80).contains(&failures),
        "{failures} of 200 at p = 0.3"
    );
}

#[tokio::test(start_paused = true)]
async fn a_token_bucket_allows_a_burst_then_the_sustained_rate() {
    let sim = origin();
    sim.inject(
        Fault::throttled()
            .on("RegisterTaskDefinition")
            .rate_limit(20, 1.0),
    );
    let mut results = Vec::new();
    for _ in 0..21 {
        results.push(
            sim.ecs()
                .register_task_definition(&app("app:v2"), &Default::default())
                .await
                .is_ok(),
        );
    }
    assert_eq!(results.iter().filter(|ok| **ok).count(), 20);
    assert!(!results[20]);
    advance(secs(1)).await;
    assert!(
        sim.ecs()
            .register_task_definition(&app("app:v2"), &Default::default())
            .await
            .is_ok()
    );
    assert!(
        sim.ecs()
            .register_task_definition(&app("app:v2"), &Default::default())
            .await
            .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn a_fault_window_opens_and_closes_in_virtual_time() {
    let sim = origin();
    sim.inject(Fault::unavailable().after(secs(10)).lasting(secs(5)));
    let mut seen = String::new();
    for _ in 0..20 {
        seen.push_str(&pattern(&describe_n(&sim, 1).await));
        advance(secs(1)).await;
    }
    assert_eq!(seen, "..........xxxxx.....");
    sim.inject(Fault::throttled());
    assert!(describe_n(&sim, 1).await[0].is_err());
    sim.clear_faults();
    assert!(describe_n(&sim, 1).await[0].is_ok());
}

#[tokio::test(start_paused = true)]
async fn calls_take_the_configured_latency_in_virtual_time() {
    let timings = crate::sim::Timings {
        api_latency: std::time::Duration::from_millis(150),
        ..Default::default()
    };
    let sim = Sim::builder().timings(timings).instances(1).build();
    sim.ecs().cluster_is_active(CLUSTER).await.unwrap();
    sim.ecs().cluster_is_active(CLUSTER).await.unwrap();
    let at: Vec<_> = sim.calls().iter().map(|c| c.at.as_millis()).collect();
    assert_eq!(at, [150, 300]);
}
