//! Taking and releasing the lock: read what is there, judge it, watch a heartbeat lock until
//! it moves or goes stale, write ours, settle, read back.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::{Heartbeat, Held, Judgement, Lock, SETTLE, judge, moved, now_secs};
use crate::engine::context::Cancel;
use crate::engine::events::{LockWarning, Staleness};
use crate::engine::refusal::Refusal;
use crate::error::Error;
use crate::platform::{ApiError, ResourceTags};

/// Where the lock is and who asks for it.
pub struct Want<'a> {
    pub arn: &'a str,
    pub key: &'a str,
    pub holder: &'a str,
    pub ttl: Duration,
    /// How often this run will renew it.
    pub heartbeat: Duration,
    /// What the lock protects, for the message that names a holder.
    pub what: &'a str,
}

/// How an attempt to take the lock ended, short of an error.
#[derive(Debug)]
pub enum Taken {
    Held(Held),
    /// Ctrl-C or SIGTERM while waiting for a lock to go stale: nothing was changed.
    Interrupted,
}

/// How watching a heartbeat lock ended.
enum Watched {
    /// Its run renewed it: alive.
    Alive(Lock),
    /// Not renewed within the window: stale.
    Silent,
    /// Released, unlocked, or taken by another run meanwhile: judge again.
    Changed,
    Interrupted,
}

/// Takes the lock, or fails (exit 2, nothing changed) naming the run that holds it. A lock
/// whose run stopped renewing it is taken over, with a warning through `notice`.
pub async fn acquire(
    tags: &dyn ResourceTags,
    want: &Want<'_>,
    cancel: &Cancel,
    notice: &(dyn Fn(LockWarning) + Sync),
) -> Result<Taken, Error> {
    let token = new_token();
    // Each round ends with the lock free, stale, or changed under our eyes; a lock that keeps
    // changing hands is busy.
    for _ in 0..4 {
        let found = read(tags, want).await?;
        match judge(found.as_ref(), &token, now_secs()) {
            Judgement::Free => return take(tags, want, token).await.map(Taken::Held),
            Judgement::Stale => {
                let l = found.expect("a stale lock was found");
                notice(takeover(&l, staleness(&l, now_secs())));
                return take(tags, want, token).await.map(Taken::Held);
            }
            Judgement::Held => return Err(busy(want, found.expect("held"), false)),
            Judgement::Watch { window } => {
                let l = found.expect("a watched lock was found");
                notice(LockWarning::Waiting {
                    holder: l.holder.clone(),
                    since: l.since,
                    window,
                });
                match watch(tags, want, &l, window, cancel).await? {
                    Watched::Alive(now) => return Err(busy(want, now, true)),
                    Watched::Silent => {
                        notice(takeover(&l, Staleness::Silent { window }));
                        return take(tags, want, token).await.map(Taken::Held);
                    }
                    Watched::Changed => continue,
                    Watched::Interrupted => return Ok(Taken::Interrupted),
                }
            }
        }
    }
    match read(tags, want).await? {
        Some(l) => Err(busy(want, l, true)),
        None => take(tags, want, token).await.map(Taken::Held),
    }
}

async fn read(tags: &dyn ResourceTags, want: &Want<'_>) -> Result<Option<Lock>, Error> {
    let all = tags
        .resource_tags(want.arn)
        .await
        .map_err(Error::from_api_before_change)?;
    Ok(all.get(want.key).and_then(|v| Lock::decode(v)))
}

/// Looks again and again for `window` (on this machine's clock) whether the holder renews.
async fn watch(
    tags: &dyn ResourceTags,
    want: &Want<'_>,
    seen: &Lock,
    window: Duration,
    cancel: &Cancel,
) -> Result<Watched, Error> {
    let every = seen
        .heartbeat
        .map_or(window, |h| h.every / 3)
        .clamp(Duration::from_millis(200), Duration::from_secs(5));
    let until = Instant::now() + window;
    while Instant::now() < until {
        tokio::time::sleep(every.min(until - Instant::now())).await;
        if cancel.requested() {
            return Ok(Watched::Interrupted);
        }
        match read(tags, want).await? {
            Some(now) if moved(seen, &now) => return Ok(Watched::Alive(now)),
            Some(now) if now.token == seen.token => {}
            _ => return Ok(Watched::Changed),
        }
    }
    Ok(Watched::Silent)
}

