//! Parsed arguments, environment and config file, merged once (flags > ECS_ROLL_* > config)
//! and validated into typed options. Nothing past this module sees raw strings.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{self, OutputFormat, Progress};
use crate::config::Loaded;
use crate::engine::Timeouts;
use crate::engine::wait::Poll;
use crate::error::Error;
use crate::taskdef::TaskDefinition;

#[derive(Debug, Clone)]
pub struct Settings {
    pub cluster: String,
    /// The task definition family (standalone; in service mode the one given, if any: the
    /// service's own is read from ECS).
    pub family: String,
    pub target: Target,
    pub profile: Option<String>,
    pub region: Option<String>,
    pub output: OutputFormat,
    pub mode: Mode,
    pub poll: Poll,
    /// How often a run renews the deploy lock it holds.
    pub lock_heartbeat: Duration,
    /// The task definition file in force (flag, env or config), if any.
    pub task_definition: Option<PathBuf>,
    pub container: Option<String>,
    pub config: Loaded,
}

/// What a command deploys to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Standalone tasks of the family behind a classic ELB.
    Standalone { load_balancer: String },
    /// An ECS service; its load balancers come from ECS.
    Service { name: String },
}

impl Target {
    /// The service, in service mode.
    pub fn service(&self) -> Option<&str> {
        match self {
            Target::Service { name } => Some(name),
            Target::Standalone { .. } => None,
        }
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// indicatif bars on a terminal.
    Bars,
    /// One line per state change (CI, pipes).
    Plain,
    /// Plain lines plus GitHub Actions workflow commands, outputs and a job summary.
    GithubActions,
}

#[derive(Debug, Clone)]
pub struct RolloutSettings {
    pub count: Option<usize>,
    pub timeouts: Timeouts,
    pub dry_run: bool,
    pub allow_downtime: bool,
}

impl Settings {
    pub fn new(
        g: &cli::Global,
        source: Option<&cli::Source>,
        config: Loaded,
    ) -> Result<Settings, Error> {
        let c = &config.config;
        let task_definition = source
            .and_then(|s| s.task_definition.clone())
            .or_else(|| c.task_definition.as_ref().map(|p| config.resolve(p)));
        let container = source
            .and_then(|s| s.container.clone())
            .or_else(|| c.container.clone());
        let cluster = required(
            g.cluster.clone().or_else(|| c.cluster.clone()),
            "cluster",
            "--cluster",
            "ECS_ROLL_CLUSTER",
        )?;
        // A service named anywhere selects service mode; its load balancers come from ECS, so
        // a load balancer from the config file is ignored (one given as a flag conflicts).
        let service = g
            .service
            .first()
            .cloned()
            .or_else(|| c.service.clone())
            .filter(|s| !s.trim().is_empty());
        let (target, family) = if let Some(name) = service {
            (
                Target::Service { name },
                g.family
                    .clone()
                    .or_else(|| c.family.clone())
                    .unwrap_or_default(),
            )
        } else {
            let lb = g
                .load_balancer
                .clone()
                .or_else(|| c.load_balancer.clone())
                .filter(|s| !s.trim().is_empty());
            let lb = lb.ok_or_else(|| {
                Error::usage(
                    "no load balancer or service given",
                    "pass --load-balancer NAME (standalone tasks behind a classic ELB) or --service NAME (an ECS service), or set one in ecs-roll.toml",
                )
            })?;
            let file_family = match &task_definition {
                Some(path) => Some(load_task_definition(path)?.family().to_string()),
                None => None,
            };
            let named = g.family.clone().or_else(|| c.family.clone());
            // None: found behind the load balancer once connected (`commands::family`).
            let family = standalone_family(file_family, named)?.unwrap_or_default();
            (Target::Standalone { load_balancer: lb }, family)
        };
        let poll = match &g.poll_interval {
            Some(s) => Poll::every(parse_duration(s, "--poll-interval")?),
            None => Poll::default(),
        };
        let lock_heartbeat = match &g.lock_heartbeat {
            Some(s) => parse_duration(s, "--lock-heartbeat")?,
            None => crate::engine::lock::HEARTBEAT,
        };
        Ok(Settings {
            cluster,
            family,
            target,
            profile: g.profile.clone().or_else(|| c.profile.clone()),
            region: g.region.clone().or_else(|| c.region.clone()),
            output: g.output.unwrap_or(OutputFormat::Text),
            mode: mode(g.progress.unwrap_or(Progress::Auto)),
            poll,
            lock_heartbeat,
            task_definition,
            container,
            config,
        })
    }

