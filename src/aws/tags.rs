//! `ResourceTags` for ECS: the deploy lock lives in a tag on the cluster (standalone tasks) or
//! on the service.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ecs::types::Tag;

use super::EcsAdapter;
use crate::platform::{ApiResult, ResourceTags};

#[async_trait]
impl ResourceTags for EcsAdapter {
    async fn cluster_arn(&self, cluster: &str) -> ApiResult<Option<String>> {
        let request = self.client.describe_clusters().clusters(cluster).send();
        let out = self.calls.call("DescribeClusters", request).await?;
        Ok(out
            .clusters()
            .iter()
            .find(|c| c.status() != Some("INACTIVE"))
            .and_then(|c| c.cluster_arn().map(String::from)))
    }

    async fn resource_tags(&self, arn: &str) -> ApiResult<BTreeMap<String, String>> {
        let request = self
            .client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send();
        let out = self.calls.call("ListTagsForResource", request).await?;
        Ok(out
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect())
    }

    async fn tag_resource(&self, arn: &str, tags: &BTreeMap<String, String>) -> ApiResult<()> {
        if tags.is_empty() {
            return Ok(());
        }
        let tags = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let request = self
            .client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags))
            .send();
        self.calls.call("TagResource", request).await?;
        Ok(())
    }

    async fn untag_resource(&self, arn: &str, keys: &[String]) -> ApiResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let request = self
            .client
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys.to_vec()))
            .send();
        self.calls.call("UntagResource", request).await?;
        Ok(())
    }
}