fn staleness(l: &Lock, now: u64) -> Staleness {
    match l.heartbeat {
        _ if l.expires <= now => Staleness::Expired { at: l.expires },
        Some(h) => Staleness::Abandoned { renewed_at: h.at },
        None => Staleness::Expired { at: l.expires },
    }
}

fn takeover(l: &Lock, why: Staleness) -> LockWarning {
    LockWarning::TakenOver {
        holder: l.holder.clone(),
        since: l.since,
        why,
    }
}

/// Writes our lock, lets the write settle and reads it back: of several runs that wrote at
/// once, only the one whose token stayed goes on.
async fn take(tags: &dyn ResourceTags, want: &Want<'_>, token: String) -> Result<Held, Error> {
    let now = now_secs();
    let lock = Lock {
        token,
        since: now,
        expires: now + want.ttl.as_secs(),
        heartbeat: Some(Heartbeat {
            seq: 0,
            at: now,
            every: want.heartbeat,
        }),
        holder: want.holder.to_string(),
    };
    tags.tag_resource(
        want.arn,
        &BTreeMap::from([(want.key.to_string(), lock.encode())]),
    )
    .await
    .map_err(Error::from_api_before_change)?;
    tokio::time::sleep(SETTLE).await;
    match read(tags, want).await? {
        Some(l) if l.token == lock.token => Ok(Held {
            arn: want.arn.to_string(),
            key: want.key.to_string(),
            lock,
        }),
        Some(l) => Err(busy(want, l, true)),
        None => Err(Error::refused(Refusal::LockVanished {
            what: want.what.to_string(),
        })),
    }
}

fn busy(want: &Want<'_>, l: Lock, alive: bool) -> Error {
    Error::refused(Refusal::LockHeld {
        what: want.what.to_string(),
        holder: l.holder,
        since: l.since,
        expires: l.expires,
        renews_every_ms: alive
            .then(|| l.heartbeat.map(|h| h.every.as_millis() as u64))
            .flatten(),
    })
}

fn new_token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos()) as u64;
    format!("{:x}{:x}", now_secs(), std::process::id() as u64 ^ nanos)
}

/// Locks this process holds, so an abort (a second Ctrl-C) can still release them: a rerun
/// that resumes the deploy must not find its own lock in the way.
static HELD: Mutex<Vec<(Arc<dyn ResourceTags>, Held)>> = Mutex::new(Vec::new());

/// Remembers a held lock for `release_all`.
pub fn remember(tags: Arc<dyn ResourceTags>, held: &Held) {
    HELD.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((tags, held.clone()));
}

/// Releases every lock this process still holds, giving up after `limit`.
pub async fn release_all(limit: Duration) {
    let all: Vec<(Arc<dyn ResourceTags>, Held)> =
        std::mem::take(&mut *HELD.lock().unwrap_or_else(|e| e.into_inner()));
    let work = async {
        for (tags, held) in &all {
            let _ = release(tags.as_ref(), held).await;
        }
    };
    let _ = tokio::time::timeout(limit, work).await;
}

/// Releases the lock if this run still holds it; a failure to release is only reported,
/// since the next run takes a lock that is no longer renewed over anyway.
pub async fn release(tags: &dyn ResourceTags, held: &Held) -> Result<(), ApiError> {
    HELD.lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|(_, h)| h.lock.token != held.lock.token);
    let now = tags.resource_tags(&held.arn).await?;
    match now.get(&held.key).and_then(|v| Lock::decode(v)) {
        Some(l) if l.token == held.lock.token => {
            tags.untag_resource(&held.arn, std::slice::from_ref(&held.key))
                .await
        }
        _ => Ok(()),
    }
}
