//! Images checked before any change: every image the new revision brings must exist in its
//! registry (else the deploy is refused: a task that cannot pull its image never starts), and
//! the rollback target (the revision that runs now) must be ACTIVE with its images still there
//! (else a rollback would fail when it is needed most: the plan says so). The lookups are the
//! registries' (`platform::ImageRegistries`); what they mean is judged here, purely.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use super::context::Ctx;
use super::events::{Event, Warning};
use super::refusal::Refusal;
use crate::error::Error;
use crate::platform::{ImageLookup, ImageRegistries, Revision};
use crate::taskdef::TaskDefinition;

/// `--image-check`: how sure a deploy must be that its images exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageCheck {
    /// A registry that cannot be asked (unreachable, or it wants credentials) is a warning.
    #[default]
    Auto,
    /// ... and a refusal here.
    Require,
    /// No check.
    Off,
}

/// What the deploy checks, and with which registries (None in `Options`: no check).
pub struct ImageChecks {
    pub registries: Arc<dyn ImageRegistries>,
    pub mode: ImageCheck,
    /// `--require-rollback`: a rollback target that is not ready refuses the deploy.
    pub require_rollback: bool,
}

impl fmt::Debug for ImageChecks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageChecks")
            .field("mode", &self.mode)
            .field("require_rollback", &self.require_rollback)
            .finish_non_exhaustive()
    }
}

/// What a lookup says about whether a task could pull the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judged {
    Exists,
    Missing,
    /// The registry could not tell (or was not asked).
    Unknown,
}

pub fn judge(l: &ImageLookup) -> Judged {
    match l {
        ImageLookup::Found => Judged::Exists,
        ImageLookup::RepositoryMissing { .. } | ImageLookup::TagMissing { .. } => Judged::Missing,
        ImageLookup::NeedsCredentials { .. }
        | ImageLookup::Unreachable { .. }
        | ImageLookup::NotAsked { .. } => Judged::Unknown,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Warn,
    Refuse,
}

/// An image the new revision brings: missing refuses; unknown warns, or refuses under
/// `require`, except a registry deliberately not asked (a local AWS), which is a note.
pub fn new_image(mode: ImageCheck, l: &ImageLookup) -> Verdict {
    match (judge(l), l, mode) {
        (Judged::Exists, ..) => Verdict::Pass,
        (Judged::Missing, ..) => Verdict::Refuse,
        (_, ImageLookup::NotAsked { .. }, _) => Verdict::Warn,
        (_, _, ImageCheck::Require) => Verdict::Refuse,
        _ => Verdict::Warn,
    }
}

/// Why the rollback target could not serve a rollback.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum NotReady {
    /// Deregistered: ECS starts no new task of it.
    Inactive,
    /// Its image is gone from the registry (an ECR lifecycle policy, a deleted tag).
    ImageMissing { image: String, lookup: ImageLookup },
}

/// The rollback target's readiness: not ready warns, or refuses under `--require-rollback`
/// (an image its registry could not vouch for included), except a registry deliberately not
/// asked (a local AWS), which stays a note.
pub fn rollback_target(require: bool, problem: &NotReady) -> Verdict {
    match problem {
        NotReady::ImageMissing {
            lookup: ImageLookup::NotAsked { .. },
            ..
        } => Verdict::Warn,
        _ if require => Verdict::Refuse,
        _ => Verdict::Warn,
    }
}

/// Each image of `td` once, in container order (two containers may run the same image).
fn images(td: &TaskDefinition) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for image in td.container_names().iter().filter_map(|c| td.image_of(c)) {
        if !v.iter().any(|i| i == image) {
            v.push(image.to_string());
        }
    }
    v
}

/// Asks each image once, and remembers the registries not asked on purpose.
#[derive(Default)]
struct Asked {
    answers: BTreeMap<String, ImageLookup>,
    not_asked: BTreeSet<String>,
}

impl Asked {
    async fn lookup(&mut self, checks: &ImageChecks, image: &str) -> ImageLookup {
        if let Some(l) = self.answers.get(image) {
            return l.clone();
        }
        let l = checks.registries.lookup(image).await;
        if let ImageLookup::NotAsked { registry } = &l {
            self.not_asked.insert(registry.clone());
        }
        self.answers.insert(image.to_string(), l.clone());
        l
    }
}

