//! ECS's rolling update: replace tasks within the service's deployment configuration. At most
//! maximumPercent of the desired count run or start at once; tasks of other deployments (and
//! surplus ones) stop only while at least minimumHealthyPercent stay healthy.

use tokio::time::Instant;

use super::scheduler::Notes;
use super::service::ServiceRecord;
use super::world::World;

impl World {
    /// Replaces and scales within the deployment configuration: stops tasks of other
    /// deployments (and surplus ones) while enough stay healthy, starts PRIMARY tasks while
    /// the total stays under the maximum.
    pub(crate) fn rolling(
        &mut self,
        svc: &mut ServiceRecord,
        t: Instant,
        notes: &mut Notes,
    ) -> bool {
        let desired = svc.desired;
        let max_pct = svc.config.maximum_percent.unwrap_or(200).max(0) as usize;
        let min_pct = svc.config.minimum_healthy_percent.unwrap_or(100).max(0) as usize;
        let max_total = desired * max_pct / 100;
        let min_healthy = (desired * min_pct).div_ceil(100);
        let primary = svc.primary().id.clone();

        let live: Vec<usize> = (0..svc.tasks.len())
            .filter(|k| !self.tasks[svc.tasks[*k].index].stop_requested(t))
            .collect();
        let healthy = |w: &World, k: usize| w.is_healthy(svc, &w.tasks[svc.tasks[k].index], t);
        let mut healthy_total = live.iter().filter(|k| healthy(self, **k)).count();
        let mut live_total = live.len();
        let mut live_primary = live
            .iter()
            .filter(|k| svc.tasks[**k].deployment == primary)
            .count();

        // Others' tasks first, unhealthy ones before healthy ones; then PRIMARY surplus.
        let mut candidates: Vec<(bool, bool, usize)> = live
            .iter()
            .map(|k| (svc.tasks[*k].deployment == primary, healthy(self, *k), *k))
            .collect();
        candidates.sort_by_key(|(ours, healthy, k)| (*ours, *healthy, *k));
        let reason = format!("Scaling activity initiated by (deployment {primary})");
        let mut changed = false;
        for (ours, is_healthy, k) in candidates {
            if ours && live_primary <= desired {
                continue;
            }
            if is_healthy {
                if healthy_total <= min_healthy {
                    continue;
                }
                healthy_total -= 1;
            }
            self.retire(svc, k, t, &reason, notes);
            live_total -= 1;
            if ours {
                live_primary -= 1;
            }
            changed = true;
        }

        let mut room = max_total.saturating_sub(live_total);
        while live_primary < desired && room > 0 && svc.may_place(t) {
            if !self.start_for(svc, &primary, t, notes) {
                break;
            }
            live_primary += 1;
            room -= 1;
            changed = true;
        }
        changed
    }
}