    /// Every target the command line selects: one, several `--service`s, or `[[app]]`s of the
    /// config (`--app NAME` or `--all`), each with its name.
    pub fn all(
        g: &cli::Global,
        source: Option<&cli::Source>,
        loaded: Loaded,
    ) -> Result<Vec<(String, Settings)>, Error> {
        if g.all || !g.apps.is_empty() {
            let apps = &loaded.config.app;
            if apps.is_empty() {
                return Err(Error::usage(
                    "--app/--all select [[app]] entries, but ecs-roll.toml has none",
                    "add [[app]] tables with a name each to ecs-roll.toml",
                ));
            }
            for name in &g.apps {
                if !apps.iter().any(|a| &a.name == name) {
                    let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
                    return Err(Error::usage(
                        format!("no [[app]] named {name:?} in ecs-roll.toml"),
                        format!("pick one of: {}", names.join(", ")),
                    ));
                }
            }
            let mut out = Vec::new();
            for app in apps.iter().filter(|a| g.all || g.apps.contains(&a.name)) {
                let merged = Loaded {
                    config: loaded.config.for_app(app),
                    path: loaded.path.clone(),
                };
                let s = Settings::new(g, source, merged).map_err(|e| match e {
                    Error::Usage { message, hint } => Error::Usage {
                        message: format!("app {}: {message}", app.name),
                        hint,
                    },
                    other => other,
                })?;
                out.push((app.name.clone(), s));
            }
            return Ok(out);
        }
        if g.service.len() > 1 {
            let mut out = Vec::new();
            for svc in &g.service {
                let mut one = g.clone();
                one.service = vec![svc.clone()];
                out.push((svc.clone(), Settings::new(&one, source, loaded.clone())?));
            }
            return Ok(out);
        }
        Ok(vec![(String::new(), Settings::new(g, source, loaded)?)])
    }

    /// The one target of a command that works on one (`status`, `diff`, `run`, ...): the
    /// `[[app]]` that `--app` names, with its own keys, or the target of the flags.
    pub fn one(
        g: &cli::Global,
        source: Option<&cli::Source>,
        loaded: Loaded,
        command: &str,
    ) -> Result<Settings, Error> {
        let mut targets = Settings::all(g, source, loaded)?;
        if targets.len() > 1 {
            let names: Vec<&str> = targets.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::usage(
                format!(
                    "{command} works on one target, but {} are selected: {}",
                    targets.len(),
                    names.join(", ")
                ),
                "pick one with --app NAME or a single --service NAME",
            ));
        }
        Ok(targets.remove(0).1)
    }

    /// Standalone tasks whose family no flag, variable, config key or task definition file
    /// names: `commands::family` finds it behind the load balancer.
    pub fn family_unknown(&self) -> bool {
        matches!(self.target, Target::Standalone { .. }) && self.family.is_empty()
    }

    pub fn rollout(&self, r: &cli::Rollout) -> Result<RolloutSettings, Error> {
        let c = &self.config.config;
        let count = match (&r.count, c.count) {
            (Some(s), _) => Some(parse_count(s)?),
            (None, Some(n)) => Some(parse_count(&n.to_string())?),
            (None, None) => None,
        };
        let mut timeouts = Timeouts::default();
        if let Some(t) = r.timeout.as_deref().or(c.timeout.as_deref()) {
            timeouts.total = Some(parse_duration(t, "--timeout")?);
        }
        if let Some(t) = r.health_timeout.as_deref().or(c.health_timeout.as_deref()) {
            timeouts.health = Some(parse_duration(t, "--health-timeout")?);
        }
        if let Some(t) = r.health_grace.as_deref().or(c.health_grace.as_deref()) {
            // Zero is a grace period too: ECS's default.
            timeouts.health_grace = match humantime::parse_duration(t.trim()) {
                Ok(d) if d.is_zero() => d,
                _ if t.trim() == "0" => Duration::ZERO,
                _ => parse_duration(t, "--health-grace")?,
            };
        }
        Ok(RolloutSettings {
            count,
            timeouts,
            dry_run: r.dry_run,
            allow_downtime: r.allow_downtime,
        })
    }
}

