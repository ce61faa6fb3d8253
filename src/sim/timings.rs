//! How long things take in the simulated world. Every delay is a parameter; the defaults are
//! what an EC2-backed ECS cluster with a cached image and a quick app typically shows.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timings {
    /// PENDING to RUNNING after StartTask (or the service scheduler's start on EC2): image
    /// pull and container start.
    pub task_start: Duration,
    /// The same on Fargate, which also provisions the capacity and attaches an interface.
    pub fargate_task_start: Duration,
    /// STOPPING to STOPPED after StopTask: the app's graceful shutdown after SIGTERM.
    pub task_stop: Duration,
    /// How long the connections in flight on a deregistered instance take to finish. The
    /// load balancer's connection draining timeout caps it; `None` waits the whole timeout
    /// (clients on keep-alive connections, the pessimistic case).
    pub in_flight_drain: Option<Duration>,
    /// Virtual time every API call takes before it acts.
    pub api_latency: Duration,
    /// Whether a deregistered target that never served (initial or unhealthy) still shows
    /// `draining` for the whole deregistration delay, as ELB displays every deregistering
    /// target ("the status of the target is displayed as draining until the deregistration
    /// delay timeout expires", ELB user guide). Off: it leaves the group at once, which
    /// most tests assume because it keeps their timelines short.
    pub unserved_targets_show_draining: bool,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            task_start: Duration::from_secs(10),
            fargate_task_start: Duration::from_secs(30),
            task_stop: Duration::from_secs(5),
            in_flight_drain: None,
            api_latency: Duration::ZERO,
            unserved_targets_show_draining: false,
        }
    }
}

impl Timings {
    /// How long a deregistered instance stays "deregistration in progress" on a load balancer
    /// whose draining timeout is `timeout`.
    pub(crate) fn drain_time(&self, timeout: Duration) -> Duration {
        self.in_flight_drain.map_or(timeout, |d| d.min(timeout))
    }
}
