//! Resource tags in memory, for the deploy lock in engine tests. Any ARN can be tagged; a
//! cluster's ARN is derived from its name as ECS forms it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::world::{ACCOUNT, REGION};
use crate::platform::{ApiResult, ResourceTags};

#[derive(Debug, Clone, Default)]
pub struct MemoryTags {
    tags: Arc<Mutex<BTreeMap<String, BTreeMap<String, String>>>>,
}

impl MemoryTags {
    pub fn cluster_arn_of(cluster: &str) -> String {
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}")
    }

    /// Every tag of `arn`, as a test sees it.
    pub fn of(&self, arn: &str) -> BTreeMap<String, String> {
        self.tags
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(arn)
            .cloned()
            .unwrap_or_default()
    }
}

#[async_trait]
impl ResourceTags for MemoryTags {
    async fn cluster_arn(&self, cluster: &str) -> ApiResult<Option<String>> {
        Ok(Some(Self::cluster_arn_of(cluster)))
    }

    async fn resource_tags(&self, arn: &str) -> ApiResult<BTreeMap<String, String>> {
        Ok(self.of(arn))
    }

    async fn tag_resource(&self, arn: &str, tags: &BTreeMap<String, String>) -> ApiResult<()> {
        let mut all = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        all.entry(arn.to_string()).or_default().extend(tags.clone());
        Ok(())
    }

    async fn untag_resource(&self, arn: &str, keys: &[String]) -> ApiResult<()> {
        let mut all = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = all.get_mut(arn) {
            t.retain(|k, _| !keys.contains(k));
        }
        Ok(())
    }
}
