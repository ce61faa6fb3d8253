//! Where to ask about an image: ECR's API for an ECR host, a registry's HTTP API v2 (at its
//! mirror when one is set) for any other, or nowhere when AWS is local and no mirror is set,
//! so a local setup sends nothing off the machine. Pure.

use std::collections::BTreeMap;

use crate::image::ImageRef;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Ecr {
        host: String,
        registry_id: String,
        region: String,
        repository: String,
        tag: Option<String>,
        digest: Option<String>,
    },
    V2 {
        /// The registry as the image names it (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
        registry: String,
        /// Where it answers: `https://registry-1.docker.io`, or the mirror's URL.
        endpoint: String,
        /// The repository inside it (`library/nginx`).
        name: String,
        /// A digest, a tag, or `latest`.
        reference: String,
    },
    NotAsked {
        registry: String,
    },
}

/// Docker Hub, however an image names it.
const DOCKER_HUB: &str = "docker.io";

/// The registry host and the repository inside it.
fn split(repository: &str) -> (String, String) {
    let (first, rest) = repository.split_once('/').unwrap_or(("", repository));
    let is_host = first.contains(['.', ':']) || first == "localhost";
    let (host, path) = if is_host {
        (first, rest)
    } else {
        (DOCKER_HUB, repository)
    };
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB,
        h => h,
    };
    let path = if host == DOCKER_HUB && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_string()
    };
    (host.to_string(), path)
}

/// `ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn]` (and `dkr.ecr-fips`): (account, region).
fn ecr_host(host: &str) -> Option<(String, String)> {
    let mut parts = host.split('.');
    let account = parts.next()?;
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if parts.next()? != "dkr" || !matches!(parts.next()?, "ecr" | "ecr-fips") {
        return None;
    }
    let region = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    matches!(
        rest.as_slice(),
        ["amazonaws", "com"] | ["amazonaws", "com", "cn"]
    )
    .then(|| (account.to_string(), region.to_string()))
}

/// Parses `ECS_ROLL_REGISTRY_MIRRORS`: `HOST=URL,HOST=URL`.
pub fn parse_mirrors(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (host, url) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not HOST=URL"))?;
        let url = url.trim().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "the mirror of {host} must be an http:// or https:// URL, not {url:?}"
            ));
        }
        out.insert(host.trim().to_string(), url.to_string());
    }
    Ok(out)
}

pub fn route(image: &str, mirrors: &BTreeMap<String, String>, local_aws: bool) -> Route {
    let Ok(r) = ImageRef::parse(image) else {
        return Route::NotAsked {
            registry: image.to_string(),
        };
    };
    let (host, name) = split(&r.repository);
    let reference = r
        .digest
        .clone()
        .or_else(|| r.tag.clone())
        .unwrap_or_else(|| "latest".into());
    if let Some(endpoint) = mirrors.get(&host) {
        return Route::V2 {
            registry: host,
            endpoint: endpoint.clone(),
            name,
            reference,
        };
    }
    if let Some((registry_id, region)) = ecr_host(&host) {
        return Route::Ecr {
            host,
            registry_id,
            region,
            repository: name,
            tag: if r.digest.is_some() {
                None
            } else {
                Some(r.tag.unwrap_or_else(|| "latest".into()))
            },
            digest: r.digest,
        };
    }
    if local_aws {
        return Route::NotAsked { registry: host };
    }
    let endpoint = if host == DOCKER_HUB {
        "https://registry-1.docker.io".to_string()
    } else {
        format!("https://{host}")
    };
    Route::V2 {
        registry: host,
        endpoint,
        name,
        reference,
    }
}

/// Whether `url` (AWS_ENDPOINT_URL) is on this machine.
pub fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(registry: &str, endpoint: &str, name: &str, reference: &str) -> Route {
        Route::V2 {
            registry: registry.into(),
            endpoint: endpoint.into(),
            name: name.into(),
            reference: reference.into(),
        }
    }

    #[test]
    fn each_image_is_asked_where_it_lives() {
        let none = BTreeMap::new();
        let mirrors =
            parse_mirrors("docker.io=http://127.0.0.1:5000/, ghcr.io=http://127.0.0.1:5001")
                .unwrap();
        let table = [
            (
                "nginx",
                &none,
                false,
                v2(
                    "docker.io",
                    "https://registry-1.docker.io",
                    "library/nginx",
                    "latest",
                ),
            ),
            (
                "rafabor/prototype-4-cb:v0.0.2",
                &none,
                false,
                v2(
                    "docker.io",
                    "https://registry-1.docker.io",
                    "rafabor/prototype-4-cb",
                    "v0.0.2",
                ),
            ),
            (
                "index.docker.io/library/redis:7",
                &mirrors,
                true,
                v2("docker.io", "http://127.0.0.1:5000", "library/redis", "7"),
            ),
            (
                "ghcr.io/acme/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                &mirrors,
                true,
                v2(
                    "ghcr.io",
                    "http://127.0.0.1:5001",
                    "acme/web",
                    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                ),
            ),
            (
                "quay.io/org/app:1",
                &none,
                false,
                v2("quay.io", "https://quay.io", "org/app", "1"),
            ),
            (
                "quay.io/org/app:1",
                &mirrors,
                true,
                Route::NotAsked {
                    registry: "quay.io".into(),
                },
            ),
            (
                "rafabor/prototype-4-cb:v0.0.2",
                &none,
                true,
                Route::NotAsked {
                    registry: "docker.io".into(),
                },
            ),
        ];
        for (image, m, local, want) in table {
            assert_eq!(route(image, m, local), want, "{image}");
        }
    }

    #[test]
    fn an_ecr_image_goes_to_ecr_in_its_own_region_even_with_a_local_aws() {
        let r = route(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web:v2",
            &BTreeMap::new(),
            true,
        );
        assert_eq!(
            r,
            Route::Ecr {
                host: "123456789012.dkr.ecr.eu-west-1.amazonaws.com".into(),
                registry_id: "123456789012".into(),
                region: "eu-west-1".into(),
                repository: "team/web".into(),
                tag: Some("v2".into()),
                digest: None,
            }
        );
        assert!(matches!(
            route(
                "12345.dkr.ecr.eu-west-1.amazonaws.com/web:1",
                &BTreeMap::new(),
                false
            ),
            Route::V2 { .. }
        ));
    }

    #[test]
    fn mirrors_must_be_urls_and_loopback_is_recognised() {
        assert!(parse_mirrors("docker.io").is_err());
        assert!(parse_mirrors("docker.io=127.0.0.1:5000").is_err());
        assert_eq!(parse_mirrors("").unwrap(), BTreeMap::new());
        for (url, local) in [
            ("http://127.0.0.1:5000", true),
            ("http://localhost:4566/", true),
            ("http://[::1]:5000", true),
            ("https://ecs.us-east-1.amazonaws.com", false),
            ("http://10.0.0.1:5000", false),
        ] {
            assert_eq!(is_loopback(url), local, "{url}");
        }
    }
}