/// The family of standalone tasks: the task definition file's when one is given (a family
/// named besides must be the same), else the one named (--family, ECS_ROLL_FAMILY, config),
/// else None: the one that runs behind the load balancer.
pub fn standalone_family(
    file: Option<String>,
    named: Option<String>,
) -> Result<Option<String>, Error> {
    let named = named.filter(|n| !n.trim().is_empty());
    match (file, named) {
        (Some(file), Some(named)) if file != named => Err(Error::usage(
            format!(
                "the task definition file is of family {file:?}, but the family given is {named:?}"
            ),
            format!(
                "drop --family (the file names the family), or pass a task definition file of family {named:?}"
            ),
        )),
        (Some(file), _) => Ok(Some(file)),
        (None, named) => Ok(named),
    }
}

impl Settings {
    /// The account and region this target's requests go to, as far as ecs-roll can tell
    /// without asking AWS (the profile names the account): what shares a rate limit and the
    /// batched reads with other targets. Unset parts come from the environment, which is the
    /// same for every target.
    pub fn account_scope(&self) -> String {
        format!(
            "{}/{}",
            self.region.as_deref().unwrap_or(""),
            self.profile.as_deref().unwrap_or("")
        )
    }

    /// `--alarm` (the flags win), else `alarms` of the config: each named once.
    pub fn alarms(&self, flags: &[String]) -> Result<Vec<String>, Error> {
        let (given, from) = if flags.is_empty() {
            (&self.config.config.alarms, "alarms in ecs-roll.toml")
        } else {
            (&flags.to_vec(), "--alarm")
        };
        let mut names: Vec<String> = Vec::new();
        for name in given.iter().map(|n| n.trim()) {
            if name.is_empty() || name.chars().count() > 255 {
                return Err(Error::usage(
                    format!("{from} has an alarm name {name:?}, which CloudWatch cannot have"),
                    "give each alarm's name as CloudWatch shows it (1 to 255 characters)",
                ));
            }
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
        Ok(names)
    }

    /// `--bake` (the flag wins), else `bake` of the config; zero when neither is given.
    pub fn bake(&self, flag: Option<&str>) -> Result<Duration, Error> {
        match (flag, self.config.config.bake.as_deref()) {
            (Some(f), _) => parse_duration(f, "--bake"),
            (None, Some(c)) => parse_duration(c, "bake in ecs-roll.toml"),
            (None, None) => Ok(Duration::ZERO),
        }
    }

    /// The LINEAR and CANARY steps: each flag, else its key in the config.
    pub fn traffic(
        &self,
        a: &crate::cli::TrafficArgs,
    ) -> Result<crate::engine::service::native::TrafficFlags, Error> {
        let c = &self.config.config;
        let duration = |flag: &Option<String>, key: &Option<String>, name: &str| match (flag, key) {
            (Some(f), _) => parse_duration(f, &format!("--{name}")).map(Some),
            (None, Some(k)) => {
                parse_duration(k, &format!("{} in ecs-roll.toml", name.replace('-', "_"))).map(Some)
            }
            (None, None) => Ok(None),
        };
        Ok(crate::engine::service::native::TrafficFlags {
            linear_step: percent(
                &a.linear_step,
                c.linear_step.map(|p| p.0),
                "linear-step",
                3.0,
            )?,
            step_bake: duration(&a.step_bake, &c.step_bake, "step-bake")?,
            canary_percent: percent(
                &a.canary_percent,
                c.canary_percent.map(|p| p.0),
                "canary-percent",
                0.1,
            )?,
            canary_bake: duration(&a.canary_bake, &c.canary_bake, "canary-bake")?,
        })
    }

    /// `--image-check` (flag or env), else `image_check` of the config, else auto.
    pub fn image_check(
        &self,
        flag: Option<crate::cli::ImageCheckMode>,
    ) -> Result<crate::engine::images::ImageCheck, Error> {
        use crate::cli::ImageCheckMode as M;
        use crate::engine::images::ImageCheck;
        let mode = match (flag, self.config.config.image_check.as_deref()) {
            (Some(m), _) => m,
            (None, None) => M::Auto,
            (None, Some("auto")) => M::Auto,
            (None, Some("require")) => M::Require,
            (None, Some("off")) => M::Off,
            (None, Some(other)) => {
                return Err(Error::usage(
                    format!("image_check = {other:?} in ecs-roll.toml is not a mode"),
                    "set image_check to \"auto\", \"require\" or \"off\"",
                ));
            }
        };
        Ok(match mode {
            M::Auto => ImageCheck::Auto,
            M::Require => ImageCheck::Require,
            M::Off => ImageCheck::Off,
        })
    }

    /// ECS_ROLL_REGISTRY_MIRRORS, else `registry_mirrors` of the config: registry host ->
    /// the URL that answers for it.
    pub fn registry_mirrors(&self) -> Result<BTreeMap<String, String>, Error> {
        let (text, what) = match std::env::var("ECS_ROLL_REGISTRY_MIRRORS") {
            Ok(v) if !v.trim().is_empty() => (v, "ECS_ROLL_REGISTRY_MIRRORS"),
            _ => {
                let m = &self.config.config.registry_mirrors;
                let joined: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
                (joined.join(","), "registry_mirrors in ecs-roll.toml")
            }
        };
        crate::registry::route::parse_mirrors(&text).map_err(|e| {
            Error::usage(
                format!("{what}: {e}"),
                "map each registry host to its mirror's URL, e.g. docker.io=http://127.0.0.1:5000",
            )
        })
    }

    /// `--keep-revisions` (flag or env), else `keep_revisions` of the config; None: no pruning.
    pub fn keep_revisions(&self, flag: Option<&str>) -> Result<Option<usize>, Error> {
        match (flag, self.config.config.keep_revisions) {
            (Some(s), _) => parse_keep(s, "--keep-revisions").map(Some),
            (None, Some(n)) => parse_keep(&n.to_string(), "keep_revisions").map(Some),
            (None, None) => Ok(None),
        }
    }
}

/// How many revisions a prune keeps: at least the one rolled out and one to return to.
pub fn parse_keep(s: &str, what: &str) -> Result<usize, Error> {
    let min = crate::engine::prune::MIN_KEEP;
    let example = if what.starts_with("--") {
        format!("{what} 10")
    } else {
        format!("`{what} = 10` in ecs-roll.toml")
    };
    let hint = format!(
        "keep at least {min} revisions (the one running and the rollback target), e.g. {example}"
    );
    match s.trim().parse::<i64>() {
        Ok(n) if n >= min as i64 => Ok(n as usize),
        Ok(n) => Err(Error::usage(format!("{what} {n} is below {min}"), hint)),
        Err(_) => Err(Error::usage(format!("{what} {s:?} is not a number"), hint)),
    }
}

fn mode(progress: Progress) -> Mode {
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    let dumb = std::env::var("TERM").map_or(true, |t| t.is_empty() || t == "dumb");
    if github {
        return Mode::GithubActions;
    }
    match progress {
        Progress::Always => Mode::Bars,
        Progress::Never => Mode::Plain,
        Progress::Auto if std::io::stderr().is_terminal() && !ci && !dumb => Mode::Bars,
        Progress::Auto => Mode::Plain,
    }
}

fn required(v: Option<String>, what: &str, flag: &str, env: &str) -> Result<String, Error> {
    match v {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(missing(what, flag, env)),
    }
}

fn missing(what: &str, flag: &str, env: &str) -> Error {
    let key = flag.trim_start_matches("--").replace('-', "_");
    Error::usage(
        format!("no {what} given"),
        format!("pass {flag}, set {env}, or add `{key} = \"...\"` to ecs-roll.toml"),
    )
}

pub fn load_task_definition(path: &Path) -> Result<TaskDefinition, Error> {
    TaskDefinition::from_file(path).map_err(|e| Error::usage(e.to_string(), "fix the task definition file (aws ecs register-task-definition --cli-input-json format)"))
}

/// `15m`, `90s`, `1h 30m`, or a bare number of seconds; must be more than zero.
pub fn parse_duration(s: &str, what: &str) -> Result<Duration, Error> {
    let t = s.trim();
    let hint = "use a positive duration such as 90s, 15m or 1h";
    if t.starts_with('-') {
        return Err(Error::usage(format!("{what} {s:?} is negative"), hint));
    }
    let d = match t.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(t)
            .map_err(|e| Error::usage(format!("{what} {s:?} is not a duration: {e}"), hint))?,
    };
    if d.is_zero() {
        return Err(Error::usage(format!("{what} must be more than zero"), hint));
    }
    Ok(d)
}

