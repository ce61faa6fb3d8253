//! `ecs-roll.toml`: found in the current directory or the nearest parent, so a repository that
//! has one needs no flags. Unknown keys are errors (a typo must not silently fall back to a
//! default), with a did-you-mean.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;

pub const FILE_NAME: &str = "ecs-roll.toml";

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub cluster: Option<String>,
    pub family: Option<String>,
    /// Relative to the config file's directory.
    pub task_definition: Option<PathBuf>,
    pub container: Option<String>,
    pub load_balancer: Option<String>,
    pub service: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub count: Option<i64>,
    pub timeout: Option<String>,
    pub health_timeout: Option<String>,
    pub health_grace: Option<String>,
    /// Variables every deploy sets: `[CONTAINER:]NAME = "VALUE"` (as `--env`; a flag for the
    /// same variable wins).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Variables every deploy takes from a secret: `[CONTAINER:]NAME = "VALUE_FROM"` (as
    /// `--secret`).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// `--keep-revisions`.
    pub keep_revisions: Option<i64>,
    /// `deploy --before`: the command every deploy runs first, in a one-off task of the new
    /// revision (e.g. "./migrate up").
    pub before: Option<String>,
    /// `--image-check`: `auto`, `require` or `off`.
    pub image_check: Option<String>,
    /// `deploy --alarm`: the CloudWatch alarms that gate every deploy.
    #[serde(default)]
    pub alarms: Vec<String>,
    /// `deploy --bake`: e.g. "5m".
    pub bake: Option<String>,
    /// `deploy --linear-step`, percent: e.g. 25.
    pub linear_step: Option<Percent>,
    /// `deploy --step-bake`: e.g. "5m".
    pub step_bake: Option<String>,
    /// `deploy --canary-percent`: e.g. 10.
    pub canary_percent: Option<Percent>,
    /// `deploy --canary-bake`: e.g. "10m".
    pub canary_bake: Option<String>,
    /// A registry host's mirror: `"docker.io" = "http://127.0.0.1:5000"` (as
    /// ECS_ROLL_REGISTRY_MIRRORS, which wins).
    #[serde(default)]
    pub registry_mirrors: BTreeMap<String, String>,
    /// Several deploy targets: `[[app]]` tables, each overriding the keys above.
    #[serde(default)]
    pub app: Vec<App>,
}

/// A share of traffic in percent, written as a number (`25` or `2.5`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(transparent)]
pub struct Percent(pub f64);

// Equal when written alike: no NaN comes from TOML.
impl PartialEq for Percent {
    fn eq(&self, other: &Percent) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Percent {}

/// One `[[app]]`: a named target; unset keys come from the top level.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    pub name: String,
    pub cluster: Option<String>,
    pub family: Option<String>,
    pub task_definition: Option<PathBuf>,
    pub container: Option<String>,
    pub load_balancer: Option<String>,
    pub service: Option<String>,
    /// Where this app runs, when not where the top level says: each region or account gets
    /// clients (and a rate limit) of its own.
    pub region: Option<String>,
    pub profile: Option<String>,
    pub count: Option<i64>,
    pub timeout: Option<String>,
    /// `deploy --before` for this app (the top level's otherwise).
    pub before: Option<String>,
    /// On top of the top level's (same name: the app's).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

impl Config {
    /// The top-level settings with `app`'s on top.
    pub fn for_app(&self, app: &App) -> Config {
        Config {
            cluster: app.cluster.clone().or_else(|| self.cluster.clone()),
            family: app.family.clone().or_else(|| self.family.clone()),
            task_definition: app
                .task_definition
                .clone()
                .or_else(|| self.task_definition.clone()),
            container: app.container.clone().or_else(|| self.container.clone()),
            // An app names its own target: a service or a load balancer, not both inherited.
            load_balancer: if app.service.is_some() {
                None
            } else {
                app.load_balancer
                    .clone()
                    .or_else(|| self.load_balancer.clone())
            },
            service: if app.load_balancer.is_some() {
                None
            } else {
                app.service.clone().or_else(|| self.service.clone())
            },
            region: app.region.clone().or_else(|| self.region.clone()),
            profile: app.profile.clone().or_else(|| self.profile.clone()),
            count: app.count.or(self.count),
            timeout: app.timeout.clone().or_else(|| self.timeout.clone()),
            before: app.before.clone().or_else(|| self.before.clone()),
            env: merged(&self.env, &app.env),
            secrets: merged(&self.secrets, &app.secrets),
            app: Vec::new(),
            ..self.clone()
        }
    }
}

/// `base` with `over`'s entries on top.
fn merged(
    base: &BTreeMap<String, String>,
    over: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = base.clone();
    out.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

impl Config {
    /// `env` and `secrets` as the flags would spell them (`NAME=VALUE`).
    pub fn variable_flags(&self) -> (Vec<String>, Vec<String>) {
        let flags =
            |m: &BTreeMap<String, String>| m.iter().map(|(k, v)| format!("{k}={v}")).collect();
        (flags(&self.env), flags(&self.secrets))
    }
}

pub const KEYS: &[&str] = &[
    "cluster",
    "family",
    "task_definition",
    "container",
    "load_balancer",
    "service",
    "region",
    "profile",
    "count",
    "timeout",
    "health_timeout",
    "health_grace",
    "env",
    "secrets",
    "keep_revisions",
    "before",
    "image_check",
    "alarms",
    "bake",
    "linear_step",
    "step_bake",
    "canary_percent",
    "canary_bake",
    "registry_mirrors",
    "app",
];

/// The config in force and where it came from.
#[derive(Debug, Default, Clone)]
pub struct Loaded {
    pub config: Config,
    pub path: Option<PathBuf>,
}

impl Loaded {
    /// A path from the config, made absolute against the config file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        match self.path.as_deref().and_then(Path::parent) {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_path_buf(),
        }
    }
}

