//! Following a one-off task's CloudWatch Logs stream: each read goes on from the forward token
//! of the last, so every line is shown once and in order, however often it is read.

use serde::Serialize;

use crate::platform::{ApiResult, LogStreams, short};

/// Where the awslogs driver writes a container's log (its `logConfiguration` options).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogSource {
    pub container: String,
    /// `awslogs-group`.
    pub group: String,
    /// `awslogs-region`, when it names one.
    pub region: Option<String>,
    /// `awslogs-stream-prefix`: the stream is `PREFIX/CONTAINER/TASK_ID`. Without one the
    /// stream's name cannot be known before the task runs (ECS names it after the Docker
    /// container id), and the log is not followed.
    pub stream_prefix: String,
}

impl LogSource {
    /// The awslogs options of `container` in a task definition, when it logs there with a
    /// stream prefix.
    pub fn of(body: &serde_json::Value, container: &str) -> Option<LogSource> {
        let def = body
            .get("containerDefinitions")?
            .as_array()?
            .iter()
            .find(|c| c.get("name").and_then(|n| n.as_str()) == Some(container))?;
        let log = def.get("logConfiguration")?;
        if log.get("logDriver")?.as_str()? != "awslogs" {
            return None;
        }
        let options = log.get("options")?;
        let option = |k: &str| options.get(k).and_then(|v| v.as_str()).map(String::from);
        Some(LogSource {
            container: container.to_string(),
            group: option("awslogs-group")?,
            region: option("awslogs-region"),
            stream_prefix: option("awslogs-stream-prefix")?,
        })
    }

    /// The stream a task's container writes to.
    pub fn stream(&self, task_arn: &str) -> String {
        format!(
            "{}/{}/{}",
            self.stream_prefix,
            self.container,
            short(task_arn)
        )
    }
}

/// Reads on from where the last read ended.
pub(super) struct Follower {
    group: String,
    stream: String,
    token: Option<String>,
}

/// Pages read in one go at most, so a chatty task cannot hold up the status checks.
const PAGES_PER_READ: usize = 10;

impl Follower {
    pub(super) fn new(source: &LogSource, task_arn: &str) -> Follower {
        Follower {
            group: source.group.clone(),
            stream: source.stream(task_arn),
            token: None,
        }
    }

    /// The lines written since the last read, oldest first.
    pub(super) async fn read(&mut self, logs: &dyn LogStreams) -> ApiResult<Vec<String>> {
        let mut lines = Vec::new();
        for _ in 0..PAGES_PER_READ {
            let page = logs
                .log_events(&self.group, &self.stream, self.token.as_deref())
                .await?;
            let at_end = page.events.is_empty() || page.next == self.token;
            lines.extend(page.events.into_iter().map(|e| e.message));
            if page.next.is_some() {
                self.token = page.next;
            }
            if at_end {
                break;
            }
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_awslogs_stream_is_named_by_prefix_container_and_task_id() {
        let body = serde_json::json!({"containerDefinitions": [{"name": "app",
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/app", "awslogs-region": "eu-west-1",
                "awslogs-stream-prefix": "ecs"}}},
            {"name": "plain", "logConfiguration": {"logDriver": "json-file"}}]});
        let src = LogSource::of(&body, "app").unwrap();
        assert_eq!(src.group, "/ecs/app");
        assert_eq!(src.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            src.stream("arn:aws:ecs:eu-west-1:1:task/c/abc123"),
            "ecs/app/abc123"
        );
        assert_eq!(LogSource::of(&body, "plain"), None);
        assert_eq!(LogSource::of(&body, "missing"), None);
    }
}
