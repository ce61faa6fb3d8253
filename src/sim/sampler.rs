//! Serving capacity over a run: a background task samples, every period of virtual time, how
//! many instances are InService (or how many of a service's tasks are healthy in its load
//! balancers) and how many of those really answer, so a scenario can assert that the app never
//! went dark.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::Sim;
use super::scheduler::endpoint;
use super::service::LoadBalancerRef;
use super::target_group::TargetType;
use super::world::World;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacitySample {
    /// Virtual time since the simulation was built.
    pub at: Duration,
    /// Instances InService on a load balancer; for a service sampler, the service's tasks
    /// healthy in every one of its load balancers (RUNNING, when it has none).
    pub in_service: usize,
    /// Of those, the ones whose task answers there right now.
    pub serving: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapacityReport {
    pub samples: Vec<CapacitySample>,
}

impl CapacityReport {
    /// The lowest serving count seen; `None` before the first sample.
    pub fn min_serving(&self) -> Option<usize> {
        self.samples.iter().map(|s| s.serving).min()
    }

    pub fn max_serving(&self) -> Option<usize> {
        self.samples.iter().map(|s| s.serving).max()
    }

    /// When nothing served the app.
    pub fn outages(&self) -> Vec<Duration> {
        self.samples
            .iter()
            .filter(|s| s.serving == 0)
            .map(|s| s.at)
            .collect()
    }

    /// The serving count each time it changed, starting with the first sample.
    pub fn timeline(&self) -> Vec<(Duration, usize)> {
        let mut out: Vec<(Duration, usize)> = Vec::new();
        for s in &self.samples {
            if out.last().is_none_or(|(_, n)| *n != s.serving) {
                out.push((s.at, s.serving));
            }
        }
        out
    }
}

/// A running sampler; sampling stops when it is stopped or dropped.
#[derive(Debug)]
pub struct Sampler {
    samples: Arc<Mutex<Vec<CapacitySample>>>,
    task: JoinHandle<()>,
}

impl Sampler {
    pub(crate) fn spawn(
        sim: Sim,
        period: Duration,
        sample: impl Fn(&Sim) -> CapacitySample + Send + 'static,
    ) -> Sampler {
        let samples = Arc::new(Mutex::new(vec![sample(&sim)]));
        let sink = Arc::clone(&samples);
        let period = period.max(Duration::from_millis(1));
        let task = tokio::spawn(async move {
            let mut next = Instant::now();
            loop {
                next += period;
                tokio::time::sleep_until(next).await;
                let sample = sample(&sim);
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(sample);
            }
        });
        Sampler { samples, task }
    }

    /// What was sampled so far; sampling goes on.
    pub fn report(&self) -> CapacityReport {
        CapacityReport {
            samples: self
                .samples
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    /// Stops sampling and returns everything sampled.
    pub fn stop(self) -> CapacityReport {
        self.task.abort();
        self.report()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl World {
    /// The service's tasks healthy in all its load balancers, and of those the ones that
    /// answer where the load balancers send requests, at `t`.
    pub(crate) fn service_capacity(
        &self,
        cluster: &str,
        service: &str,
        t: Instant,
    ) -> (usize, usize) {
        let Some(svc) = self
            .services
            .get(&(cluster.to_string(), service.to_string()))
        else {
            return (0, 0);
        };
        let healthy: Vec<_> = svc
            .tasks
            .iter()
            .map(|st| &self.tasks[st.index])
            .filter(|task| self.is_healthy(svc, task, t))
            .collect();
        let serving = healthy
            .iter()
            .filter(|task| {
                task.answers(t)
                    && svc.load_balancers.iter().all(|a| {
                        let Some((_, port)) = endpoint(self, a, task) else {
                            return false;
                        };
                        match &a.load_balancer {
                            LoadBalancerRef::TargetGroup(arn) => {
                                match self.target_groups[arn].spec.target_type {
                                    TargetType::Instance => task.serves(port, t),
                                    TargetType::Ip => task.serves_at_address(port, t),
                                }
                            }
                            LoadBalancerRef::Classic(name) => self.load_balancers[name]
                                .health_port()
                                .is_some_and(|p| task.serves(p, t)),
                        }
                    })
            })
            .count();
        (healthy.len(), serving)
    }
}
