//! The registries behind `platform::ImageRegistries`: each image is routed (`route`) to ECR's
//! API, to a registry's HTTP API v2 (`v2`, at its mirror when one is set), or, with a local AWS
//! and no mirror, to nowhere.

pub mod route;
pub mod v2;

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::aws::{EcrAdapter, EcrImage};
use crate::platform::{ImageLookup, ImageRegistries};
use route::Route;

pub struct Registries {
    pub ecr: EcrAdapter,
    /// Made on the first lookup that needs it: loading the system's CA certificates is
    /// start-up work every command would pay, and only a deploy asks a registry.
    pub v2: std::sync::OnceLock<v2::V2Client>,
    pub mirrors: BTreeMap<String, String>,
    /// AWS_ENDPOINT_URL on loopback: registries without a mirror are not asked.
    pub local_aws: bool,
}

#[async_trait]
impl ImageRegistries for Registries {
    async fn lookup(&self, image: &str) -> ImageLookup {
        match route::route(image, &self.mirrors, self.local_aws) {
            Route::NotAsked { registry } => ImageLookup::NotAsked { registry },
            Route::V2 {
                registry,
                endpoint,
                name,
                reference,
            } => {
                let client = self.v2.get_or_init(v2::V2Client::new);
                client.lookup(&registry, &endpoint, &name, &reference).await
            }
            Route::Ecr {
                host,
                registry_id,
                region,
                repository,
                tag,
                digest,
            } => {
                let image = EcrImage {
                    host: &host,
                    registry_id: &registry_id,
                    region: &region,
                    repository: &repository,
                    tag: tag.as_deref(),
                    digest: digest.as_deref(),
                };
                self.ecr.lookup(&image).await
            }
        }
    }
}
