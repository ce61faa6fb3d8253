//! Task definitions travel as raw JSON in both directions, so fields newer than our SDK survive.
//!
//! The SDK's typed structs would silently drop a member they do not know, on the way in
//! (DescribeTaskDefinition) and on the way out (RegisterTaskDefinition). Two interceptors, attached
//! per operation, bypass them: one swaps the serialised request body for our document before
//! signing (so the signature covers what is sent), the other keeps the response body as it came
//! over the wire. Tasks are read from the raw body the same way, for moto's sake (see
//! `RawSuccessBody`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
    FinalizerInterceptorContextMut, Output,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::{Map, Value};

use crate::platform::{ApiError, ApiErrorKind, Revision};

/// Replaces the request body with fixed bytes on every attempt.
#[derive(Debug)]
pub(crate) struct ReplaceRequestBody {
    body: Vec<u8>,
}

impl ReplaceRequestBody {
    pub(crate) fn new(body: Vec<u8>) -> ReplaceRequestBody {
        ReplaceRequestBody { body }
    }
}

impl Intercept for ReplaceRequestBody {
    fn name(&self) -> &'static str {
        "ecs-roll::ReplaceRequestBody"
    }

    // Before signing, not before transmit: SigV4 hashes the payload, so the body must be final
    // by then. Each retry starts again from the SDK's serialised request, so this runs per attempt.
    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        *request.body_mut() = SdkBody::from(self.body.clone());
        request
            .headers_mut()
            .insert("content-length", self.body.len().to_string());
        Ok(())
    }
}

/// Keeps the raw body of a successful response, which the caller reads instead of the SDK's
/// typed output. Since the typed output is not used, the SDK failing to parse a 2xx body (moto
/// sends numbers where the ECS model has strings, e.g. a task container's `cpu`) must neither fail
/// nor retry the call: such a parse error is replaced by an empty `O` before the retry decision.
#[derive(Debug)]
pub(crate) struct RawSuccessBody<O> {
    body: Arc<Mutex<Option<Vec<u8>>>>,
    /// Makes the empty typed output that stands in for one the SDK could not parse.
    empty: fn() -> O,
}

impl<O> Clone for RawSuccessBody<O> {
    fn clone(&self) -> Self {
        RawSuccessBody {
            body: self.body.clone(),
            empty: self.empty,
        }
    }
}

impl<O> RawSuccessBody<O> {
    pub(crate) fn new(empty: fn() -> O) -> RawSuccessBody<O> {
        RawSuccessBody {
            body: Arc::default(),
            empty,
        }
    }

    /// The body of the successful response, once the call has returned.
    pub(crate) fn take(&self) -> Option<Vec<u8>> {
        self.lock().take()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Vec<u8>>> {
        self.body.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<O: fmt::Debug + Send + Sync + 'static> Intercept for RawSuccessBody<O> {
    fn name(&self) -> &'static str {
        "ecs-roll::RawSuccessBody"
    }

    // For non-streaming operations the orchestrator reads the whole body into memory before
    // deserialising, so here it is loaded (whether or not parsing worked); a streaming body
    // would be a bug worth failing on.
    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        if !response.status().is_success() {
            return Ok(());
        }
        let bytes = response
            .body()
            .bytes()
            .ok_or("the response body was not loaded into memory when deserialisation finished")?;
        *self.lock() = Some(bytes.to_vec());
        Ok(())
    }

    // Runs after every attempt and before the retry strategy looks at the result.
    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let success = context.response().is_some_and(|r| r.status().is_success());
        if success
            && self.lock().is_some()
            && let Some(result @ Err(_)) = context.output_or_error_mut()
        {
            *result = Ok(Output::erase((self.empty)()));
        }
        Ok(())
    }
}

/// `body` with `tags` merged into its `tags` array: ours replace entries with the same key, new
/// ones are appended, every other field is left as it is.
pub(crate) fn with_tags(body: &Value, tags: &BTreeMap<String, String>) -> Result<Value, String> {
    let Value::Object(fields) = body else {
        return Err("the task definition document is not a JSON object".into());
    };
    let mut fields = fields.clone();
    if tags.is_empty() {
        return Ok(Value::Object(fields));
    }
    let mut merged: Vec<Value> = match fields.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(existing)) => existing.clone(),
        Some(_) => return Err("\"tags\" is not an array".into()),
    };
    for (key, value) in tags {
        let slot = merged
            .iter_mut()
            .find(|t| t.get("key").and_then(Value::as_str) == Some(key));
        let tag = Value::Object(Map::from_iter([
            ("key".to_string(), Value::String(key.clone())),
            ("value".to_string(), Value::String(value.clone())),
        ]));
        match slot {
            Some(existing) => *existing = tag,
            None => merged.push(tag),
        }
    }
    fields.insert("tags".into(), Value::Array(merged));
    Ok(Value::Object(fields))
}

/// `[{"key":..,"value":..}]` as a map; entries without a string key are skipped.
pub(crate) fn tags_of(tags: Option<&Value>) -> BTreeMap<String, String> {
    tags.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let key = t.get("key")?.as_str()?;
            let value = t.get("value").and_then(Value::as_str).unwrap_or_default();
            Some((key.to_string(), value.to_string()))
        })
        .collect()
}

/// The captured body of a successful response as JSON.
pub(crate) fn response_json(
    operation: &'static str,
    raw: Option<Vec<u8>>,
) -> Result<Value, ApiError> {
    let raw = raw.ok_or_else(|| unexpected(operation, "the response body was not captured"))?;
    serde_json::from_slice(&raw).map_err(|e| unexpected(operation, &format!("not JSON ({e})")))
}

fn unexpected(operation: &'static str, what: &str) -> ApiError {
    ApiError::new(
        operation,
        ApiErrorKind::Other,
        format!("unexpected response: {what}"),
    )
}

/// A Revision from a DescribeTaskDefinition or RegisterTaskDefinition response (both are
/// `{"taskDefinition": {...}, "tags": [...]}`). `sent_tags` stands in when the response carries
/// no `tags` member.
pub(crate) fn revision_from_response(
    operation: &'static str,
    mut response: Value,
    sent_tags: Option<&BTreeMap<String, String>>,
) -> Result<Revision, ApiError> {
    let bad = |what: &str| unexpected(operation, what);
    let body = response
        .get_mut("taskDefinition")
        .filter(|td| td.is_object())
        .map(Value::take)
        .ok_or_else(|| bad("no \"taskDefinition\" object"))?;
    let field = |name: &str| body.get(name).ok_or_else(|| bad(&format!("no {name}")));
    let arn = field("taskDefinitionArn")?
        .as_str()
        .ok_or_else(|| bad("taskDefinitionArn is not a string"))?
        .to_string();
    let family = field("family")?
        .as_str()
        .ok_or_else(|| bad("family is not a string"))?
        .to_string();
    let revision = field("revision")?
        .as_i64()
        .ok_or_else(|| bad("revision is not an integer"))?;
    let tags = match response.get("tags") {
        Some(t) => tags_of(Some(t)),
        None => sent_tags.cloned().unwrap_or_default(),
    };
    Ok(Revision {
        arn,
        family,
        revision,
        tags,
        body,
    })
}
