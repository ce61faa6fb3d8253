//! Container image references (`[registry[:port]/]path[:tag][@digest]`), validated before any
//! AWS call so a typo never reaches a task definition.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Everything before the tag/digest: registry and repository path.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl ImageRef {
    /// Parses and validates a reference the way Docker's reference grammar does.
    pub fn parse(s: &str) -> Result<ImageRef, String> {
        if s.is_empty() {
            return Err("the image reference is empty".into());
        }
        if s.len() > 255 * 2 {
            return Err("the image reference is too long".into());
        }
        if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("the image reference contains {c:?}"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                validate_digest(d)?;
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A ':' after the last '/' starts the tag; one before it belongs to a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(&rest[at + 1..]))
            }
            None => (rest, None),
        };
        if let Some(t) = tag {
            validate_tag(t)?;
        }
        validate_repository(repository)?;
        Ok(ImageRef {
            repository: repository.into(),
            tag: tag.map(String::from),
            digest,
        })
    }

    /// Whether both name the same repository the way Docker resolves names: `nginx`,
    /// `docker.io/nginx`, `docker.io/library/nginx` and `index.docker.io/library/nginx` are one.
    pub fn same_repository(&self, other: &ImageRef) -> bool {
        canonical_repository(&self.repository) == canonical_repository(&other.repository)
    }
}

/// `nginx` -> `docker.io/library/nginx`; `acme/web` -> `docker.io/acme/web`; a name whose first
/// component is a registry host (it has a `.` or a `:`, or is `localhost`) as it is.
fn canonical_repository(repo: &str) -> String {
    let (first, rest) = repo.split_once('/').unwrap_or(("", repo));
    let is_host = first.contains(['.', ':']) || first == "localhost";
    let (host, path) = if is_host {
        (first, rest)
    } else {
        ("docker.io", repo)
    };
    let host = if host == "index.docker.io" || host == "registry-1.docker.io" {
        "docker.io"
    } else {
        host
    };
    if host == "docker.io" && !path.contains('/') {
        format!("docker.io/library/{path}")
    } else {
        format!("{host}/{path}")
    }
}

fn validate_tag(t: &str) -> Result<(), String> {
    let ok = !t.is_empty()
        && t.len() <= 128
        && t.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the tag {t:?} is not valid (letters, digits, '_', '.', '-'; at most 128)"
        ))
    }
}

fn validate_digest(d: &str) -> Result<(), String> {
    let Some((algo, hex)) = d.split_once(':') else {
        return Err(format!("the digest {d:?} is not ALGORITHM:HEX"));
    };
    let ok = !algo.is_empty()
        && algo
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
        && hex.len() >= 32
        && hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
    if ok {
        Ok(())
    } else {
        Err(format!("the digest {d:?} is not valid"))
    }
}

fn validate_repository(r: &str) -> Result<(), String> {
    if r.is_empty() {
        return Err("the image reference has no repository name".into());
    }
    let mut parts: Vec<&str> = r.split('/').collect();
    // The first part is a registry host when it has a '.', a ':' or is localhost.
    if parts.len() > 1
        && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
    {
        let host = parts.remove(0);
        let (name, port) = host
            .split_once(':')
            .map_or((host, None), |(h, p)| (h, Some(p)));
        let host_ok = !name.is_empty()
            && name.split('.').all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        let port_ok = port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()));
        if !host_ok || !port_ok {
            return Err(format!("the registry {host:?} is not a valid host[:port]"));
        }
    }
    for p in parts {
        if !path_component_ok(p) {
            return Err(format!(
                "the repository component {p:?} is not valid (lowercase letters and digits, separated by '.', '_', '__' or '-')"
            ));
        }
    }
    Ok(())
}

fn path_component_ok(p: &str) -> bool {
    let bytes = p.as_bytes();
    if bytes.is_empty() || !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if is_alnum(c) {
            i += 1;
            continue;
        }
        // A separator run: '.', '_', '__' or one or more '-'.
        let start = i;
        while i < bytes.len() && !is_alnum(bytes[i]) {
            i += 1;
        }
        let sep = &p[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_references_people_deploy() {
        for ok in [
            "rafabor/prototype-4-cb:v0.0.2",
            "nginx",
            "nginx:1.27-alpine",
            "public.ecr.aws/nginx/nginx:latest",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:sha-abc123",
            "localhost:5000/team/app:v1",
            "ghcr.io/org/my__app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "app:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            let parsed = ImageRef::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(parsed.to_string(), ok);
        }
    }

    #[test]
    fn docker_hub_names_are_one_repository_however_they_are_written() {
        let repo = |s: &str| ImageRef::parse(s).unwrap();
        let same = [
            ("nginx", "docker.io/library/nginx:1.27"),
            ("nginx:1", "docker.io/nginx"),
            ("index.docker.io/library/nginx", "nginx:latest"),
            ("acme/web:v1", "docker.io/acme/web:v2"),
            ("localhost:5000/app:v1", "localhost:5000/app:v2"),
        ];
        for (a, b) in same {
            assert!(repo(a).same_repository(&repo(b)), "{a} vs {b}");
        }
        let different = [
            ("nginx", "acme/nginx"),
            ("nginx", "ghcr.io/nginx"),
            ("localhost:5000/app", "localhost:5001/app"),
            ("library/app", "app2"),
        ];
        for (a, b) in different {
            assert!(!repo(a).same_repository(&repo(b)), "{a} vs {b}");
        }
    }

    #[test]
    fn splits_repository_tag_and_registry_port() {
        let r = ImageRef::parse("localhost:5000/app:v2").unwrap();
        assert_eq!(r.repository, "localhost:5000/app");
        assert_eq!(r.tag.as_deref(), Some("v2"));
        let r = ImageRef::parse("localhost:5000/app").unwrap();
        assert_eq!(r.tag, None);
    }

    #[test]
    fn rejects_malformed_references() {
        for bad in [
            "",
            "Rafabor/app:v1",
            "app:",
            "app:-v1",
            "app:v 1",
            "app::v1",
            "/app",
            "app/",
            "app@sha256:xyz",
            "app@sha256",
            "bad_-name",
            "registry.example.com:port/app",
            "app:v1\n",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
