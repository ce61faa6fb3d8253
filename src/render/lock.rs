//! What the deploy lock's messages say: who holds it, since when, and what becomes of it.

use std::time::{Duration, UNIX_EPOCH};

use super::human_limit;
use crate::engine::events::{LockWarning, Staleness};
use crate::engine::lock::Lock;
use crate::error::api_hint;

/// `alice@laptop (pid 4242) since 2026-12-02T10:00:00Z`.
pub fn holder(holder: &str, since: u64) -> String {
    format!("{holder} since {}", rfc3339(since))
}

/// A lock for `ecs-roll unlock`: who, since when, and its heartbeat or expiry.
pub fn describe(l: &Lock) -> String {
    match l.heartbeat {
        Some(h) => format!(
            "{}, last renewed {}",
            holder(&l.holder, l.since),
            rfc3339(h.at)
        ),
        None => format!(
            "{} (the lock expires at {})",
            holder(&l.holder, l.since),
            rfc3339(l.expires)
        ),
    }
}

pub fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// A warning about the lock, in one line.
pub fn warning(w: &LockWarning) -> String {
    match w {
        LockWarning::Waiting {
            holder: h,
            since,
            window,
        } => format!(
            "the deploy lock is held by {}: waiting up to {} to see whether that run still renews it",
            holder(h, *since),
            human_limit(*window)
        ),
        LockWarning::TakenOver {
            holder: h,
            since,
            why,
        } => format!(
            "took over the deploy lock of {}: {}",
            holder(h, *since),
            staleness(why)
        ),
        LockWarning::Lost { by: Some(by) } => format!(
            "the deploy lock was taken over by {by}: this run no longer holds it and stops renewing it"
        ),
        LockWarning::Lost { by: None } => "the deploy lock was removed (by `ecs-roll unlock`?): this run no longer holds it and stops renewing it".into(),
        LockWarning::NotRenewed { error } => format!(
            "could not renew the deploy lock (the next renewal is tried as planned): {error}; {}",
            api_hint(error)
        ),
        LockWarning::NotReleased { error } => format!(
            "could not release the deploy lock (the next run takes it over once it is no longer renewed): {error}; {}",
            api_hint(error)
        ),
    }
}

fn staleness(why: &Staleness) -> String {
    match why {
        Staleness::Expired { at } => format!("it expired at {}", rfc3339(*at)),
        Staleness::Abandoned { renewed_at } => format!(
            "it was last renewed at {}, so that run is gone",
            rfc3339(*renewed_at)
        ),
        Staleness::Silent { window } => format!(
            "it was not renewed for {}, so that run is gone (crashed or killed)",
            human_limit(*window)
        ),
    }
}
