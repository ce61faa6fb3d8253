//! The failed container's last log lines (`engine::failure_log`) in each output: indented
//! after the hint in the text summary, `failure.evidence.log` in JSON, a code block in the job
//! summary, and the last line in the `::error` annotation.

use std::fmt::Write as _;

use serde_json::Value;

use crate::engine::failure_log::LogExcerpt;

fn heading(e: &LogExcerpt) -> String {
    format!(
        "last {} line(s) of {}'s log ({} {})",
        e.lines.len(),
        e.container,
        e.group,
        e.stream
    )
}

pub fn text(e: &LogExcerpt) -> String {
    let mut s = format!("{}:\n", heading(e));
    for l in &e.lines {
        let _ = writeln!(s, "  | {}", l.trim_end());
    }
    s
}

pub fn markdown(e: &LogExcerpt) -> String {
    // A fence longer than any run of backticks in the lines keeps them inside the block.
    let longest = e
        .lines
        .iter()
        .map(|l| longest_backtick_run(l))
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let mut s = format!("\n**{}:**\n\n{fence}\n", heading(e).replace('|', "\\|"));
    for l in &e.lines {
        let _ = writeln!(s, "{}", l.trim_end());
    }
    let _ = writeln!(s, "{fence}");
    s
}

fn longest_backtick_run(l: &str) -> usize {
    l.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

pub fn json(e: &LogExcerpt) -> Value {
    serde_json::to_value(e).unwrap_or_default()
}

/// The last line, for a one-line annotation.
pub fn last_line(e: &LogExcerpt) -> Option<String> {
    e.lines
        .last()
        .map(|l| format!("; last log line of {}: {}", e.container, l.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excerpt(lines: &[&str]) -> LogExcerpt {
        LogExcerpt {
            container: "app".into(),
            group: "/ecs/app".into(),
            stream: "ecs/app/abc".into(),
            lines: lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn the_text_indents_every_line_under_where_it_was_read() {
        let t = text(&excerpt(&["starting", "panic: DATABASE_URL not set"]));
        assert_eq!(
            t,
            "last 2 line(s) of app's log (/ecs/app ecs/app/abc):\n  | starting\n  | panic: DATABASE_URL not set\n"
        );
    }

    #[test]
    fn a_line_with_a_code_fence_stays_inside_the_block() {
        let m = markdown(&excerpt(&["```", "x"]));
        assert!(m.contains("\n````\n```\nx\n````\n"), "{m}");
    }
}
