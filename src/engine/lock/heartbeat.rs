//! The heartbeat: while a run holds the lock it renews it every `Heartbeat::every`, so the
//! next run can tell a live run from a crashed one.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::{Held, Lock, now_secs};
use crate::engine::events::{Event, LockWarning, Observer, Warning};
use crate::platform::{ApiError, ResourceTags};

/// The heartbeat of a held lock, renewing it in a task of its own. Dropped without `stop`
/// (the run's future dropped, as by a kill -9 of the process) it just stops beating.
pub struct Beating {
    task: Option<JoinHandle<()>>,
    stop: Arc<Notify>,
}

impl Beating {
    pub fn start(tags: Arc<dyn ResourceTags>, held: Held, observer: Arc<dyn Observer>) -> Beating {
        let stop = Arc::new(Notify::new());
        let task = tokio::spawn(keep_alive(tags, held, stop.clone(), observer));
        Beating {
            task: Some(task),
            stop,
        }
    }

    /// Stops renewing, once a renewal in progress has finished.
    pub async fn stop(mut self) {
        self.stop.notify_one();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Beating {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Renews `held` until `stop` is notified; a renewal in progress then finishes, so no late
/// write brings the lock back after its release. Stops renewing (with a warning) when the
/// lock is no longer this run's: `ecs-roll unlock`, or a run that judged it stale.
pub async fn keep_alive(
    tags: Arc<dyn ResourceTags>,
    mut held: Held,
    stop: Arc<Notify>,
    observer: Arc<dyn Observer>,
) {
    let Some(every) = held.lock.heartbeat.map(|h| h.every) else {
        return;
    };
    let warn = |w: LockWarning| observer.event(&Event::Warning(Warning::Lock(w)));
    let mut failing = false;
    loop {
        tokio::select! {
            _ = stop.notified() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match renew(tags.as_ref(), &held).await {
            Ok(Renewal::Renewed(lock)) => {
                held.lock = lock;
                failing = false;
            }
            Ok(Renewal::Lost { by }) => {
                warn(LockWarning::Lost { by });
                return;
            }
            Err(error) => {
                // Once per run of failures: the next renewal may well succeed.
                if !failing {
                    warn(LockWarning::NotRenewed { error });
                }
                failing = true;
            }
        }
    }
}

enum Renewal {
    Renewed(Lock),
    /// Someone else's lock is there now (its holder), or none.
    Lost {
        by: Option<String>,
    },
}

/// One renewal: read, and write the next heartbeat only if the lock is still ours.
async fn renew(tags: &dyn ResourceTags, held: &Held) -> Result<Renewal, ApiError> {
    let now = tags.resource_tags(&held.arn).await?;
    match now.get(&held.key).and_then(|v| Lock::decode(v)) {
        Some(l) if l.token == held.lock.token => {
            let next = held.lock.renewed(now_secs());
            tags.tag_resource(
                &held.arn,
                &BTreeMap::from([(held.key.clone(), next.encode())]),
            )
            .await?;
            Ok(Renewal::Renewed(next))
        }
        other => Ok(Renewal::Lost {
            by: other.map(|l| l.holder),
        }),
    }
}
