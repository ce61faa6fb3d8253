//! Progress bars on a terminal: one bar for the whole rollout, a spinner per wait. Every
//! other event is printed above the bars so the log stays readable after they finish.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::plain::describe;
use crate::engine::{Event, Observer};

pub struct Bars {
    multi: MultiProgress,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    rollout: Option<ProgressBar>,
    spinner: Option<ProgressBar>,
}

impl Bars {
    pub fn new() -> Bars {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            state: Mutex::new(State::default()),
        }
    }

    fn print(&self, text: &str) {
        for l in text.lines() {
            let _ = self.multi.println(l);
        }
    }
}

impl Default for Bars {
    fn default() -> Self {
        Bars::new()
    }
}

impl Observer for Bars {
    fn event(&self, event: &Event) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::Plan(plan) => {
                if let Some(text) = describe(event) {
                    self.print(&text);
                }
                if let Some(old) = st.rollout.take() {
                    old.finish_and_clear();
                }
                let bar = self.multi.add(ProgressBar::new(plan.steps.len() as u64));
                bar.set_style(
                    ProgressStyle::with_template("{prefix:.bold} [{bar:30.green/white}] {pos}/{len} steps {elapsed:>4} {wide_msg}")
                        .expect("static template")
                        .progress_chars("=> "),
                );
                bar.set_prefix("rollout");
                st.rollout = Some(bar);
            }
            Event::StepStarted { title, left, .. } => {
                if let Some(b) = &st.rollout {
                    let left = left.map_or(String::new(), |l| {
                        format!(" (about {} left)", super::human(l))
                    });
                    b.set_message(format!("{title}{left}"));
                }
            }
            Event::StepFinished { .. } => {
                if let Some(b) = &st.rollout {
                    b.inc(1);
                }
            }
            Event::WaitStarted { what, .. } => {
                let s = self.multi.add(ProgressBar::new_spinner());
                s.set_style(
                    ProgressStyle::with_template("  {spinner:.cyan} {msg} {elapsed}")
                        .expect("static template"),
                );
                s.enable_steady_tick(Duration::from_millis(120));
                s.set_message(super::failure::wait(what));
                if let Some(old) = st.spinner.replace(s) {
                    old.finish_and_clear();
                }
            }
            Event::WaitProgress { what, progress } => {
                if let Some(s) = &st.spinner {
                    s.set_message(format!(
                        "{}: {}",
                        super::failure::wait(what),
                        super::failure::progress(progress)
                    ));
                }
            }
            Event::WaitFinished { .. } => {
                if let Some(s) = st.spinner.take() {
                    s.finish_and_clear();
                }
                if let Some(text) = describe(event) {
                    self.print(&text);
                }
            }
            Event::Finished => {
                if let Some(s) = st.spinner.take() {
                    s.finish_and_clear();
                }
                if let Some(b) = st.rollout.take() {
                    b.finish();
                }
            }
            other => {
                if let Some(text) = describe(other) {
                    self.print(&text);
                }
            }
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = st.spinner.take() {
            s.finish_and_clear();
        }
        if let Some(b) = st.rollout.take() {
            b.finish();
        }
    }
}
