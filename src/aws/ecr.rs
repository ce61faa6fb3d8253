//! ECR's side of the image checks: DescribeImages for one tag or digest, through the same
//! endpoint settings as every other client (`AWS_ENDPOINT_URL`, or `AWS_ENDPOINT_URL_ECR`),
//! in the region the image's registry host names.

use aws_config::{Region, SdkConfig};
use aws_sdk_ecr::Client;
use aws_sdk_ecr::types::ImageIdentifier;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::ApiCalls;
use crate::platform::{ApiErrorKind, ImageLookup};

pub struct EcrAdapter {
    config: SdkConfig,
    calls: ApiCalls,
}

/// One image in ECR: `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY` at a tag or digest.
pub struct EcrImage<'a> {
    pub host: &'a str,
    pub registry_id: &'a str,
    pub region: &'a str,
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

impl EcrAdapter {
    pub fn new(config: &SdkConfig, calls: ApiCalls) -> EcrAdapter {
        EcrAdapter {
            config: config.clone(),
            calls,
        }
    }

    pub async fn lookup(&self, image: &EcrImage<'_>) -> ImageLookup {
        let conf = aws_sdk_ecr::config::Builder::from(&self.config)
            .region(Region::new(image.region.to_string()))
            .build();
        let id = ImageIdentifier::builder()
            .set_image_tag(image.tag.map(String::from))
            .set_image_digest(image.digest.map(String::from))
            .build();
        self.calls.record("DescribeImages");
        let answer = Client::from_conf(conf)
            .describe_images()
            .registry_id(image.registry_id)
            .repository_name(image.repository)
            .image_ids(id)
            .send()
            .await;
        let registry = image.host.to_string();
        let err = match answer {
            Ok(out) if !out.image_details().is_empty() => return ImageLookup::Found,
            Ok(_) => return ImageLookup::TagMissing { registry },
            Err(e) => e,
        };
        match err.code() {
            Some("RepositoryNotFoundException") => ImageLookup::RepositoryMissing { registry },
            Some("ImageNotFoundException") => ImageLookup::TagMissing { registry },
            _ => {
                let e = super::errors::api_error("DescribeImages", &err);
                match e.kind {
                    ApiErrorKind::Credentials => ImageLookup::NeedsCredentials { registry },
                    ApiErrorKind::AccessDenied => ImageLookup::Unreachable {
                        registry,
                        error: format!("ecr:DescribeImages is not allowed: {}", e.message),
                    },
                    _ => ImageLookup::Unreachable {
                        registry,
                        error: e.message,
                    },
                }
            }
        }
    }
}
