//! `platform::LogStreams` over the CloudWatch Logs SDK: GetLogEvents forward from the start of
//! a stream, page by page with its forward token.

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
        let events = out
            .events()
            .iter()
            .map(|e| LogEvent {
                timestamp: e.timestamp().unwrap_or_default(),
                message: e.message().unwrap_or_default().to_string(),
            })
            .collect();
        Ok(LogPage {
            events,
            next: out.next_forward_token().map(String::from),
        })
    }
}
