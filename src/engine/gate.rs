//! The preflight gate of several targets in one command: no target changes anything until
//! every target's preflight passed. A target that is refused (or fails before its first
//! change) holds all the others back, so a command that deploys three services either starts
//! all three or none.

use std::sync::Arc;

use tokio::sync::watch;

use super::refusal::Refusal;
use crate::error::Error;

/// Where each target stands: None while its preflight runs, then whether it passed.
pub struct Gate {
    names: Vec<String>,
    state: watch::Sender<Vec<Option<bool>>>,
}

impl Gate {
    pub fn new(names: Vec<String>) -> Arc<Gate> {
        let (state, _) = watch::channel(vec![None; names.len()]);
        Arc::new(Gate { names, state })
    }

    /// Target `index`'s place at the gate.
    pub fn ticket(self: &Arc<Gate>, index: usize) -> Ticket {
        Ticket {
            gate: self.clone(),
            index,
        }
    }

    /// Records how target `index` came to the gate; its first word stands.
    fn settle(&self, index: usize, passed: bool) {
        self.state.send_modify(|s| {
            if let Some(slot @ None) = s.get_mut(index) {
                *slot = Some(passed);
            }
        });
    }
}

/// One target's place at the gate.
#[derive(Clone)]
pub struct Ticket {
    gate: Arc<Gate>,
    index: usize,
}

impl Ticket {
    /// This target's preflight passed: waits for every other target's, then lets it go on,
    /// or refuses it (exit 2, nothing changed) naming the targets that did not pass.
    pub async fn ready(&self) -> Result<(), Error> {
        self.gate.settle(self.index, true);
        let mut rx = self.gate.state.subscribe();
        let settled = rx
            .wait_for(|s| s.iter().all(Option::is_some))
            .await
            .map(|s| s.clone())
            .unwrap_or_default();
        let refused: Vec<String> = settled
            .iter()
            .zip(&self.gate.names)
            .filter(|(s, _)| **s == Some(false))
            .map(|(_, n)| n.clone())
            .collect();
        if refused.is_empty() {
            Ok(())
        } else {
            Err(Error::refused(Refusal::OtherTargetRefused {
                targets: refused,
            }))
        }
    }

    /// This target's run ended: if it never came to the gate, it holds the others back when
    /// it failed (a refusal, bad input) and lets them go when it did not (a dry run).
    pub fn ended(&self, ok: bool) {
        self.gate.settle(self.index, ok);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn every_target_waits_for_every_preflight_and_one_refusal_holds_all_back() {
        let gate = Gate::new(vec!["web".into(), "worker".into(), "api".into()]);
        let (web, worker, api) = (gate.ticket(0), gate.ticket(1), gate.ticket(2));
        let waiting = tokio::spawn(async move { web.ready().await });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "waits for the others");
        worker.ended(false);
        let also = tokio::spawn({
            let api = api.clone();
            async move { api.ready().await }
        });
        api.ended(true); // after ready: the first word stands
        for r in [waiting.await.unwrap(), also.await.unwrap()] {
            let e = r.unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert_eq!(
                e.refusal(),
                Some(&Refusal::OtherTargetRefused {
                    targets: vec!["worker".into()]
                })
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn targets_go_on_once_all_passed_or_ended_without_change() {
        let gate = Gate::new(vec!["web".into(), "plan-only".into()]);
        let (web, dry) = (gate.ticket(0), gate.ticket(1));
        let waiting = tokio::spawn(async move { web.ready().await });
        dry.ended(true);
        waiting.await.unwrap().unwrap();
    }
}
