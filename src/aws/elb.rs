//! `platform::ClassicElb` over the classic Elastic Load Balancing SDK.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_elasticloadbalancing::Client;
use aws_sdk_elasticloadbalancing::types as sdk;

use super::ApiCalls;
use crate::platform::{
    ApiError, ApiErrorKind, ApiResult, ClassicElb, ClassicLoadBalancer, HealthCheck, HealthState,
    InstanceHealth, Listener,
};

pub struct ClassicElbAdapter {
    client: Client,
    calls: ApiCalls,
}

impl ClassicElbAdapter {
    pub fn new(config: &SdkConfig, calls: ApiCalls) -> ClassicElbAdapter {
        ClassicElbAdapter {
            client: Client::new(config),
            calls,
        }
    }

    fn instances(ids: &[String]) -> Vec<sdk::Instance> {
        ids.iter()
            .map(|id| sdk::Instance::builder().instance_id(id).build())
            .collect()
    }
}

#[async_trait]
impl ClassicElb for ClassicElbAdapter {
    async fn describe_load_balancer(&self, name: &str) -> ApiResult<Option<ClassicLoadBalancer>> {
        const OP: &str = "DescribeLoadBalancers";
        let request = self
            .client
            .describe_load_balancers()
            .load_balancer_names(name)
            .send();
        let out = match self.calls.call(OP, request).await {
            Ok(out) => out,
            Err(e) if e.kind == ApiErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(lb) = out.load_balancer_descriptions().first() else {
            return Ok(None);
        };
        let health_check = lb.health_check().map(health_check).ok_or_else(|| {
            ApiError::new(
                OP,
                ApiErrorKind::Other,
                format!("load balancer {name} has no health check"),
            )
        })?;

        let request = self
            .client
            .describe_load_balancer_attributes()
            .load_balancer_name(name)
            .send();
        let attrs = self
            .calls
            .call("DescribeLoadBalancerAttributes", request)
            .await?;
        let attrs = attrs.load_balancer_attributes();
        let connection_draining = attrs
            .and_then(|a| a.connection_draining())
            .filter(|d| d.enabled())
            .map(|d| secs(d.timeout().unwrap_or_default()));
        let cross_zone = attrs
            .and_then(|a| a.cross_zone_load_balancing())
            .is_some_and(|c| c.enabled());

        Ok(Some(ClassicLoadBalancer {
            name: lb.load_balancer_name().unwrap_or(name).to_string(),
            instances: lb
                .instances()
                .iter()
                .filter_map(|i| i.instance_id().map(String::from))
                .collect(),
            listeners: lb
                .listener_descriptions()
                .iter()
                .filter_map(|d| d.listener())
                .map(listener)
                .collect(),
            health_check,
            connection_draining,
            cross_zone,
            availability_zones: lb.availability_zones().to_vec(),
        }))
    }

    async fn instance_health(&self, name: &str) -> ApiResult<Vec<InstanceHealth>> {
        let request = self
            .client
            .describe_instance_health()
            .load_balancer_name(name)
            .send();
        let out = self.calls.call("DescribeInstanceHealth", request).await?;
        Ok(out.instance_states().iter().map(instance_health).collect())
    }

    async fn register_instances(&self, name: &str, instance_ids: &[String]) -> ApiResult<()> {
        // The API rejects an empty list; registering nothing is not an error.
        if instance_ids.is_empty() {
            return Ok(());
        }
        let request = self
            .client
            .register_instances_with_load_balancer()
            .load_balancer_name(name)
            .set_instances(Some(Self::instances(instance_ids)))
            .send();
        self.calls
            .call("RegisterInstancesWithLoadBalancer", request)
            .await?;
        Ok(())
    }

    async fn deregister_instances(&self, name: &str, instance_ids: &[String]) -> ApiResult<()> {
        if instance_ids.is_empty() {
            return Ok(());
        }
        let request = self
            .client
            .deregister_instances_from_load_balancer()
            .load_balancer_name(name)
            .set_instances(Some(Self::instances(instance_ids)))
            .send();
        self.calls
            .call("DeregisterInstancesFromLoadBalancer", request)
            .await?;
        Ok(())
    }
}

/// Whole seconds from the API; a negative value never comes from ELB and reads as zero.
fn secs(seconds: i32) -> Duration {
    Duration::from_secs(u64::try_from(seconds).unwrap_or_default())
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or_default()
}

/// Ports from the API are always 1..=65535; anything else reads as 0 rather than wrapping.
fn port(p: i32) -> u16 {
    u16::try_from(p).unwrap_or_default()
}

fn health_check(h: &sdk::HealthCheck) -> HealthCheck {
    HealthCheck {
        target: h.target().to_string(),
        interval: secs(h.interval()),
        timeout: secs(h.timeout()),
        healthy_threshold: count(h.healthy_threshold()),
        unhealthy_threshold: count(h.unhealthy_threshold()),
    }
}

fn listener(l: &sdk::Listener) -> Listener {
    Listener {
        load_balancer_port: port(l.load_balancer_port()),
        instance_port: port(l.instance_port()),
        protocol: l.protocol().to_string(),
    }
}

fn instance_health(s: &sdk::InstanceState) -> InstanceHealth {
    let state = match s.state() {
        Some("InService") => HealthState::InService,
        Some("OutOfService") => HealthState::OutOfService,
        _ => HealthState::Unknown,
    };
    // ELB reports "N/A" when it has nothing to say.
    let meaningful = |v: Option<&str>| v.filter(|v| !v.is_empty() && *v != "N/A").map(String::from);
    InstanceHealth {
        instance_id: s.instance_id().unwrap_or_default().to_string(),
        state,
        reason_code: meaningful(s.reason_code()),
        description: meaningful(s.description()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_check_seconds_become_durations() {
        let h = sdk::HealthCheck::builder()
            .target("HTTP:8080/health")
            .interval(30)
            .timeout(5)
            .healthy_threshold(10)
            .unhealthy_threshold(2)
            .build()
            .unwrap();
        assert_eq!(
            health_check(&h),
            HealthCheck {
                target: "HTTP:8080/health".into(),
                interval: Duration::from_secs(30),
                timeout: Duration::from_secs(5),
                healthy_threshold: 10,
                unhealthy_threshold: 2,
            }
        );
    }

    #[test]
    fn instance_health_maps_states_and_drops_placeholder_text() {
        let s = |state: &str, reason: &str, description: &str| {
            instance_health(
                &sdk::InstanceState::builder()
                    .instance_id("i-1")
                    .state(state)
                    .reason_code(reason)
                    .description(description)
                    .build(),
            )
        };
        let in_service = s("InService", "N/A", "N/A");
        assert_eq!(
            (
                in_service.state,
                in_service.reason_code,
                in_service.description
            ),
            (HealthState::InService, None, None)
        );
        let draining = s(
            "OutOfService",
            "Instance",
            "Instance deregistration currently in progress.",
        );
        assert_eq!(draining.state, HealthState::OutOfService);
        assert!(draining.is_deregistering());
        assert_eq!(s("Unknown", "ELB", "").state, HealthState::Unknown);
    }
}
