//! A registry's HTTP API v2, asked whether a manifest exists: `HEAD /v2/NAME/manifests/REF`,
//! with the anonymous bearer-token flow Docker Hub (and GHCR, Quay) use when the registry
//! answers 401 with a `WWW-Authenticate: Bearer realm=...` challenge. A 404 is told apart
//! (repository or tag) by the repository's tag list.

use std::time::Duration;

use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::platform::ImageLookup;

/// How long one request may take: a registry slower than that counts as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Every manifest type a task may pull: Docker's and OCI's, single and multi-platform.
const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

pub struct V2Client {
    http: Client<Https, Empty<Bytes>>,
}

/// A `Bearer` challenge's parameters.
#[derive(Debug, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub service: Option<String>,
    pub scope: Option<String>,
}

/// Parses `Bearer realm="...",service="...",scope="..."`; None for another scheme.
pub fn challenge(header: &str) -> Option<Challenge> {
    let rest = header.trim().strip_prefix("Bearer ")?;
    let mut realm = None;
    let (mut service, mut scope) = (None, None);
    // Values are quoted and may hold commas (a scope of several actions): split on `",`.
    for part in rest.split("\",") {
        let (k, v) = part.split_once('=')?;
        let v = v.trim().trim_matches('"').to_string();
        match k.trim() {
            "realm" => realm = Some(v),
            "service" => service = Some(v),
            "scope" => scope = Some(v),
            _ => {}
        }
    }
    Some(Challenge {
        realm: realm?,
        service,
        scope,
    })
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    body: Bytes,
}

impl V2Client {
    pub fn new() -> V2Client {
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let connector = match builder.with_native_roots() {
            Ok(b) => b.https_or_http().enable_http1().build(),
            // No CA certificates on this machine: plain HTTP (a local mirror) still works,
            // HTTPS fails and the registry counts as unreachable.
            Err(_) => hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(
                    rustls::ClientConfig::builder()
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth(),
                )
                .https_or_http()
                .enable_http1()
                .build(),
        };
        V2Client {
            http: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    async fn send(&self, method: Method, url: &str, token: Option<&str>) -> Result<Answer, String> {
        let mut req = Request::builder()
            .method(method)
            .uri(url)
            .header(header::ACCEPT, ACCEPT)
            .header(
                header::USER_AGENT,
                concat!("ecs-roll/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req.body(Empty::new()).map_err(|e| e.to_string())?;
        let fut = async {
            let resp = self.http.request(req).await.map_err(|e| error_chain(&e))?;
            let status = resp.status();
            let challenge = resp
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok(Answer {
                status,
                challenge,
                body,
            })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fut)
            .await
            .map_err(|_| format!("no answer within {}s", REQUEST_TIMEOUT.as_secs()))?
    }

    /// An anonymous token for `c`'s scope.
    async fn token(&self, c: &Challenge) -> Result<Option<String>, String> {
        let mut url = c.realm.clone();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        for (k, v) in [("service", &c.service), ("scope", &c.scope)] {
            if let Some(v) = v {
                url.push_str(&format!("{sep}{k}={}", encode(v)));
                sep = '&';
            }
        }
        let a = self.send(Method::GET, &url, None).await?;
        if !a.status.is_success() {
            return Ok(None);
        }
        let v: serde_json::Value = serde_json::from_slice(&a.body).map_err(|e| e.to_string())?;
        Ok(v.get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .map(String::from))
    }

    /// Sends, answering one bearer challenge with an anonymous token.
    async fn authed(
        &self,
        method: Method,
        url: &str,
        token: &mut Option<String>,
    ) -> Result<Answer, String> {
        let a = self.send(method.clone(), url, token.as_deref()).await?;
        if a.status != StatusCode::UNAUTHORIZED || token.is_some() {
            return Ok(a);
        }
        let Some(c) = a.challenge.as_deref().and_then(challenge) else {
            return Ok(a);
        };
        match self.token(&c).await? {
            Some(t) => {
                *token = Some(t);
                self.send(method, url, token.as_deref()).await
            }
            None => Ok(a),
        }
    }

    pub async fn lookup(
        &self,
        registry: &str,
        endpoint: &str,
        name: &str,
        reference: &str,
    ) -> ImageLookup {
        match self.ask(endpoint, name, reference).await {
            Ok(l) => l.with_registry(registry),
            Err(error) => ImageLookup::Unreachable {
                registry: registry.to_string(),
                error: format!("{endpoint}: {error}"),
            },
        }
    }

    async fn ask(&self, endpoint: &str, name: &str, reference: &str) -> Result<Found, String> {
        let mut token = None;
        let manifest = format!("{endpoint}/v2/{name}/manifests/{reference}");
        let a = self.authed(Method::HEAD, &manifest, &mut token).await?;
        match a.status {
            s if s.is_success() => Ok(Found::Yes),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Ok(Found::NeedsCredentials),
            StatusCode::NOT_FOUND => {
                let tags = format!("{endpoint}/v2/{name}/tags/list");
                let t = self.authed(Method::GET, &tags, &mut token).await?;
                Ok(match t.status {
                    s if s.is_success() => Found::NoTag,
                    StatusCode::NOT_FOUND => Found::NoRepository,
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Found::NeedsCredentials,
                    // The manifest is not there; whether the repository is, it cannot say.
                    _ => Found::NoTag,
                })
            }
            s => Err(format!("HTTP {s} for {manifest}")),
        }
    }
}

impl Default for V2Client {
    fn default() -> Self {
        V2Client::new()
    }
}

enum Found {
    Yes,
    NoTag,
    NoRepository,
    NeedsCredentials,
}

impl Found {
    fn with_registry(self, registry: &str) -> ImageLookup {
        let registry = registry.to_string();
        match self {
            Found::Yes => ImageLookup::Found,
            Found::NoTag => ImageLookup::TagMissing { registry },
            Found::NoRepository => ImageLookup::RepositoryMissing { registry },
            Found::NeedsCredentials => ImageLookup::NeedsCredentials { registry },
        }
    }
}

/// The error and its sources: hyper's own message alone says only "client error".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Percent-encodes a query value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hubs_challenge_is_parsed() {
        let c = challenge(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#).unwrap();
        assert_eq!(
            c,
            Challenge {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/nginx:pull".into()),
            }
        );
        let several =
            challenge(r#"Bearer realm="https://ghcr.io/token",scope="repository:a/b:pull,push""#)
                .unwrap();
        assert_eq!(several.scope.as_deref(), Some("repository:a/b:pull,push"));
        assert_eq!(challenge("Basic realm=\"x\""), None);
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            encode("repository:library/nginx:pull"),
            "repository%3Alibrary%2Fnginx%3Apull"
        );
    }
}
