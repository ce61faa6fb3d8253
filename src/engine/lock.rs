//! The deploy lock: one ecs-roll run at a time per target (a standalone family in a cluster,
//! or a service), kept as a tag on the cluster or the service, so it works across machines
//! and CI jobs with no other infrastructure.
//!
//! Tagging is not a compare-and-swap: two runs could both write. So a run writes its token,
//! waits a moment, and reads back; only the run whose token is there proceeds. The lock
//! expires (a crashed run cannot block deploys forever) and `ecs-roll unlock` removes it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Error;
use crate::platform::ResourceTags;

/// How long the write settles before it is read back.
pub const SETTLE: Duration = Duration::from_millis(750);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub token: String,
    /// Unix seconds.
    pub since: u64,
    pub expires: u64,
    pub holder: String,
}

impl Lock {
    /// `token|since|expires|holder`: one tag value (at most 256 characters).
    pub fn encode(&self) -> String {
        let head = format!("{}|{}|{}|", self.token, self.since, self.expires);
        let room = 256usize.saturating_sub(head.len());
        let holder: String = self
            .holder
            .chars()
            .filter(|c| *c != '|')
            .take(room)
            .collect();
        format!("{head}{holder}")
    }

    pub fn decode(v: &str) -> Option<Lock> {
        let mut p = v.splitn(4, '|');
        Some(Lock {
            token: p.next()?.to_string(),
            since: p.next()?.parse().ok()?,
            expires: p.next()?.parse().ok()?,
            holder: p.next().unwrap_or_default().to_string(),
        })
    }

    /// A description for people: who, since when, until when.
    pub fn describe(&self) -> String {
        format!(
            "{} since {} (the lock expires at {})",
            self.holder,
            rfc3339(self.since),
            rfc3339(self.expires)
        )
    }
}

/// Whether a lock found on the resource stops a run holding `token` at `now`.
pub fn blocks(found: Option<&Lock>, token: &str, now: u64) -> bool {
    found.is_some_and(|l| l.token != token && l.expires > now)
}

fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A held lock; release it with `release`.
#[derive(Debug, Clone)]
pub struct Held {
    pub arn: String,
    pub key: String,
    pub token: String,
}

/// Takes the lock `key` on `arn` for `ttl`, or fails (exit 2, nothing changed) naming the run
/// that holds it.
pub async fn acquire(
    tags: &dyn ResourceTags,
    arn: &str,
    key: &str,
    holder: &str,
    ttl: Duration,
    what: &str,
) -> Result<Held, Error> {
    let read = |t: &BTreeMap<String, String>| t.get(key).and_then(|v| Lock::decode(v));
    let now = now_secs();
    let token = format!(
        "{:x}{:x}",
        now,
        std::process::id() as u64
            ^ (SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos()) as u64)
    );
    let existing = tags
        .resource_tags(arn)
        .await
        .map_err(Error::from_api_before_change)?;
    if let Some(l) = read(&existing).filter(|l| blocks(Some(l), &token, now)) {
        return Err(busy(what, &l));
    }
    let lock = Lock {
        token: token.clone(),
        since: now,
        expires: now + ttl.as_secs(),
        holder: holder.to_string(),
    };
    tags.tag_resource(arn, &BTreeMap::from([(key.to_string(), lock.encode())]))
        .await
        .map_err(Error::from_api_before_change)?;
    tokio::time::sleep(SETTLE).await;
    let after = tags
        .resource_tags(arn)
        .await
        .map_err(Error::from_api_before_change)?;
    match read(&after) {
        Some(l) if l.token == token => Ok(Held {
            arn: arn.to_string(),
            key: key.to_string(),
            token,
        }),
        Some(l) => Err(busy(what, &l)),
        None => Err(Error::preflight(
            format!("the deploy lock on {what} vanished right after it was taken"),
            "another ecs-roll run may be unlocking it; try again",
        )),
    }
}

