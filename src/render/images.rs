//! What the image checks found, in words: the refusal of a missing image, the warning of one
//! no registry vouched for, and a rollback target that could not serve a rollback.

use crate::engine::images::NotReady;
use crate::platform::ImageLookup;

/// What the registry said of `image`.
pub fn found(image: &str, l: &ImageLookup) -> String {
    match l {
        ImageLookup::Found => format!("{image} is in its registry"),
        ImageLookup::RepositoryMissing { registry } => {
            format!("{image}: {registry} has no such repository")
        }
        ImageLookup::TagMissing { registry } => format!(
            "{image}: the repository is in {registry}, but not this {}",
            if image.contains('@') { "digest" } else { "tag" }
        ),
        ImageLookup::NeedsCredentials { registry } => format!(
            "{image}: {registry} asks for credentials ecs-roll does not have (a private repository, or one that does not exist), so it could not be checked"
        ),
        ImageLookup::Unreachable { registry, error } => {
            format!("{image}: {registry} could not be asked ({error})")
        }
        ImageLookup::NotAsked { registry } => format!(
            "{image}: not checked: AWS_ENDPOINT_URL is a local AWS and no mirror is set for {registry} (ECS_ROLL_REGISTRY_MIRRORS), so nothing is sent off this machine"
        ),
    }
}

pub fn not_asked(registries: &[String]) -> String {
    let list = registries.join(", ");
    format!(
        "images not checked in {list}: AWS_ENDPOINT_URL is a local AWS, so no registry without a mirror is asked (set ECS_ROLL_REGISTRY_MIRRORS={}=URL to check them there)",
        registries.first().map_or("HOST", String::as_str)
    )
}

pub fn refusal_message(image: &str, l: &ImageLookup) -> String {
    format!("image not found: {}", found(image, l))
}

pub fn refusal_hint(l: &ImageLookup) -> String {
    match l {
        ImageLookup::RepositoryMissing { .. } | ImageLookup::TagMissing { .. } => {
            "push the image first, or fix --image (nothing was registered)".into()
        }
        _ => {
            "make the registry reachable, or deploy with --image-check auto to go on with a warning"
                .into()
        }
    }
}

pub fn not_ready(revision: &str, p: &NotReady) -> String {
    let why = match p {
        NotReady::Inactive => {
            format!("{revision} is INACTIVE (deregistered): ECS starts no task of it")
        }
        NotReady::ImageMissing { image, lookup } => found(image, lookup),
    };
    format!("rollback target {revision} is not ready: {why}")
}

pub fn not_ready_hint(p: &NotReady) -> String {
    match p {
        NotReady::Inactive => "register the revision again, or deploy without --require-rollback to go on without a rollback target".into(),
        NotReady::ImageMissing { .. } => "push the rollback target's image again, or deploy without --require-rollback to go on without a way back".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tag_and_a_missing_repository_are_told_apart() {
        let tag = ImageLookup::TagMissing {
            registry: "docker.io".into(),
        };
        assert_eq!(
            refusal_message("acme/web:v9", &tag),
            "image not found: acme/web:v9: the repository is in docker.io, but not this tag"
        );
        let repo = ImageLookup::RepositoryMissing {
            registry: "127.0.0.1:5000".into(),
        };
        assert!(found("x:1", &repo).contains("no such repository"));
    }
}