/// A share of traffic in percent, from `--NAME` (else the config's value), between `min` and
/// 100 with at most one decimal, as tenths of a percent.
fn percent(
    flag: &Option<String>,
    config: Option<f64>,
    name: &str,
    min: f64,
) -> Result<Option<u32>, Error> {
    let (value, from) = match (flag, config) {
        (Some(f), _) => (
            f.trim().trim_end_matches('%').parse::<f64>().ok(),
            format!("--{name} {f}"),
        ),
        (None, Some(c)) => (
            Some(c),
            format!("{} = {c} in ecs-roll.toml", name.replace('-', "_")),
        ),
        (None, None) => return Ok(None),
    };
    let tenths = value
        .map(|v| v * 10.0)
        .filter(|t| (t - t.round()).abs() < 1e-6);
    match tenths {
        Some(t) if t >= min * 10.0 - 1e-6 && t <= 1000.0 => Ok(Some(t.round() as u32)),
        _ => Err(Error::usage(
            format!(
                "{from} is not a share of traffic ECS takes (from {min} to 100 percent, at most one decimal)"
            ),
            format!("give a percentage from {min} to 100 with at most one decimal, e.g. 25"),
        )),
    }
}

pub fn parse_count(s: &str) -> Result<usize, Error> {
    match s.trim().parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n as usize),
        Ok(_) => Err(Error::usage(
            format!("--count {s} must be at least 1"),
            "pass a positive number of tasks",
        )),
        Err(_) => Err(Error::usage(
            format!("--count {s:?} is not a number"),
            "pass a positive number of tasks",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_table() {
        assert_eq!(parse_duration("90", "t").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_duration("15m", "t").unwrap(),
            Duration::from_secs(900)
        );
        assert_eq!(
            parse_duration("1h 30m", "t").unwrap(),
            Duration::from_secs(5400)
        );
        for bad in ["0", "0s", "-5", "-5m", "soon", ""] {
            let e = parse_duration(bad, "--timeout").unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.to_string().contains("--timeout"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_family_comes_from_the_file_then_the_name_then_the_load_balancer() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(standalone_family(s("web"), None).unwrap(), s("web"));
        assert_eq!(standalone_family(s("web"), s("web")).unwrap(), s("web"));
        assert_eq!(standalone_family(None, s("api")).unwrap(), s("api"));
        assert_eq!(standalone_family(None, s(" ")).unwrap(), None);
        assert_eq!(standalone_family(None, None).unwrap(), None);
        let e = standalone_family(s("web"), s("api")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string().contains("\"web\"") && e.to_string().contains("\"api\""),
            "{e}"
        );
    }

    #[test]
    fn keeping_fewer_than_two_revisions_is_refused() {
        assert_eq!(parse_keep("2", "--keep").unwrap(), 2);
        assert_eq!(parse_keep(" 10 ", "--keep").unwrap(), 10);
        for bad in ["1", "0", "-3", "ten", ""] {
            let e = parse_keep(bad, "--keep").unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.to_string().contains("--keep"), "{bad}: {e}");
        }
    }

    #[test]
    fn counts_table() {
        assert_eq!(parse_count("3").unwrap(), 3);
        for bad in ["0", "-1", "three", "1.5"] {
            assert!(parse_count(bad).is_err(), "{bad}");
        }
    }
}
