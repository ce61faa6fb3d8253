//! `platform::Alarms` over the CloudWatch SDK: the alarms that gate a deploy.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types as sdk;

use super::ApiCalls;
use crate::platform::{Alarm, AlarmState, Alarms, ApiResult};

/// DescribeAlarms takes at most 100 names per request.
const NAMES_PER_REQUEST: usize = 100;

pub struct AlarmsAdapter {
    client: Client,
    calls: ApiCalls,
}

impl AlarmsAdapter {
    pub fn new(config: &SdkConfig, calls: ApiCalls) -> AlarmsAdapter {
        AlarmsAdapter {
            client: Client::new(config),
            calls,
        }
    }
}

#[async_trait]
impl Alarms for AlarmsAdapter {
    async fn describe_alarms(&self, names: &[String]) -> ApiResult<Vec<Alarm>> {
        let mut found = Vec::new();
        for chunk in names.chunks(NAMES_PER_REQUEST) {
            let mut token: Option<String> = None;
            loop {
                let request = self
                    .client
                    .describe_alarms()
                    .set_alarm_names(Some(chunk.to_vec()))
                    // ECS gates a deployment on either kind.
                    .alarm_types(sdk::AlarmType::MetricAlarm)
                    .alarm_types(sdk::AlarmType::CompositeAlarm)
                    .set_next_token(token.take())
                    .send();
                let out = self.calls.call("DescribeAlarms", request).await?;
                found.extend(
                    out.metric_alarms()
                        .iter()
                        .map(|a| alarm(a.alarm_name(), a.state_value(), a.state_reason())),
                );
                found.extend(
                    out.composite_alarms()
                        .iter()
                        .map(|a| alarm(a.alarm_name(), a.state_value(), a.state_reason())),
                );
                match out.next_token() {
                    Some(t) if !t.is_empty() => token = Some(t.to_string()),
                    _ => break,
                }
            }
        }
        Ok(found)
    }
}

fn alarm(name: Option<&str>, state: Option<&sdk::StateValue>, reason: Option<&str>) -> Alarm {
    Alarm {
        name: name.unwrap_or_default().to_string(),
        state: state.map_or(AlarmState::InsufficientData, |s| {
            AlarmState::parse(s.as_str())
        }),
        reason: reason.map(String::from),
    }
}
