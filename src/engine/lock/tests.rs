use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::acquire::Want;
use super::*;
use crate::engine::context::Cancel;
use crate::engine::events::{Event, LockWarning, Observer, Staleness, Warning};
use crate::engine::refusal::Refusal;
use crate::platform::ResourceTags;
use crate::sim::MemoryTags;

const EVERY: Duration = Duration::from_secs(15);

fn lock(token: &str, since: u64, expires: u64, beat: Option<(u64, u64)>) -> Lock {
    Lock {
        token: token.into(),
        since,
        expires,
        heartbeat: beat.map(|(seq, at)| Heartbeat {
            seq,
            at,
            every: EVERY,
        }),
        holder: "alice@laptop (pid 7)".into(),
    }
}

#[test]
fn a_lock_encodes_and_decodes_with_and_without_heartbeat() {
    let l = Lock {
        holder: "ci|run 5".into(),
        ..lock("abc", 10, 20, Some((3, 15)))
    };
    assert_eq!(l.encode(), "abc|10|20|hb=3,15,15000|cirun 5");
    let back = Lock::decode(&l.encode()).unwrap();
    assert_eq!(
        back,
        Lock {
            holder: "cirun 5".into(),
            ..l.clone()
        }
    );
    // The form without a heartbeat (written before heartbeats existed).
    let old = Lock::decode("abc|10|20|bob@box").unwrap();
    assert_eq!(
        old,
        Lock {
            holder: "bob@box".into(),
            ..lock("abc", 10, 20, None)
        }
    );
    let long = Lock {
        holder: "x".repeat(400),
        ..l
    };
    assert!(long.encode().len() <= 256);
    assert_eq!(Lock::decode("junk"), None);
}

#[test]
fn a_renewal_moves_the_heartbeat() {
    let l = lock("a", 0, 100, Some((0, 0)));
    let r = l.renewed(40);
    assert_eq!(r.heartbeat.map(|h| (h.seq, h.at)), Some((1, 40)));
    assert!(moved(&l, &r));
    assert!(!moved(&l, &l.clone()));
    assert!(
        !moved(
            &l,
            &Lock {
                token: "b".into(),
                ..r
            }
        ),
        "another run's"
    );
}

#[test]
fn the_judgement_of_a_found_lock() {
    let window = Duration::from_secs(50);
    let skew = CLOCK_SKEW.as_secs();
    // (found, now) -> judgement, for a run holding token "me".
    let table = [
        (None, 50, Judgement::Free),
        (Some(lock("me", 0, 100, Some((0, 0)))), 50, Judgement::Free),
        (Some(lock("a", 0, 100, None)), 50, Judgement::Held),
        (Some(lock("a", 0, 100, None)), 100, Judgement::Stale),
        (
            Some(lock("a", 0, 10_000, Some((4, 40)))),
            50,
            Judgement::Watch { window },
        ),
        // A heartbeat that looks older than the window, within the clock skew: watched.
        (
            Some(lock("a", 0, 10_000, Some((4, 40)))),
            40 + 50 + skew,
            Judgement::Watch { window },
        ),
        (
            Some(lock("a", 0, 10_000, Some((4, 40)))),
            40 + 51 + skew,
            Judgement::Stale,
        ),
        (
            Some(lock("a", 0, 100, Some((4, 99)))),
            100,
            Judgement::Stale,
        ),
    ];
    for (found, now, want) in table {
        assert_eq!(judge(found.as_ref(), "me", now), want, "{found:?} at {now}");
    }
}

#[derive(Default)]
struct Warnings(Mutex<Vec<LockWarning>>);

impl Warnings {
    fn notice(&self) -> impl Fn(LockWarning) + Sync + '_ {
        |w| self.0.lock().unwrap().push(w)
    }
    fn all(&self) -> Vec<LockWarning> {
        self.0.lock().unwrap().clone()
    }
}

impl Observer for Warnings {
    fn event(&self, e: &Event) {
        if let Event::Warning(Warning::Lock(w)) = e {
            self.0.lock().unwrap().push(w.clone());
        }
    }
}

