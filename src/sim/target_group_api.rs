//! `platform::TargetGroups` (Elastic Load Balancing v2) over the simulated world.

use async_trait::async_trait;

use super::Sim;
use super::world::Fail;
use crate::platform::{ApiResult, TargetGroup, TargetGroups, TargetHealth};

#[async_trait]
impl TargetGroups for Sim {
    async fn describe_target_group(&self, arn: &str) -> ApiResult<Option<TargetGroup>> {
        self.call("DescribeTargetGroups", |w, _| {
            Ok(w.target_groups.get(arn).map(|tg| tg.describe()))
        })
        .await
    }

    async fn target_health(&self, arn: &str) -> ApiResult<Vec<TargetHealth>> {
        self.call("DescribeTargetHealth", |w, _| {
            w.target_groups
                .get(arn)
                .map(|tg| tg.health())
                .ok_or_else(|| {
                    Fail::not_found(format!(
                        "TargetGroupNotFound: One or more target groups not found ({arn})"
                    ))
                })
        })
        .await
    }
}
