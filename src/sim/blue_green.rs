//! BLUE_GREEN deployments, simplified: the stages DescribeServiceDeployments reports, played
//! out on the service's own load balancers (no separate test listener).

use std::time::Duration;

use tokio::time::Instant;

use super::deployment::Stage;
use super::scheduler::Notes;
use super::service::ServiceRecord;
use super::world::World;

impl World {
    /// Blue/green, simplified: start every green task (SCALE_UP), put them in the load
    /// balancers and wait until they are healthy (TEST_TRAFFIC_SHIFT), take the blue ones out
    /// and let them drain (PRODUCTION_TRAFFIC_SHIFT), keep them running for the bake time
    /// (BAKE_TIME), then stop them (CLEAN_UP).
    pub(crate) fn blue_green(
        &mut self,
        svc: &mut ServiceRecord,
        t: Instant,
        bake: Duration,
        shifting: Duration,
        notes: &mut Notes,
    ) -> bool {
        let desired = svc.desired;
        let primary = svc.primary().id.clone();
        let live = |w: &World, svc: &ServiceRecord, green: bool| -> Vec<usize> {
            (0..svc.tasks.len())
                .filter(|k| (svc.tasks[*k].deployment == primary) == green)
                .filter(|k| !w.tasks[svc.tasks[*k].index].stop_requested(t))
                .collect()
        };
        let mut changed = false;
        let mut green = live(self, svc, true).len();
        while green < desired && svc.may_place(t) {
            if !self.start_for(svc, &primary, t, notes) {
                break;
            }
            green += 1;
            changed = true;
        }
        let greens = live(self, svc, true);
        let running = greens
            .iter()
            .filter(|k| self.tasks[svc.tasks[**k].index].is_running(t))
            .count();
        let healthy = greens
            .iter()
            .filter(|k| self.is_healthy(svc, &self.tasks[svc.tasks[**k].index], t))
            .count();
        let stage = svc.primary().stage.unwrap_or(Stage::ScaleUp);
        let next = match stage {
            Stage::ScaleUp if running >= desired => Some(Stage::TestTrafficShift),
            Stage::TestTrafficShift if healthy >= desired => {
                let mut drained = t;
                for k in live(self, svc, false) {
                    if svc.tasks[k].registered {
                        svc.tasks[k].registered = false;
                        svc.tasks[k].withdrawn = true;
                        drained = drained.max(self.deregister(svc, svc.tasks[k].index, t, notes));
                    }
                }
                svc.primary_mut().blue_drained_at = Some(drained);
                Some(Stage::ProductionTrafficShift)
            }
            Stage::ProductionTrafficShift
                if svc.primary().blue_drained_at.is_none_or(|at| t >= at)
                    && t >= svc.primary().stage_since + shifting =>
            {
                Some(Stage::BakeTime)
            }
            Stage::BakeTime if t >= svc.primary().stage_since + bake => Some(Stage::CleanUp),
            _ => None,
        };
        if let Some(next) = next {
            svc.primary_mut().enter(next, t);
            changed = true;
        }
        if svc.primary().stage == Some(Stage::CleanUp) {
            let reason = format!("Scaling activity initiated by (deployment {primary})");
            for k in live(self, svc, false) {
                self.retire(svc, k, t, &reason, notes);
                changed = true;
            }
        }
        changed
    }
}
