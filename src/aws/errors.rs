//! The one place SDK errors become `ApiError`s, shared by every adapter so ECS and ELB failures
//! are classified alike.

use std::error::Error;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::ErrorKind;

use crate::platform::{ApiError, ApiErrorKind};

/// How much of an unrecognised error body goes into a message: enough to show what the server
/// said (moto's IAM denials arrive as a 403 whose only explanation is the body).
const BODY_EXCERPT: usize = 300;

/// Classifies an SDK error and keeps AWS's own code and message in the text.
pub(crate) fn api_error<E>(operation: &'static str, err: &SdkError<E, HttpResponse>) -> ApiError
where
    E: ProvideErrorMetadata + Error + 'static,
{
    match err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let (code, message) = (ctx.err().code(), ctx.err().message());
            if code.is_none() && message.is_none() {
                return unparsed_response(operation, ctx.raw());
            }
            let kind = classify(code, message, Some(status));
            let text = match (code, message) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_string(),
                (None, m) => format!("HTTP {status}: {}", m.unwrap_or_default()),
            };
            ApiError::new(
                operation,
                kind,
                with_request_id(text, ctx.err().meta().extra("aws_request_id")),
            )
        }
        SdkError::ResponseError(ctx) => {
            let mut e = unparsed_response(operation, ctx.raw());
            // A 2xx that failed to parse is the SDK's problem, and only its error says why.
            if ctx.raw().status().is_success() {
                e.message = format!("{}; {}", chain(err), e.message);
            }
            e
        }
        SdkError::TimeoutError(_) => {
            ApiError::new(operation, ApiErrorKind::Unavailable, chain(err))
        }
        SdkError::DispatchFailure(failure) => {
            // Identity (credentials) and endpoint resolution run just before transmit, so their
            // failures come back as "other" dispatch failures, never as io or timeouts. Those
            // are configuration problems (no credentials, no region) that retrying cannot fix.
            // A reply cut short (hyper's IncompleteMessage: the server or a proxy closed the
            // connection mid-reply) is an "other" failure that the connector marks transient.
            let kind = if failure.is_io()
                || failure.is_timeout()
                || failure.as_other() == Some(ErrorKind::TransientError)
            {
                ApiErrorKind::Unavailable
            } else if mentions_credentials(err) {
                ApiErrorKind::Credentials
            } else if failure.is_user() {
                ApiErrorKind::InvalidRequest
            } else {
                ApiErrorKind::Other
            };
            ApiError::new(operation, kind, chain(err))
        }
        SdkError::ConstructionFailure(_) => {
            ApiError::new(operation, ApiErrorKind::InvalidRequest, chain(err))
        }
        _ => ApiError::new(operation, ApiErrorKind::Other, chain(err)),
    }
}

/// A response the SDK could not read an error code from: an HTML 5xx page, or an error in a
/// format the protocol does not expect (moto answers IAM denials on JSON services with an XML
/// 403). A code found in the body still decides; otherwise the status does.
fn unparsed_response(operation: &'static str, response: &HttpResponse) -> ApiError {
    let status = response.status().as_u16();
    let body = response
        .body()
        .bytes()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let code = code_in_body(&body);
    let kind = classify(code.as_deref(), Some(&body), Some(status));
    ApiError::new(
        operation,
        kind,
        format!("HTTP {status}: {}", excerpt(&body)),
    )
}

/// The error code of an XML (`<Code>..</Code>`) or JSON (`__type`, `code`) error body.
fn code_in_body(body: &str) -> Option<String> {
    if let Some((_, rest)) = body.split_once("<Code>") {
        return rest
            .split_once("</Code>")
            .map(|(code, _)| code.trim().to_string());
    }
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    let code = ["__type", "code", "Code"]
        .iter()
        .find_map(|k| json.get(*k)?.as_str())?;
    // awsJson codes may carry a namespace: "com.amazonaws.ecs#ClientException".
    Some(code.rsplit('#').next().unwrap_or(code).to_string())
}

/// The classification itself, from what a response says. Codes decide when present; the HTTP
/// status decides when the code is missing or unknown to us.
pub(crate) fn classify(
    code: Option<&str>,
    message: Option<&str>,
    status: Option<u16>,
) -> ApiErrorKind {
    if let Some(kind) = code.and_then(|c| classify_code(c, message.unwrap_or_default())) {
        return kind;
    }
    match status {
        Some(401) => ApiErrorKind::Credentials,
        Some(403) => ApiErrorKind::AccessDenied,
        Some(429) => ApiErrorKind::Throttled,
        Some(s) if s >= 500 => ApiErrorKind::Unavailable,
        _ => ApiErrorKind::Other,
    }
}