/// Checks the images `target` brings (those `previous` does not run already) and the
/// readiness of `previous` as a rollback target; warns or refuses before any change.
pub async fn check(
    ctx: &Ctx,
    checks: Option<&ImageChecks>,
    target: &TaskDefinition,
    previous: Option<&Revision>,
) -> Result<(), Error> {
    let Some(checks) = checks.filter(|c| c.mode != ImageCheck::Off) else {
        return Ok(());
    };
    let mut asked = Asked::default();
    let running = previous
        .map(|p| images(&TaskDefinition::from_revision(p)))
        .unwrap_or_default();
    for image in images(target).into_iter().filter(|i| !running.contains(i)) {
        let lookup = asked.lookup(checks, &image).await;
        match new_image(checks.mode, &lookup) {
            // Said once for every registry, below.
            _ if matches!(lookup, ImageLookup::NotAsked { .. }) => {}
            Verdict::Pass => {}
            Verdict::Warn => ctx.emit(Event::Warning(Warning::ImageUnchecked { image, lookup })),
            Verdict::Refuse => return Err(Error::refused(Refusal::Image { image, lookup })),
        }
    }
    if let Some(previous) = previous {
        rollback_readiness(ctx, checks, &mut asked, previous).await?;
    }
    if !asked.not_asked.is_empty() {
        ctx.emit(Event::Warning(Warning::RegistriesNotAsked {
            registries: asked.not_asked.into_iter().collect(),
        }));
    }
    Ok(())
}

async fn rollback_readiness(
    ctx: &Ctx,
    checks: &ImageChecks,
    asked: &mut Asked,
    previous: &Revision,
) -> Result<(), Error> {
    for problem in not_ready(checks, asked, previous).await {
        let revision = previous.name();
        match rollback_target(checks.require_rollback, &problem) {
            Verdict::Refuse => {
                return Err(Error::refused(Refusal::RollbackNotReady {
                    revision,
                    problem,
                }));
            }
            _ => ctx.emit(Event::Warning(Warning::RollbackNotReady {
                revision,
                problem,
            })),
        }
    }
    Ok(())
}

/// Everything that keeps `previous` from serving a rollback.
async fn not_ready(checks: &ImageChecks, asked: &mut Asked, previous: &Revision) -> Vec<NotReady> {
    let mut out = Vec::new();
    if previous.body.get("status").and_then(|s| s.as_str()) == Some("INACTIVE") {
        out.push(NotReady::Inactive);
    }
    for image in images(&TaskDefinition::from_revision(previous)) {
        let lookup = asked.lookup(checks, &image).await;
        // A registry not asked on purpose says nothing against the image.
        if judge(&lookup) != Judged::Exists && !matches!(lookup, ImageLookup::NotAsked { .. }) {
            out.push(NotReady::ImageMissing { image, lookup });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> String {
        "docker.io".into()
    }

    #[test]
    fn a_new_image_is_judged_by_what_its_registry_said() {
        use ImageCheck::*;
        use Verdict::*;
        let table = [
            (ImageLookup::Found, Auto, Pass),
            (ImageLookup::TagMissing { registry: r() }, Auto, Refuse),
            (
                ImageLookup::RepositoryMissing { registry: r() },
                Auto,
                Refuse,
            ),
            (ImageLookup::NeedsCredentials { registry: r() }, Auto, Warn),
            (
                ImageLookup::NeedsCredentials { registry: r() },
                Require,
                Refuse,
            ),
            (
                ImageLookup::Unreachable {
                    registry: r(),
                    error: "timed out".into(),
                },
                Auto,
                Warn,
            ),
            (
                ImageLookup::Unreachable {
                    registry: r(),
                    error: "timed out".into(),
                },
                Require,
                Refuse,
            ),
            (ImageLookup::NotAsked { registry: r() }, Require, Warn),
        ];
        for (lookup, mode, want) in table {
            assert_eq!(new_image(mode, &lookup), want, "{lookup:?} {mode:?}");
        }
    }

    #[test]
    fn a_rollback_target_not_ready_warns_unless_required() {
        let missing = NotReady::ImageMissing {
            image: "app:1".into(),
            lookup: ImageLookup::TagMissing { registry: r() },
        };
        let unknown = NotReady::ImageMissing {
            image: "app:1".into(),
            lookup: ImageLookup::Unreachable {
                registry: r(),
                error: "x".into(),
            },
        };
        assert_eq!(rollback_target(false, &NotReady::Inactive), Verdict::Warn);
        assert_eq!(rollback_target(true, &NotReady::Inactive), Verdict::Refuse);
        assert_eq!(rollback_target(true, &missing), Verdict::Refuse);
        assert_eq!(rollback_target(true, &unknown), Verdict::Refuse);
        assert_eq!(rollback_target(false, &unknown), Verdict::Warn);
        let local = NotReady::ImageMissing {
            image: "app:1".into(),
            lookup: ImageLookup::NotAsked { registry: r() },
        };
        assert_eq!(rollback_target(true, &local), Verdict::Warn);
    }
}
