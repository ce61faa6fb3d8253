//! `platform::LogStreams` over the CloudWatch Logs SDK: GetLogEvents forward from the start of
//! a stream, page by page with its forward token, or its last events.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_cloudwatchlogs::Client;

use super::ApiCalls;
use crate::platform::{ApiErrorKind, ApiResult, LogEvent, LogPage, LogStreams};

pub struct LogsAdapter {
    client: Client,
    calls: ApiCalls,
}

impl LogsAdapter {
    pub fn new(config: &SdkConfig, calls: ApiCalls) -> LogsAdapter {
        LogsAdapter {
            client: Client::new(config),
            calls,
        }
    }
}

#[async_trait]
impl LogStreams for LogsAdapter {
    async fn log_events(
        &self,
        group: &str,
        stream: &str,
        after: Option<&str>,
    ) -> ApiResult<LogPage> {
        let request = self
            .client
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .start_from_head(true)
            .set_next_token(after.map(String::from))
            .send();
        let out = match self.calls.call("GetLogEvents", request).await {
            Ok(out) => out,
            // The container has not written to its stream yet.
            Err(e) if e.kind == ApiErrorKind::NotFound => {
                return Ok(LogPage {
                    events: Vec::new(),
                    next: after.map(String::from),
                });
            }
            Err(e) => return Err(e),
        };
        Ok(LogPage {
            events: events_of(&out),
            next: out.next_forward_token().map(String::from),
        })
    }

    async fn last_events(
        &self,
        group: &str,
        stream: &str,
        limit: usize,
    ) -> ApiResult<Vec<LogEvent>> {
        // Read from the end (startFromHead false): one request, however long the stream.
        let request = self
            .client
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .start_from_head(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send();
        match self.calls.call("GetLogEvents", request).await {
            Ok(out) => {
                let mut events = events_of(&out);
                // A page from the end may hold more than asked for on some endpoints.
                let extra = events.len().saturating_sub(limit);
                events.drain(..extra);
                Ok(events)
            }
            Err(e) if e.kind == ApiErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

fn events_of(
    out: &aws_sdk_cloudwatchlogs::operation::get_log_events::GetLogEventsOutput,
) -> Vec<LogEvent> {
    out.events()
        .iter()
        .map(|e| LogEvent {
            timestamp: e.timestamp().unwrap_or_default(),
            message: e.message().unwrap_or_default().to_string(),
        })
        .collect()
}