/// Loads `explicit` (which must exist) or the nearest ecs-roll.toml above `start`.
pub fn load(explicit: Option<&Path>, start: &Path) -> Result<Loaded, Error> {
    let path = match explicit {
        Some(p) if !p.exists() => {
            return Err(Error::usage(
                format!("config file {} does not exist", p.display()),
                "fix --config / ECS_ROLL_CONFIG",
            ));
        }
        Some(p) => Some(p.to_path_buf()),
        None => start
            .ancestors()
            .map(|d| d.join(FILE_NAME))
            .find(|p| p.is_file()),
    };
    let Some(path) = path else {
        return Ok(Loaded::default());
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::usage(
            format!("cannot read {}: {e}", path.display()),
            "check the file's permissions",
        )
    })?;
    let config = parse(&text).map_err(|msg| {
        Error::usage(
            format!("{}: {msg}", path.display()),
            format!("valid keys: {}", KEYS.join(", ")),
        )
    })?;
    Ok(Loaded {
        config,
        path: Some(path),
    })
}

pub fn parse(text: &str) -> Result<Config, String> {
    toml::from_str::<Config>(text).map_err(|e| {
        let msg = e.message().to_string();
        // toml says "unknown field `clster`, expected one of ..."; add the likely intent.
        let suggestion = msg
            .split('`')
            .nth(1)
            .filter(|_| msg.starts_with("unknown field"))
            .and_then(|bad| KEYS.iter().find(|k| crate::suggest::close(bad, k)))
            .map(|k| format!(" (did you mean `{k}`?)"))
            .unwrap_or_default();
        let line = e
            .span()
            .map(|s| text[..s.start].matches('\n').count() + 1)
            .map(|l| format!("line {l}: "))
            .unwrap_or_default();
        format!("{line}{msg}{suggestion}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_reference_config() {
        let c =
            parse("cluster = \"cb-prototype\"\nload_balancer = \"cb-prototype-elb\"\ncount = 3\n")
                .unwrap();
        assert_eq!(c.cluster.as_deref(), Some("cb-prototype"));
        assert_eq!(c.count, Some(3));
    }

    #[test]
    fn a_misspelt_key_is_an_error_that_names_it() {
        let err = parse("cluster = \"a\"\nload_balncer = \"b\"\n").unwrap_err();
        assert!(
            err.contains("load_balncer")
                && err.contains("did you mean `load_balancer`")
                && err.starts_with("line 2"),
            "{err}"
        );
    }

    #[test]
    fn an_apps_before_command_overrides_the_top_levels() {
        let c = parse(
            "before = \"./migrate up\"\n[[app]]\nname = \"web\"\n[[app]]\nname = \"api\"\nbefore = \"rake db:migrate\"\n",
        )
        .unwrap();
        let before = |i: usize| c.for_app(&c.app[i]).before;
        assert_eq!(before(0).as_deref(), Some("./migrate up"));
        assert_eq!(before(1).as_deref(), Some("rake db:migrate"));
        let err = parse("befor = \"x\"\n").unwrap_err();
        assert!(err.contains("before"), "{err}");
    }

    #[test]
    fn an_app_runs_in_its_own_region_and_profile_or_the_top_levels() {
        let c = parse("region = \"us-east-1\"\nprofile = \"prod\"\n[[app]]\nname = \"us\"\n[[app]]\nname = \"eu\"\nregion = \"eu-west-1\"\nprofile = \"prod-eu\"\n").unwrap();
        let scope = |i: usize| {
            let a = c.for_app(&c.app[i]);
            (a.region, a.profile)
        };
        assert_eq!(scope(0), (Some("us-east-1".into()), Some("prod".into())));
        assert_eq!(scope(1), (Some("eu-west-1".into()), Some("prod-eu".into())));
    }

    #[test]
    fn apps_inherit_the_top_level() {
        let c = parse("cluster = \"prod\"\nregion = \"eu-west-1\"\n[[app]]\nname = \"web\"\nservice = \"web\"\n[[app]]\nname = \"api\"\nservice = \"api\"\ncluster = \"prod-2\"\n").unwrap();
        assert_eq!(c.app.len(), 2);
        let api = c.for_app(&c.app[1]);
        assert_eq!(
            (
                api.cluster.as_deref(),
                api.service.as_deref(),
                api.region.as_deref()
            ),
            (Some("prod-2"), Some("api"), Some("eu-west-1"))
        );
        assert!(
            parse("[[app]]\nname = \"x\"\nsrvice = \"y\"\n")
                .unwrap_err()
                .contains("did you mean `service`")
        );
    }

    #[test]
    fn env_and_secrets_tables_merge_into_apps_and_spell_as_flags() {
        let c = parse(
            "[env]\nLOG_LEVEL = \"info\"\n\"worker:QUEUE\" = \"jobs\"\n[secrets]\nDB_PASSWORD = \"/prod/db\"\n\
             [[app]]\nname = \"web\"\nservice = \"web\"\nenv = { LOG_LEVEL = \"debug\" }\n",
        )
        .unwrap();
        let web = c.for_app(&c.app[0]);
        let (env, secrets) = web.variable_flags();
        assert_eq!(env, ["LOG_LEVEL=debug", "worker:QUEUE=jobs"]);
        assert_eq!(secrets, ["DB_PASSWORD=/prod/db"]);
        assert!(
            parse("[secret]\nA = \"/p/a\"\n")
                .unwrap_err()
                .contains("did you mean `secrets`")
        );
    }

    #[test]
    fn a_wrong_type_is_an_error() {
        assert!(parse("count = \"three\"\n").is_err());
    }

    #[test]
    fn found_in_a_parent_directory_and_paths_resolve_against_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            "task_definition = \"taskdefs/app.json\"\n",
        )
        .unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        let loaded = load(None, &nested).unwrap();
        let td = loaded.config.task_definition.clone().unwrap();
        assert_eq!(loaded.resolve(&td), dir.path().join("taskdefs/app.json"));
    }

    #[test]
    fn every_key_of_the_config_is_listed_and_the_gates_parse() {
        let c = parse(
            "alarms = [\"web-5xx\"]\nbake = \"5m\"\nlinear_step = 25\nstep_bake = \"2m\"\ncanary_percent = 2.5\ncanary_bake = \"10m\"\n",
        )
        .unwrap();
        assert_eq!(c.alarms, ["web-5xx"]);
        assert_eq!(c.linear_step, Some(Percent(25.0)));
        assert_eq!(c.canary_percent, Some(Percent(2.5)));
        let err = parse("canary_percnt = 5\n").unwrap_err();
        assert!(err.contains("did you mean `canary_percent`"), "{err}");
    }
}
