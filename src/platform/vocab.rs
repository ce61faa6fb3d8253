//! ECS's own vocabulary as enums: task status, deployment status, rollout state, service
//! deployment status, target health, deployment strategy and controller. Each keeps ECS's
//! spelling for output (`as_str`, `Display`, serde) and parses it back; a value ECS adds after
//! this was written is kept as `Other` instead of being refused, so a newer API never breaks a
//! deploy.

use serde::{Serialize, Serializer};

macro_rules! ecs_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know, as ECS spelled it.
            Other(String),
        }

        impl $name {
            pub fn parse(s: &str) -> $name {
                match s {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        /// For the simulator and tests, which speak ECS's strings; the engine matches variants.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> $name {
                $name::parse(s)
            }
        }
    };
}

ecs_enum! {
    /// A task's `lastStatus` or `desiredStatus`.
    TaskStatus {
        Provisioning => "PROVISIONING",
        Pending => "PENDING",
        Activating => "ACTIVATING",
        Running => "RUNNING",
        Deactivating => "DEACTIVATING",
        Stopping => "STOPPING",
        Deprovisioning => "DEPROVISIONING",
        Stopped => "STOPPED",
    }
}

impl TaskStatus {
    /// On its way to STOPPED, or there: the task will never serve again.
    pub fn is_stopping(&self) -> bool {
        matches!(
            self,
            TaskStatus::Deactivating
                | TaskStatus::Stopping
                | TaskStatus::Deprovisioning
                | TaskStatus::Stopped
        )
    }
}

ecs_enum! {
    /// The `status` of an entry of a service's `deployments`.
    DeploymentStatus {
        /// The deployment the service converges on.
        Primary => "PRIMARY",
        /// An older deployment still running tasks.
        Active => "ACTIVE",
        Inactive => "INACTIVE",
    }
}

ecs_enum! {
    /// A deployment's `rolloutState`.
    RolloutState {
        InProgress => "IN_PROGRESS",
        Completed => "COMPLETED",
        Failed => "FAILED",
    }
}

ecs_enum! {
    /// DescribeServiceDeployments' `status` of a service deployment.
    ServiceDeploymentStatus {
        Pending => "PENDING",
        InProgress => "IN_PROGRESS",
        Successful => "SUCCESSFUL",
        Stopped => "STOPPED",
        StopRequested => "STOP_REQUESTED",
        RollbackRequested => "ROLLBACK_REQUESTED",
        RollbackInProgress => "ROLLBACK_IN_PROGRESS",
        RollbackSuccessful => "ROLLBACK_SUCCESSFUL",
        RollbackFailed => "ROLLBACK_FAILED",
    }
}

impl ServiceDeploymentStatus {
    /// ECS undoes the deployment (circuit breaker, alarms, or StopServiceDeployment).
    pub fn is_rollback(&self) -> bool {
        matches!(
            self,
            ServiceDeploymentStatus::RollbackRequested
                | ServiceDeploymentStatus::RollbackInProgress
                | ServiceDeploymentStatus::RollbackSuccessful
                | ServiceDeploymentStatus::RollbackFailed
        )
    }
}

ecs_enum! {
    /// An ALB/NLB target's health state (DescribeTargetHealth).
    TargetHealthState {
        Initial => "initial",
        Healthy => "healthy",
        Unhealthy => "unhealthy",
        Unused => "unused",
        Draining => "draining",
        Unavailable => "unavailable",
    }
}

ecs_enum! {
    /// A service's deployment strategy.
    Strategy {
        Rolling => "ROLLING",
        BlueGreen => "BLUE_GREEN",
        Linear => "LINEAR",
        Canary => "CANARY",
    }
}

impl Strategy {
    /// ECS shifts traffic between two target groups itself (not replacing tasks in place).
    pub fn shifts_traffic(&self) -> bool {
        *self != Strategy::Rolling
    }
}

ecs_enum! {
    /// A CloudWatch alarm's `StateValue`.
    AlarmState {
        Ok => "OK",
        Alarm => "ALARM",
        InsufficientData => "INSUFFICIENT_DATA",
    }
}

ecs_enum! {
    /// Who deploys a service's tasks.
    DeploymentController {
        Ecs => "ECS",
        CodeDeploy => "CODE_DEPLOY",
        External => "EXTERNAL",
    }
}

ecs_enum! {
    /// The `status` of a cluster, service or container instance.
    ResourceStatus {
        Active => "ACTIVE",
        Draining => "DRAINING",
        Inactive => "INACTIVE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_as_ecs_spells_it() {
        for s in ["PROVISIONING", "RUNNING", "STOPPED", "DEPROVISIONING"] {
            assert_eq!(TaskStatus::parse(s).as_str(), s);
        }
        assert_eq!(RolloutState::parse("COMPLETED"), RolloutState::Completed);
        assert_eq!(
            TargetHealthState::parse("healthy"),
            TargetHealthState::Healthy
        );
        assert_eq!(Strategy::parse("BLUE_GREEN"), Strategy::BlueGreen);
    }

    #[test]
    fn an_unknown_value_is_kept_not_refused() {
        let s = ServiceDeploymentStatus::parse("PAUSED_FOR_APPROVAL");
        assert_eq!(
            s,
            ServiceDeploymentStatus::Other("PAUSED_FOR_APPROVAL".into())
        );
        assert_eq!(s.to_string(), "PAUSED_FOR_APPROVAL");
        assert!(!s.is_rollback());
        assert!(ServiceDeploymentStatus::RollbackInProgress.is_rollback());
    }

    #[test]
    fn statuses_serialize_as_their_ecs_names() {
        let v = serde_json::to_value(TaskStatus::Running).unwrap();
        assert_eq!(v, serde_json::json!("RUNNING"));
    }
}