fn classify_code(code: &str, message: &str) -> Option<ApiErrorKind> {
    let kind = match code {
        "ThrottlingException"
        | "Throttling"
        | "ThrottledException"
        | "RequestThrottledException"
        | "RequestThrottled"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "SlowDown"
        | "BandwidthLimitExceeded"
        | "PriorRequestNotComplete"
        | "EC2ThrottledException"
        | "DependencyThrottleException"
        | "DependencyThrottle" => ApiErrorKind::Throttled,
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "AuthorizationError"
        | "UnauthorizedException" => ApiErrorKind::AccessDenied,
        "ExpiredToken"
        | "ExpiredTokenException"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "AuthFailure"
        | "RequestExpired"
        | "InvalidAccessKeyId" => ApiErrorKind::Credentials,
        "ServerException"
        | "InternalFailure"
        | "InternalError"
        | "InternalServerError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "RequestTimeout"
        | "RequestTimeoutException" => ApiErrorKind::Unavailable,
        // ECS reports a missing task definition or task as a plain ClientException or
        // InvalidParameterException; only the message tells it apart from a bad request.
        "ClientException"
        | "InvalidParameterException"
        | "ValidationError"
        | "ValidationException"
        | "InvalidParameterValue"
        | "InvalidParameterCombination"
        | "MissingParameter"
        | "InvalidInstance"
        | "InvalidConfigurationRequest"
        // StopServiceDeployment, ContinueServiceDeployment on a deployment past that point.
        | "ConflictException" => {
            if message_says_missing(message) {
                ApiErrorKind::NotFound
            } else {
                ApiErrorKind::InvalidRequest
            }
        }
        c if c.ends_with("NotFound") || c.ends_with("NotFoundException") => ApiErrorKind::NotFound,
        _ => return None,
    };
    Some(kind)
}

fn message_says_missing(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "not found",
        "does not exist",
        "unable to describe task definition",
        "revision is missing",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// Whether anything in the error's source chain comes from a credentials provider. The SDK's
/// `CredentialsError` displays as "... credential(s) ..." for every variant; matching the text
/// avoids a direct dependency on aws-credential-types just to downcast.
fn mentions_credentials(err: &(dyn Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.to_string().to_ascii_lowercase().contains("credential") {
            return true;
        }
        next = e.source();
    }
    false
}

/// The whole source chain, since the top-level SdkError text ("dispatch failure") alone says
/// nothing about what failed. Display only: the SDK's Debug output is no message for people.
fn chain(err: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        // Some layers repeat their source's text in their own.
        if !text.is_empty() && !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

fn with_request_id(text: String, request_id: Option<&str>) -> String {
    match request_id {
        Some(id) if !id.is_empty() => format!("{text} (request id {id})"),
        _ => text,
    }
}

fn excerpt(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return "no error code and an empty body".to_string();
    }
    let cut: String = body.chars().take(BODY_EXCERPT).collect();
    if cut.len() < body.len() {
        format!("{cut}...")
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ApiErrorKind::*;

    #[test]
    fn codes_decide_before_the_status() {
        let cases: &[(Option<&str>, Option<&str>, u16, ApiErrorKind)] = &[
            (
                Some("ClusterNotFoundException"),
                Some("Cluster not found."),
                400,
                NotFound,
            ),
            (Some("LoadBalancerNotFound"), None, 400, NotFound),
            (
                Some("ClientException"),
                Some("Unable to describe task definition."),
                400,
                NotFound,
            ),
            (
                Some("InvalidParameterException"),
                Some("The referenced task was not found."),
                400,
                NotFound,
            ),
            (
                Some("ClientException"),
                Some("Container.image should not be null or empty."),
                400,
                InvalidRequest,
            ),
            (
                Some("InvalidParameterException"),
                Some("bad cpu"),
                400,
                InvalidRequest,
            ),
            (Some("AccessDeniedException"), Some("no"), 400, AccessDenied),
            (Some("UnauthorizedOperation"), None, 403, AccessDenied),
            (Some("ExpiredTokenException"), None, 400, Credentials),
            (Some("UnrecognizedClientException"), None, 400, Credentials),
            (Some("InvalidClientTokenId"), None, 403, Credentials),
            (
                Some("ThrottlingException"),
                Some("Rate exceeded"),
                400,
                Throttled,
            ),
            (Some("Throttling"), None, 400, Throttled),
            (Some("ServerException"), None, 500, Unavailable),
        ];
        for (code, message, status, want) in cases {
            assert_eq!(
                classify(*code, *message, Some(*status)),
                *want,
                "{code:?} {message:?} {status}"
            );
        }
    }

    #[test]
    fn the_status_decides_without_a_known_code() {
        assert_eq!(classify(None, None, Some(403)), AccessDenied);
        assert_eq!(
            classify(Some("SomethingNew"), None, Some(403)),
            AccessDenied
        );
        assert_eq!(classify(None, None, Some(401)), Credentials);
        assert_eq!(classify(None, None, Some(429)), Throttled);
        assert_eq!(classify(None, None, Some(500)), Unavailable);
        assert_eq!(classify(None, None, Some(503)), Unavailable);
        assert_eq!(classify(None, None, Some(400)), Other);
        assert_eq!(classify(None, None, None), Other);
    }

    #[test]
    fn codes_are_found_in_bodies_the_sdk_could_not_parse() {
        let xml = "<ErrorResponse><Error><Code>InvalidClientTokenId</Code><Message>bad key</Message></Error></ErrorResponse>";
        assert_eq!(code_in_body(xml).as_deref(), Some("InvalidClientTokenId"));
        assert_eq!(
            code_in_body(r#"{"__type":"com.amazonaws.ecs#ClientException"}"#).as_deref(),
            Some("ClientException")
        );
        assert_eq!(code_in_body("<html>Internal Server Error</html>"), None);
        assert_eq!(code_in_body(""), None);
    }
}
