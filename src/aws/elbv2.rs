//! `platform::TargetGroups` over the Elastic Load Balancing v2 (ALB/NLB) SDK.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types as sdk;

use super::ApiCalls;
use crate::platform::{
    ApiErrorKind, ApiResult, TargetGroup, TargetGroups, TargetHealth, TargetHealthState,
};

/// The target group attribute that holds the connection draining time.
const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";
/// What ELB applies when the attribute is absent (its documented default).
const DEFAULT_DEREGISTRATION_DELAY: Duration = Duration::from_secs(300);
/// ELB's defaults for a target group that reports no health check settings (lambda targets with
/// health checks off); they only bound how long the engine waits.
const DEFAULT_INTERVAL_SECS: i32 = 30;
const DEFAULT_HEALTHY_THRESHOLD: i32 = 5;
const DEFAULT_UNHEALTHY_THRESHOLD: i32 = 2;

pub struct TargetGroupsAdapter {
    client: Client,
    calls: ApiCalls,
}

impl TargetGroupsAdapter {
    pub fn new(config: &SdkConfig, calls: ApiCalls) -> TargetGroupsAdapter {
        TargetGroupsAdapter {
            client: Client::new(config),
            calls,
        }
    }
}

#[async_trait]
impl TargetGroups for TargetGroupsAdapter {
    async fn describe_target_group(&self, arn: &str) -> ApiResult<Option<TargetGroup>> {
        let request = self
            .client
            .describe_target_groups()
            .target_group_arns(arn)
            .send();
        let out = match self.calls.call("DescribeTargetGroups", request).await {
            Ok(out) => out,
            // TargetGroupNotFound.
            Err(e) if e.kind == ApiErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(group) = out
            .target_groups()
            .iter()
            .find(|g| g.target_group_arn() == Some(arn))
            .or_else(|| out.target_groups().first())
        else {
            return Ok(None);
        };

        let request = self
            .client
            .describe_target_group_attributes()
            .target_group_arn(arn)
            .send();
        let attributes = self
            .calls
            .call("DescribeTargetGroupAttributes", request)
            .await?;
        Ok(Some(target_group(group, attributes.attributes())))
    }

    async fn target_health(&self, arn: &str) -> ApiResult<Vec<TargetHealth>> {
        let request = self
            .client
            .describe_target_health()
            .target_group_arn(arn)
            .send();
        let out = self.calls.call("DescribeTargetHealth", request).await?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .map(target_health)
            .collect())
    }
}

fn target_group(g: &sdk::TargetGroup, attributes: &[sdk::TargetGroupAttribute]) -> TargetGroup {
    let deregistration_delay = attributes
        .iter()
        .find(|a| a.key() == Some(DEREGISTRATION_DELAY))
        .and_then(|a| a.value()?.trim().parse::<u64>().ok())
        .map_or(DEFAULT_DEREGISTRATION_DELAY, Duration::from_secs);
    TargetGroup {
        arn: g.target_group_arn().unwrap_or_default().to_string(),
        name: g.target_group_name().unwrap_or_default().to_string(),
        // ELB's default target type is `instance`.
        target_type: g
            .target_type()
            .map_or("instance", |t| t.as_str())
            .to_string(),
        port: g.port().and_then(|p| u16::try_from(p).ok()),
        protocol: g.protocol().map(|p| p.as_str().to_string()),
        health_check_interval: Duration::from_secs(non_negative(
            g.health_check_interval_seconds()
                .unwrap_or(DEFAULT_INTERVAL_SECS),
        )),
        healthy_threshold: count(
            g.healthy_threshold_count()
                .unwrap_or(DEFAULT_HEALTHY_THRESHOLD),
        ),
        unhealthy_threshold: count(
            g.unhealthy_threshold_count()
                .unwrap_or(DEFAULT_UNHEALTHY_THRESHOLD),
        ),
        deregistration_delay,
        load_balancer_arns: g.load_balancer_arns().to_vec(),
    }
}

fn target_health(d: &sdk::TargetHealthDescription) -> TargetHealth {
    let target = d.target();
    let health = d.target_health();
    TargetHealth {
        id: target.and_then(|t| t.id()).unwrap_or_default().to_string(),
        port: target
            .and_then(|t| t.port())
            .and_then(|p| u16::try_from(p).ok()),
        // A row without a state says nothing about health; `unavailable` is ELB's word for that.
        state: health
            .and_then(|h| h.state())
            .map_or(TargetHealthState::Unavailable, |s| {
                TargetHealthState::parse(s.as_str())
            }),
        reason: health
            .and_then(|h| h.reason())
            .map(|r| r.as_str().to_string()),
        description: health
            .and_then(|h| h.description())
            .filter(|d| !d.is_empty())
            .map(String::from),
    }
}

fn non_negative(n: i32) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(key: &str, value: &str) -> sdk::TargetGroupAttribute {
        sdk::TargetGroupAttribute::builder()
            .key(key)
            .value(value)
            .build()
    }

    #[test]
    fn target_groups_take_the_delay_from_the_attribute_or_elbs_default() {
        let g = sdk::TargetGroup::builder()
            .target_group_arn("arn:tg/web")
            .target_group_name("web")
            .target_type(sdk::TargetTypeEnum::Ip)
            .port(8080)
            .protocol(sdk::ProtocolEnum::Http)
            .health_check_interval_seconds(10)
            .healthy_threshold_count(3)
            .unhealthy_threshold_count(4)
            .load_balancer_arns("arn:lb/app")
            .build();
        let attributes = [
            attribute("stickiness.enabled", "false"),
            attribute(DEREGISTRATION_DELAY, "17"),
        ];
        assert_eq!(
            target_group(&g, &attributes),
            TargetGroup {
                arn: "arn:tg/web".into(),
                name: "web".into(),
                target_type: "ip".into(),
                port: Some(8080),
                protocol: Some("HTTP".into()),
                health_check_interval: Duration::from_secs(10),
                healthy_threshold: 3,
                unhealthy_threshold: 4,
                deregistration_delay: Duration::from_secs(17),
                load_balancer_arns: vec!["arn:lb/app".into()],
            }
        );
        let lambda = sdk::TargetGroup::builder()
            .target_group_arn("arn:tg/fn")
            .target_type(sdk::TargetTypeEnum::Lambda)
            .build();
        let got = target_group(&lambda, &[]);
        assert_eq!(
            (got.port, got.protocol, got.deregistration_delay),
            (None, None, DEFAULT_DEREGISTRATION_DELAY)
        );
        assert_eq!(
            (got.health_check_interval, got.healthy_threshold),
            (Duration::from_secs(30), 5)
        );
    }

    #[test]
    fn target_health_rows_keep_state_reason_and_description() {
        let row = sdk::TargetHealthDescription::builder()
            .target(
                sdk::TargetDescription::builder()
                    .id("i-1")
                    .port(32768)
                    .build(),
            )
            .target_health(
                sdk::TargetHealth::builder()
                    .state(sdk::TargetHealthStateEnum::Draining)
                    .reason(sdk::TargetHealthReasonEnum::DeregistrationInProgress)
                    .description("Target deregistration is in progress")
                    .build(),
            )
            .build();
        assert_eq!(
            target_health(&row),
            TargetHealth {
                id: "i-1".into(),
                port: Some(32768),
                state: "draining".into(),
                reason: Some("Target.DeregistrationInProgress".into()),
                description: Some("Target deregistration is in progress".into()),
            }
        );
        let empty = target_health(&sdk::TargetHealthDescription::builder().build());
        assert_eq!(
            (empty.id.as_str(), empty.state.as_str()),
            ("", "unavailable")
        );
    }
}