fn busy(what: &str, l: &Lock) -> Error {
    Error::preflight(
        format!(
            "another ecs-roll deploy of {what} is in progress: {}",
            l.describe()
        ),
        "wait for it to finish; if that run crashed, `ecs-roll unlock` removes its lock (it also expires by itself)",
    )
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
/// since the lock expires anyway.
pub async fn release(tags: &dyn ResourceTags, held: &Held) -> Result<(), String> {
    HELD.lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|(_, h)| h.token != held.token);
    let now = tags
        .resource_tags(&held.arn)
        .await
        .map_err(|e| e.to_string())?;
    match now.get(&held.key).and_then(|v| Lock::decode(v)) {
        Some(l) if l.token == held.token => tags
            .untag_resource(&held.arn, std::slice::from_ref(&held.key))
            .await
            .map_err(|e| e.to_string()),
        _ => Ok(()),
    }
}

/// The lock key of a standalone family (on its cluster) or of a service (on the service).
pub fn key_for_family(family: &str) -> String {
    format!("ecs-roll:lock:{family}")
}

pub const SERVICE_KEY: &str = "ecs-roll:lock";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::MemoryTags;

    #[test]
    fn encodes_and_decodes() {
        let l = Lock {
            token: "abc".into(),
            since: 10,
            expires: 20,
            holder: "ci|run 5".into(),
        };
        let back = Lock::decode(&l.encode()).unwrap();
        assert_eq!(
            (
                back.token.as_str(),
                back.since,
                back.expires,
                back.holder.as_str()
            ),
            ("abc", 10, 20, "cirun 5")
        );
        let long = Lock {
            holder: "x".repeat(400),
            ..l
        };
        assert!(long.encode().len() <= 256);
    }

    #[test]
    fn blocking_table() {
        let l = Lock {
            token: "a".into(),
            since: 0,
            expires: 100,
            holder: "h".into(),
        };
        assert!(blocks(Some(&l), "b", 50));
        assert!(!blocks(Some(&l), "a", 50), "our own lock");
        assert!(!blocks(Some(&l), "b", 100), "expired");
        assert!(!blocks(None, "b", 50));
    }

    #[tokio::test(start_paused = true)]
    async fn the_second_run_fails_naming_the_first_and_a_release_frees_it() {
        let tags = MemoryTags::default();
        let arn = MemoryTags::cluster_arn_of("c");
        let key = key_for_family("app");
        let first = acquire(
            &tags,
            &arn,
            &key,
            "alice@laptop",
            Duration::from_secs(600),
            "family app",
        )
        .await
        .unwrap();
        let err = acquire(
            &tags,
            &arn,
            &key,
            "ci run 7",
            Duration::from_secs(600),
            "family app",
        )
        .await
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().contains("alice@laptop") && err.to_string().contains("in progress"),
            "{err}"
        );
        release(&tags, &first).await.unwrap();
        assert!(tags.of(&arn).is_empty());
        acquire(
            &tags,
            &arn,
            &key,
            "ci run 7",
            Duration::from_secs(600),
            "family app",
        )
        .await
        .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_lock_is_taken_over() {
        let tags = MemoryTags::default();
        let arn = MemoryTags::cluster_arn_of("c");
        let stale = Lock {
            token: "old".into(),
            since: 1,
            expires: 2,
            holder: "crashed run".into(),
        };
        tags.tag_resource(
            &arn,
            &BTreeMap::from([(SERVICE_KEY.to_string(), stale.encode())]),
        )
        .await
        .unwrap();
        acquire(
            &tags,
            &arn,
            SERVICE_KEY,
            "me",
            Duration::from_secs(60),
            "service web",
        )
        .await
        .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn releasing_leaves_someone_elses_lock_alone() {
        let tags = MemoryTags::default();
        let arn = MemoryTags::cluster_arn_of("c");
        let mine = acquire(&tags, &arn, SERVICE_KEY, "me", Duration::from_secs(60), "x")
            .await
            .unwrap();
        // Someone unlocked and took it since.
        let theirs = Lock {
            token: "theirs".into(),
            since: now_secs(),
            expires: now_secs() + 60,
            holder: "them".into(),
        };
        tags.tag_resource(
            &arn,
            &BTreeMap::from([(SERVICE_KEY.to_string(), theirs.encode())]),
        )
        .await
        .unwrap();
        release(&tags, &mine).await.unwrap();
        assert!(tags.of(&arn).contains_key(SERVICE_KEY));
    }
}