fn want<'a>(arn: &'a str, holder: &'a str) -> Want<'a> {
    Want {
        arn,
        key: SERVICE_KEY,
        holder,
        ttl: Duration::from_secs(3600),
        heartbeat: EVERY,
        what: "service web",
    }
}

async fn take(
    tags: &MemoryTags,
    w: &Want<'_>,
    warnings: &Warnings,
) -> Result<Held, crate::error::Error> {
    match acquire(tags, w, &Cancel::default(), &warnings.notice()).await? {
        acquire::Taken::Held(h) => Ok(h),
        acquire::Taken::Interrupted => panic!("not interrupted"),
    }
}

async fn put(tags: &MemoryTags, arn: &str, l: &Lock) {
    let map = BTreeMap::from([(SERVICE_KEY.to_string(), l.encode())]);
    tags.tag_resource(arn, &map).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_second_run_is_refused_while_the_first_renews_its_lock_and_takes_it_once_released() {
    let tags = Arc::new(MemoryTags::default());
    let arn = MemoryTags::cluster_arn_of("c");
    let warnings = Arc::new(Warnings::default());
    let first = take(&tags, &want(&arn, "alice@laptop"), &warnings)
        .await
        .unwrap();
    let stop = Arc::new(Notify::new());
    let beating = tokio::spawn(keep_alive(
        tags.clone(),
        first.clone(),
        stop.clone(),
        warnings.clone(),
    ));
    let started = tokio::time::Instant::now();
    let err = take(&tags, &want(&arn, "ci run 7"), &warnings)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() <= EVERY + Duration::from_secs(6),
        "refused as soon as the heartbeat moved: {:?}",
        started.elapsed()
    );
    assert_eq!(err.exit_code(), 2);
    match err.refusal() {
        Some(Refusal::LockHeld {
            holder,
            renews_every_ms,
            ..
        }) => {
            assert_eq!(holder, "alice@laptop");
            assert_eq!(*renews_every_ms, Some(15_000));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(warnings.all()[..], [LockWarning::Waiting { .. }]));
    stop.notify_one();
    beating.await.unwrap();
    release(tags.as_ref(), &first).await.unwrap();
    assert!(tags.of(&arn).is_empty());
    take(&tags, &want(&arn, "ci run 7"), &warnings)
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_lock_that_is_no_longer_renewed_is_taken_over_after_three_missed_heartbeats() {
    let tags = MemoryTags::default();
    let arn = MemoryTags::cluster_arn_of("c");
    let now = now_secs();
    put(
        &tags,
        &arn,
        &lock("crashed", now - 5, now + 3000, Some((9, now - 5))),
    )
    .await;
    let warnings = Warnings::default();
    let started = tokio::time::Instant::now();
    let held = take(&tags, &want(&arn, "me"), &warnings).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(50) && waited < Duration::from_secs(60),
        "{waited:?}"
    );
    assert_eq!(
        warnings.all(),
        vec![
            LockWarning::Waiting {
                holder: "alice@laptop (pid 7)".into(),
                since: now - 5,
                window: Duration::from_secs(50),
            },
            LockWarning::TakenOver {
                holder: "alice@laptop (pid 7)".into(),
                since: now - 5,
                why: Staleness::Silent {
                    window: Duration::from_secs(50)
                },
            },
        ]
    );
    let on_tag = Lock::decode(&tags.of(&arn)[SERVICE_KEY]).unwrap();
    assert_eq!(on_tag.token, held.lock.token);
    assert_eq!(on_tag.holder, "me");
}

#[tokio::test(start_paused = true)]
async fn an_expired_or_long_abandoned_lock_is_taken_over_at_once_naming_its_holder() {
    let now = now_secs();
    let cases = [
        (lock("old", 1, 2, None), Staleness::Expired { at: 2 }),
        (
            lock("old", now - 7200, now + 7200, Some((3, now - 3600))),
            Staleness::Abandoned {
                renewed_at: now - 3600,
            },
        ),
    ];
    for (found, why) in cases {
        let tags = MemoryTags::default();
        let arn = MemoryTags::cluster_arn_of("c");
        put(&tags, &arn, &found).await;
        let warnings = Warnings::default();
        let started = tokio::time::Instant::now();
        take(&tags, &want(&arn, "me"), &warnings).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(2), "no waiting");
        assert_eq!(
            warnings.all(),
            vec![LockWarning::TakenOver {
                holder: found.holder.clone(),
                since: found.since,
                why,
            }]
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_lock_without_heartbeat_blocks_until_it_expires() {
    let tags = MemoryTags::default();
    let arn = MemoryTags::cluster_arn_of("c");
    let now = now_secs();
    put(&tags, &arn, &lock("older-ecs-roll", now, now + 600, None)).await;
    let err = take(&tags, &want(&arn, "me"), &Warnings::default())
        .await
        .unwrap_err();
    assert!(matches!(
        err.refusal(),
        Some(Refusal::LockHeld {
            renews_every_ms: None,
            ..
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn an_interrupt_while_watching_a_lock_changes_nothing() {
    let tags = MemoryTags::default();
    let arn = MemoryTags::cluster_arn_of("c");
    let now = now_secs();
    let theirs = lock("other", now, now + 3000, Some((0, now)));
    put(&tags, &arn, &theirs).await;
    let cancel = Cancel::default();
    cancel.request();
    let warnings = Warnings::default();
    let r = acquire(&tags, &want(&arn, "me"), &cancel, &warnings.notice())
        .await
        .unwrap();
    assert!(matches!(r, acquire::Taken::Interrupted));
    assert_eq!(Lock::decode(&tags.of(&arn)[SERVICE_KEY]), Some(theirs));
}

#[tokio::test(start_paused = true)]
async fn a_run_stops_renewing_a_lock_someone_else_took_and_releasing_leaves_it_alone() {
    let tags = Arc::new(MemoryTags::default());
    let arn = MemoryTags::cluster_arn_of("c");
    let warnings = Arc::new(Warnings::default());
    let mine = take(&tags, &want(&arn, "me"), &warnings).await.unwrap();
    let stop = Arc::new(Notify::new());
    let beating = tokio::spawn(keep_alive(
        tags.clone(),
        mine.clone(),
        stop.clone(),
        warnings.clone(),
    ));
    // Someone unlocked and took it since.
    let theirs = lock("theirs", now_secs(), now_secs() + 60, Some((0, now_secs())));
    put(&tags, &arn, &theirs).await;
    tokio::time::sleep(EVERY * 2).await;
    assert!(beating.is_finished(), "no more renewals");
    assert_eq!(
        warnings.all(),
        vec![LockWarning::Lost {
            by: Some("alice@laptop (pid 7)".into())
        }]
    );
    stop.notify_one();
    release(tags.as_ref(), &mine).await.unwrap();
    assert_eq!(Lock::decode(&tags.of(&arn)[SERVICE_KEY]), Some(theirs));
}

#[tokio::test(start_paused = true)]
async fn the_heartbeat_renews_the_lock_until_it_is_stopped() {
    let tags = Arc::new(MemoryTags::default());
    let arn = MemoryTags::cluster_arn_of("c");
    let warnings = Arc::new(Warnings::default());
    let mine = take(&tags, &want(&arn, "me"), &warnings).await.unwrap();
    let stop = Arc::new(Notify::new());
    let beating = tokio::spawn(keep_alive(
        tags.clone(),
        mine.clone(),
        stop.clone(),
        warnings.clone(),
    ));
    tokio::time::sleep(EVERY * 4 + Duration::from_secs(1)).await;
    let seq = |t: &MemoryTags| {
        Lock::decode(&t.of(&arn)[SERVICE_KEY])
            .and_then(|l| l.heartbeat)
            .map(|h| h.seq)
    };
    assert_eq!(seq(&tags), Some(4));
    stop.notify_one();
    beating.await.unwrap();
    tokio::time::sleep(EVERY * 2).await;
    assert_eq!(seq(&tags), Some(4), "stopped");
    assert!(warnings.all().is_empty());
}
