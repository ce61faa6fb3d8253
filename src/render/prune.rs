//! What a prune did: each revision deregistered (or, in a dry run, that would be), and why
//! each of the others stays.

use crate::engine::prune::PruneReport;

pub fn text(r: &PruneReport) -> String {
    let mut out = format!(
        "old revisions of {} (keeping the newest {}):\n",
        r.family, r.keep
    );
    if let Some(e) = &r.error {
        out.push_str(&format!(
            "  warning: nothing was deregistered, the revisions could not be read: {e}\n"
        ));
        return out;
    }
    let verb = if r.dry_run {
        "would deregister"
    } else {
        "deregistered"
    };
    for name in &r.deregistered {
        out.push_str(&format!("  {verb} {name}\n"));
    }
    if r.deregistered.is_empty() && r.failed.is_empty() {
        out.push_str("  nothing to deregister\n");
    }
    for f in &r.failed {
        out.push_str(&format!(
            "  warning: {} could not be deregistered: {}\n",
            f.revision, f.error
        ));
    }
    for k in &r.kept {
        out.push_str(&format!(
            "  kept {} ({})\n",
            k.revision,
            k.reason.describe()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::prune::{KeepReason, Kept, PruneFailure};

    fn report(dry_run: bool) -> PruneReport {
        PruneReport {
            family: "app".into(),
            keep: 2,
            dry_run,
            deregistered: vec!["app:2".into()],
            kept: vec![
                Kept {
                    revision: "app:4".into(),
                    reason: KeepReason::Newest,
                },
                Kept {
                    revision: "app:1".into(),
                    reason: KeepReason::RollbackTarget,
                },
            ],
            failed: vec![PruneFailure {
                revision: "app:3".into(),
                error: "DeregisterTaskDefinition access denied: no".into(),
            }],
            error: None,
        }
    }

    #[test]
    fn each_revision_is_listed_with_what_happened_to_it_and_why_the_others_stay() {
        let t = text(&report(false));
        assert!(t.contains("  deregistered app:2\n"), "{t}");
        assert!(
            t.contains("  warning: app:3 could not be deregistered"),
            "{t}"
        );
        assert!(t.contains("  kept app:4 (among the newest)\n"), "{t}");
        assert!(t.contains("  kept app:1 (the rollback target)\n"), "{t}");
        let dry = text(&report(true));
        assert!(dry.contains("  would deregister app:2\n"), "{dry}");
        assert!(!dry.contains("  deregistered"), "{dry}");
    }
}
