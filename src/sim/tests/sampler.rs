//! Whole rollouts done by hand through the traits, as the engine would, with the sampler
//! watching: the origin's stop-everything script goes dark; one instance at a time does not.

use std::time::Duration;

use super::*;
use crate::platform::HealthState;

/// Polls `until` every second of virtual time.
async fn wait_for(sim: &Sim, mut until: impl AsyncFnMut(&Sim) -> bool) {
    for _ in 0..600 {
        if until(sim).await {
            return;
        }
        advance(secs(1)).await;
    }
    panic!("timed out at {:?}", sim.elapsed());
}

#[tokio::test(start_paused = true)]
async fn the_origin_script_stops_everything_and_the_app_goes_dark() {
    let sim = origin();
    let sampler = sim.spawn_sampler(secs(1));
    let v2 = register(&sim, app("app:v2")).await;
    for task in sim
        .ecs()
        .family_tasks(CLUSTER, "cb-prototype")
        .await
        .unwrap()
    {
        sim.ecs()
            .stop_task(CLUSTER, &task.arn, "deployment.sh")
            .await
            .unwrap();
    }
    advance(secs(5)).await;
    for instance in instances(&sim).await {
        sim.ecs()
            .start_task(CLUSTER, &v2, &instance.arn, "deployment.sh")
            .await
            .unwrap();
    }
    wait_for(&sim, async |s| s.serving_count() == 3).await;
    advance(secs(1)).await;

    let report = sampler.stop();
    assert_eq!(report.min_serving(), Some(0));
    assert_eq!(report.outages().len(), 14, "dark from 1 s to 14 s");
    assert_eq!(sim.interruptions().len(), 3);
    // New tasks RUNNING at 15 s pass the check due then: 2 failed checks were not enough
    // (threshold 3) to take the instances out, so the ELB sent requests to nothing meanwhile.
    assert_eq!(
        report.timeline(),
        vec![(secs(0), 3), (secs(1), 0), (secs(15), 3)]
    );
}

#[tokio::test(start_paused = true)]
async fn one_instance_at_a_time_keeps_two_of_three_serving() {
    let sim = origin();
    let sampler = sim.spawn_sampler(secs(1));
    let v2 = register(&sim, app("app:v2")).await;
    let (ecs, elb) = (sim.ecs(), sim.elb());
    for old in ecs.family_tasks(CLUSTER, "cb-prototype").await.unwrap() {
        let instance = old.container_instance_arn.clone().unwrap();
        let id = instances(&sim)
            .await
            .into_iter()
            .find(|i| i.arn == instance)
            .unwrap()
            .ec2_instance_id;
        elb.deregister_instances(ELB, std::slice::from_ref(&id))
            .await
            .unwrap();
        wait_for(&sim, async |s| {
            health(s).await.iter().all(|h| h.instance_id != id)
        })
        .await;
        ecs.stop_task(CLUSTER, &old.arn, "replaced by cb-prototype:2")
            .await
            .unwrap();
        let new = loop {
            match ecs.start_task(CLUSTER, &v2, &instance, "ecs-roll").await {
                Ok(task) => break task,
                Err(e) if e.message.starts_with("RESOURCE:PORTS") => advance(secs(1)).await,
                Err(e) => panic!("{e}"),
            }
        };
        wait_for(&sim, async |s| describe(s, &new).await.is_running()).await;
        elb.register_instances(ELB, std::slice::from_ref(&id))
            .await
            .unwrap();
        wait_for(&sim, async |s| {
            health(s)
                .await
                .iter()
                .any(|h| h.instance_id == id && h.state == HealthState::InService)
        })
        .await;
    }

    let report = sampler.stop();
    assert_eq!(report.min_serving(), Some(2));
    assert!(report.outages().is_empty());
    assert!(sim.interruptions().is_empty());
    assert_eq!(sim.serving_count(), 3);
    // Per instance: 60 s draining, 5 s stop, 10 s start, 10 s to pass two checks.
    assert!(
        sim.elapsed() >= Duration::from_secs(3 * 85),
        "{:?}",
        sim.elapsed()
    );
    assert!(
        sim.elapsed() <= Duration::from_secs(3 * 95),
        "{:?}",
        sim.elapsed()
    );
}
