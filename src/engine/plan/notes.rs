//! What a plan does to the load balancer that its steps alone do not make plain: instances
//! it registers again that someone took out, and instances it leaves registered without a
//! task of the family. Pure functions of the slots and the plan, said before any change.

use super::{Action, Plan, Slot};

/// Something about the plan the user should hear before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// These instances run the family's tasks but are not registered with the load balancer
    /// (taken out by hand, or by an interrupted run); the plan registers them again with the
    /// new revision's task.
    Reregisters { instances: Vec<String> },
    /// Registered with the load balancer, running no task of the family, and the plan starts
    /// none there: the load balancer keeps sending it traffic (when InService) or keeps it
    /// OutOfService, after the deploy as before.
    LeftRegistered { instance: String, in_service: bool },
}

/// The notes for `plan`, made from `slots`.
pub fn notes(slots: &[Slot], plan: &Plan) -> Vec<Note> {
    let touched: Vec<&str> = plan
        .steps
        .iter()
        .flat_map(|s| match &s.action {
            Action::Register { slots } | Action::Launch { slots } => {
                slots.iter().map(|s| s.ec2_instance_id.as_str()).collect()
            }
            Action::Replace { slot } => vec![slot.ec2_instance_id.as_str()],
            Action::Retire { .. } => vec![],
        })
        .collect();
    let registers = |s: &Slot| touched.contains(&s.ec2_instance_id.as_str());
    let mut out = Vec::new();
    let reregistered: Vec<String> = slots
        .iter()
        .filter(|s| !s.registered && !s.tasks.is_empty() && registers(s))
        .map(|s| s.ec2_instance_id.clone())
        .collect();
    if !reregistered.is_empty() {
        out.push(Note::Reregisters {
            instances: reregistered,
        });
    }
    out.extend(
        slots
            .iter()
            .filter(|s| s.registered && s.tasks.is_empty() && !registers(s))
            .map(|s| Note::LeftRegistered {
                instance: s.ec2_instance_id.clone(),
                in_service: s.in_service,
            }),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::slot;
    use super::super::{Slot, plan};
    use super::*;

    const OLD: &str = "arn:td/app:1";

    fn out_of_elb(s: Slot) -> Slot {
        Slot {
            registered: false,
            in_service: false,
            ..s
        }
    }

    /// A spare instance of another app: registered, InService, no task of the family, and
    /// its host port taken.
    fn spare(i: usize) -> Slot {
        Slot {
            registered: true,
            in_service: true,
            fits_target: false,
            fits_after_stop: false,
            ..slot(i, None)
        }
    }

    #[test]
    fn the_plan_says_what_it_does_to_the_load_balancer_beyond_its_steps() {
        // (slots, count) -> notes
        let table: Vec<(Vec<Slot>, usize, Vec<Note>)> = vec![
            // The reference setup: nothing to say.
            (
                vec![slot(0, Some(OLD)), slot(1, Some(OLD)), slot(2, Some(OLD))],
                3,
                vec![],
            ),
            // i-2 was taken out of the ELB by hand: the rolling plan registers it again.
            (
                vec![
                    slot(0, Some(OLD)),
                    slot(1, Some(OLD)),
                    out_of_elb(slot(2, Some(OLD))),
                ],
                3,
                vec![Note::Reregisters {
                    instances: vec!["i-2".into()],
                }],
            ),
            // A spare running another app on the port stays registered, InService.
            (
                vec![
                    slot(0, Some(OLD)),
                    slot(1, Some(OLD)),
                    slot(2, Some(OLD)),
                    spare(3),
                ],
                3,
                vec![Note::LeftRegistered {
                    instance: "i-3".into(),
                    in_service: true,
                }],
            ),
            // A registered empty instance the plan uses is no news.
            (
                vec![
                    slot(0, Some(OLD)),
                    Slot {
                        registered: true,
                        ..slot(1, None)
                    },
                ],
                1,
                vec![],
            ),
        ];
        for (slots, count, want) in table {
            let p = plan(&slots, None, count, false).unwrap();
            assert_eq!(notes(&slots, &p), want, "{slots:#?}");
        }
    }
}
