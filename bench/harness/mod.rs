//! Support of the benchmark harness (`examples/bench.rs`): virtual-time stamps of the
//! engine's events, and a log of the tag calls (the deploy lock) that the simulation does not
//! log itself.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ecs_roll::engine::events::{Event, Observer};
use ecs_roll::platform::{ApiResult, ResourceTags};
use ecs_roll::sim::{MemoryTags, Sim};

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Every engine event with the virtual time (s since the simulation was built) it came at.
pub struct Stamps {
    sim: Sim,
    events: Mutex<Vec<(f64, Event)>>,
}

impl Stamps {
    pub fn new(sim: Sim) -> Stamps {
        Stamps {
            sim,
            events: Mutex::new(Vec::new()),
        }
    }

    pub fn events(&self) -> Vec<(f64, Event)> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Observer for Stamps {
    fn event(&self, event: &Event) {
        let at = secs(self.sim.elapsed());
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((at, event.clone()));
    }
}

/// Calls made outside the simulation's own log, with their virtual time.
#[derive(Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<(f64, String)>>>);

impl CallLog {
    pub fn push(&self, at: f64, op: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((at, op.to_string()));
    }

    pub fn calls(&self) -> Vec<(f64, String)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// `MemoryTags` whose calls are logged under the ECS operation names the AWS adapter uses.
pub struct LoggedTags {
    inner: MemoryTags,
    sim: Sim,
    log: CallLog,
}

impl LoggedTags {
    pub fn new(inner: MemoryTags, sim: Sim, log: CallLog) -> LoggedTags {
        LoggedTags { inner, sim, log }
    }

    fn note(&self, op: &str) {
        self.log.push(secs(self.sim.elapsed()), op);
    }
}

#[async_trait]
impl ResourceTags for LoggedTags {
    async fn cluster_arn(&self, cluster: &str) -> ApiResult<Option<String>> {
        self.note("DescribeClusters");
        self.inner.cluster_arn(cluster).await
    }
    async fn resource_tags(&self, arn: &str) -> ApiResult<BTreeMap<String, String>> {
        self.note("ListTagsForResource");
        self.inner.resource_tags(arn).await
    }
    async fn tag_resource(&self, arn: &str, tags: &BTreeMap<String, String>) -> ApiResult<()> {
        self.note("TagResource");
        self.inner.tag_resource(arn, tags).await
    }
    async fn untag_resource(&self, arn: &str, keys: &[String]) -> ApiResult<()> {
        self.note("UntagResource");
        self.inner.untag_resource(arn, keys).await
    }
}
