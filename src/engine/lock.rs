//! The deploy lock: one ecs-roll run at a time per target (a standalone family in a cluster,
//! or a service), kept as a tag on the cluster or the service, so it works across machines
//! and CI jobs with no other infrastructure.
//!
//! Tagging is not a compare-and-swap: two runs could both write. So a run writes its token,
//! waits a moment, and reads back; only the run whose token is there proceeds.
//!
//! A run that holds the lock renews it (a heartbeat in the tag, `heartbeat.rs`), and says how
//! often it does. A lock whose heartbeat stopped is stale: its run crashed (a kill -9, a lost
//! runner), and the next run takes it over by itself, saying whose it was. The next run does
//! not compare the heartbeat's time with its own clock (the two machines' clocks may differ):
//! it watches whether the heartbeat moves within a few of the holder's intervals. A lock also
//! expires, and `ecs-roll unlock` removes it at once.

mod acquire;
mod heartbeat;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use acquire::{Taken, Want, acquire, release, release_all, remember};
pub use heartbeat::{Beating, keep_alive};

/// How long the write settles before it is read back.
pub const SETTLE: Duration = Duration::from_millis(750);

/// How often a run renews its lock, unless `ECS_ROLL_LOCK_HEARTBEAT` says otherwise.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// How far the holder's clock may be behind ours before a heartbeat looks older than it is.
/// Only the shortcut for long-abandoned locks uses the holder's time.
pub const CLOCK_SKEW: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub token: String,
    /// Unix seconds.
    pub since: u64,
    pub expires: u64,
    /// None: written by an ecs-roll without heartbeats, held until it expires.
    pub heartbeat: Option<Heartbeat>,
    pub holder: String,
}

/// The holder's last renewal of the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// Counts the renewals: what a watching run sees move.
    pub seq: u64,
    /// Unix seconds, on the holder's clock.
    pub at: u64,
    /// How often the holder renews it.
    pub every: Duration,
}

impl Heartbeat {
    /// How long a watching run waits for the heartbeat to move before it calls the lock
    /// stale: three renewals missed, and room for a slow TagResource.
    pub fn window(&self) -> Duration {
        self.every * 3 + Duration::from_secs(5)
    }
}

impl Lock {
    /// `token|since|expires|hb=SEQ,AT,EVERY_MS|holder`: one tag value (at most 256 characters).
    pub fn encode(&self) -> String {
        let hb = self.heartbeat.map_or(String::new(), |h| {
            format!("hb={},{},{}|", h.seq, h.at, h.every.as_millis())
        });
        let head = format!("{}|{}|{}|{hb}", self.token, self.since, self.expires);
        let room = 256usize.saturating_sub(head.len());
        let holder: String = self
            .holder
            .chars()
            .filter(|c| *c != '|')
            .take(room)
            .collect();
        format!("{head}{holder}")
    }

    /// Reads both forms: with a heartbeat, and the older `token|since|expires|holder`.
    pub fn decode(v: &str) -> Option<Lock> {
        let mut p = v.splitn(4, '|');
        let token = p.next()?.to_string();
        let since = p.next()?.parse().ok()?;
        let expires = p.next()?.parse().ok()?;
        let rest = p.next().unwrap_or_default();
        let (heartbeat, holder) = match rest.split_once('|') {
            Some((hb, holder)) if hb.starts_with("hb=") => (Some(decode_heartbeat(hb)?), holder),
            _ => (None, rest),
        };
        Some(Lock {
            token,
            since,
            expires,
            heartbeat,
            holder: holder.to_string(),
        })
    }

    /// The same lock, renewed at `now`.
    pub fn renewed(&self, now: u64) -> Lock {
        let mut l = self.clone();
        if let Some(h) = &mut l.heartbeat {
            h.seq += 1;
            h.at = now;
        }
        l
    }
}

fn decode_heartbeat(hb: &str) -> Option<Heartbeat> {
    let mut f = hb.strip_prefix("hb=")?.split(',');
    Some(Heartbeat {
        seq: f.next()?.parse().ok()?,
        at: f.next()?.parse().ok()?,
        every: Duration::from_millis(f.next()?.parse().ok()?),
    })
}

/// What a run that wants the lock makes of the one it found at `now` (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Nobody holds it, or this run does: take it.
    Free,
    /// Its time is up, or its heartbeat stopped long ago: take it over, saying whose it was.
    Stale,
    /// Held by a run without heartbeats, until it expires.
    Held,
    /// Held with a heartbeat: wait up to `window` for it to move. If it does, its run is
    /// alive; if not, the lock is stale.
    Watch { window: Duration },
}

pub fn judge(found: Option<&Lock>, token: &str, now: u64) -> Judgement {
    let Some(l) = found.filter(|l| l.token != token) else {
        return Judgement::Free;
    };
    if l.expires <= now {
        return Judgement::Stale;
    }
    match l.heartbeat {
        None => Judgement::Held,
        Some(h) if now.saturating_sub(h.at) > (h.window() + CLOCK_SKEW).as_secs() => {
            Judgement::Stale
        }
        Some(h) => Judgement::Watch { window: h.window() },
    }
}

/// Whether the lock read after a watch shows its holder alive: the same run renewed it.
pub fn moved(before: &Lock, after: &Lock) -> bool {
    before.token == after.token && before.heartbeat.map(|h| h.seq) != after.heartbeat.map(|h| h.seq)
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
    pub lock: Lock,
}

/// The lock key of a standalone family (on its cluster) or of a service (on the service).
pub fn key_for_family(family: &str) -> String {
    format!("ecs-roll:lock:{family}")
}

pub const SERVICE_KEY: &str = "ecs-roll:lock";

#[cfg(test)]
mod tests;
