//! `ecs-roll unlock`: removes the deploy lock of the target, for when the run that held it
//! crashed (a lock also expires by itself). Says whose lock it was.

use crate::cli::{Global, Source};
use crate::config::Loaded;
use crate::engine::lock::{self, Lock};
use crate::error::Error;
use crate::settings::Settings;

pub async fn run(g: &Global, source: &Source, loaded: Loaded) -> Result<i32, Error> {
    let mut s = Settings::one(g, Some(source), loaded, "unlock")?;
    let aws = super::connect(&s).await?;
    super::family::find(&mut s, &aws).await?;
    let before = Error::from_api_before_change;
    let (arn, key) = match s.target.service() {
        Some(service) => {
            let svc = aws
                .services
                .describe_service(&s.cluster, service)
                .await
                .map_err(before)?;
            let svc = svc.ok_or_else(|| {
                Error::preflight(
                    format!("service {service:?} not found in cluster {:?}", s.cluster),
                    "check --service and --cluster",
                )
            })?;
            (svc.arn, lock::SERVICE_KEY.to_string())
        }
        None => {
            let arn = aws.tags.cluster_arn(&s.cluster).await.map_err(before)?;
            let arn = arn.ok_or_else(|| {
                Error::preflight(
                    format!("cluster {:?} not found", s.cluster),
                    "check --cluster and --region",
                )
            })?;
            (arn, lock::key_for_family(&s.family))
        }
    };
    let tags = aws.tags.resource_tags(&arn).await.map_err(before)?;
    match tags.get(&key) {
        None => println!("no deploy lock is held"),
        Some(v) => {
            aws.tags
                .untag_resource(&arn, std::slice::from_ref(&key))
                .await
                .map_err(Error::from_api_after_change)?;
            match Lock::decode(v) {
                Some(l) => println!(
                    "removed the deploy lock of {}",
                    crate::render::lock::describe(&l)
                ),
                None => println!("removed an unreadable deploy lock ({v})"),
            }
        }
    }
    Ok(0)
}
