//! The command line, and nothing else: clap definitions with no dependency on the rest of the
//! crate. `settings` turns these into validated, typed options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Zero-downtime deploys and rollbacks for Amazon ECS.
///
/// Settings come from flags, then ECS_ROLL_* environment variables, then ecs-roll.toml (found
/// in the current directory or a parent). AWS credentials and region come from the standard
/// chain (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...).
#[derive(Debug, Parser)]
#[command(name = "ecs-roll", version, about, long_about, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

pub const EXIT_CODES: &str = "Exit codes: 0 success, 1 failure, 2 usage or preflight error (nothing changed), \
3 failed and rolled back, 4 the one-off task failed (run, deploy --before), 130 interrupted (the step in \
progress was finished first).";

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// ECS cluster name or ARN.
    #[arg(long, env = "ECS_ROLL_CLUSTER", global = true)]
    pub cluster: Option<String>,
    /// Task definition family of the standalone tasks.
    #[arg(long, env = "ECS_ROLL_FAMILY", global = true)]
    pub family: Option<String>,
    /// Classic ELB the tasks' instances are registered with (selects standalone-task mode).
    #[arg(long, env = "ECS_ROLL_LOAD_BALANCER", global = true)]
    pub load_balancer: Option<String>,
    /// ECS service to deploy (selects service mode; its load balancers come from the service).
    /// Repeat it to deploy several services at once.
    #[arg(
        long,
        env = "ECS_ROLL_SERVICE",
        global = true,
        conflicts_with = "load_balancer",
        value_delimiter = ','
    )]
    pub service: Vec<String>,
    /// Deploy the [[app]] of ecs-roll.toml with this name (repeatable).
    #[arg(long = "app", global = true)]
    pub apps: Vec<String>,
    /// Deploy every [[app]] of ecs-roll.toml at once.
    #[arg(long, global = true, conflicts_with = "apps")]
    pub all: bool,
    /// AWS profile (default: AWS_PROFILE or the default profile).
    #[arg(long, env = "ECS_ROLL_PROFILE", global = true)]
    pub profile: Option<String>,
    /// AWS region (default: AWS_REGION or the profile's region).
    #[arg(long, env = "ECS_ROLL_REGION", global = true)]
    pub region: Option<String>,
    /// Config file (default: ecs-roll.toml in the current directory or a parent).
    #[arg(long, env = "ECS_ROLL_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Final result as text or as one JSON document on stdout; json-lines: every progress
    /// event as a JSON line on stdout as it happens, the result document the last line.
    #[arg(long, value_enum, env = "ECS_ROLL_OUTPUT", global = true)]
    pub output: Option<OutputFormat>,
    /// Progress bars: auto (on a terminal outside CI), always, or never (plain lines).
    #[arg(long, value_enum, env = "ECS_ROLL_PROGRESS", global = true)]
    pub progress: Option<Progress>,
    /// Interval between two observations while waiting (default 1s).
    #[arg(long, env = "ECS_ROLL_POLL_INTERVAL", global = true, hide = true)]
    pub poll_interval: Option<String>,
    /// How often a run renews the deploy lock it holds (default 15s; a lock not renewed for
    /// three intervals is taken over by the next run). Short ones are for tests.
    #[arg(long, env = "ECS_ROLL_LOCK_HEARTBEAT", global = true, hide = true)]
    pub lock_heartbeat: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    JsonLines,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register a revision with new images (or deploy a file or an existing revision as it is)
    /// and roll it out without downtime.
    #[command(after_help = DEPLOY_EXAMPLES)]
    Deploy(Box<Deploy>),
    /// Return to the revision that ran before the last deploy, by the same safe path.
    #[command(after_help = ROLLBACK_EXAMPLES)]
    Rollback(Rollback),
    /// Service mode: have ECS roll the service's in-flight deployment back
    /// (StopServiceDeployment) and wait until the revision that ran before serves again
    /// (exit 3: rolled back; exit 2 when nothing is in flight).
    #[command(after_help = ABORT_EXAMPLES)]
    Abort(AbortArgs),
    /// Run a one-off task (a migration, any command) of the target's revision and wait until
    /// it stops: exit 0 only when every essential container exited 0, else 4.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Show the running revision, tasks per instance and load balancer health.
    #[command(after_help = STATUS_EXAMPLES)]
    Status(StatusArgs),
    /// Show the task definition change a deploy would make, and its plan. Changes nothing.
    #[command(after_help = DIFF_EXAMPLES)]
    Diff(DiffArgs),
    /// Deregister the family's ACTIVE revisions older than the newest N, except the rollback
    /// target, any revision that runs in the cluster and one-off variants.
    #[command(after_help = PRUNE_EXAMPLES)]
    Prune(PruneArgs),
    /// List the deploys and rollbacks ecs-roll made of the target, newest first: when, who,
    /// revision, images, strategy, result and duration, read from AWS.
    #[command(after_help = HISTORY_EXAMPLES)]
    History(HistoryArgs),
    /// Remove the deploy lock a crashed run left behind (it also expires by itself).
    #[command(after_help = UNLOCK_EXAMPLES)]
    Unlock(Source),
    /// Print the [[app]]s of ecs-roll.toml as a GitHub Actions matrix (JSON for fromJSON;
    /// in GitHub Actions also the step output `matrix`).
    #[command(after_help = MATRIX_EXAMPLES)]
    Matrix,
    /// Print a shell completion script, e.g. `ecs-roll completions bash > /etc/bash_completion.d/ecs-roll`.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page (roff), or write one page per command into a directory.
    #[command(after_help = MAN_EXAMPLES)]
    Man {
        /// Write ecs-roll.1 and ecs-roll-COMMAND.1 into this directory instead.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// The shells `ecs-roll completions` writes scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

pub const DEPLOY_EXAMPLES: &str = "Examples:
  ecs-roll deploy --image web=acme/web:v42 --image worker=acme/worker:v42 --dry-run
  ecs-roll deploy --image acme/web:v42 --before \"./migrate up\" --env LOG_LEVEL=debug
  ecs-roll --cluster prod --service web deploy --revision web:41";

pub const RUN_EXAMPLES: &str = "Examples:
  ecs-roll run --command \"./migrate up\"
  ecs-roll run --command \"./migrate status\" --revision 7 --env LOG_LEVEL=debug
  ecs-roll --cluster prod --service web run --command \"rake db:migrate\" --run-timeout 1h";

pub const ROLLBACK_EXAMPLES: &str = "Examples:
  ecs-roll rollback
  ecs-roll rollback --to 7 --task-definition taskdefs/cb-prototype.json
  ecs-roll --cluster prod --service web rollback --to web:41";

pub const ABORT_EXAMPLES: &str = "Examples:
  ecs-roll --cluster prod --service web abort
  ecs-roll --cluster prod --service web abort --timeout 20m";

pub const STATUS_EXAMPLES: &str = "Examples:
  ecs-roll status
  ecs-roll --cluster prod --load-balancer web-elb status
  ecs-roll --output json status";

pub const DIFF_EXAMPLES: &str = "Examples:
  ecs-roll diff --image web=acme/web:v42 --image worker=acme/worker:v42
  ecs-roll diff --env worker:QUEUE=jobs --unset-env worker:OLD_QUEUE
  ecs-roll diff --image rafabor/prototype-4-cb:v0.0.2 --task-definition taskdefs/cb-prototype.json";

pub const PRUNE_EXAMPLES: &str = "Examples:
  ecs-roll prune --keep 10 --dry-run
  ecs-roll prune --keep 10
  ecs-roll --cluster prod --service web prune --keep 5";

pub const HISTORY_EXAMPLES: &str = "Examples:
  ecs-roll history
  ecs-roll history --limit 5
  ecs-roll --cluster prod --service web --output json history";

pub const UNLOCK_EXAMPLES: &str = "Examples:
  ecs-roll unlock
  ecs-roll --cluster prod --service web unlock";

pub const MATRIX_EXAMPLES: &str = "Examples:
  ecs-roll matrix
  ecs-roll matrix --config deploy/ecs-roll.toml";

pub const COMPLETIONS_EXAMPLES: &str = "Examples:
  ecs-roll completions bash > ~/.local/share/bash-completion/completions/ecs-roll
  ecs-roll completions zsh > \"${fpath[1]}/_ecs-roll\"
  ecs-roll completions fish > ~/.config/fish/completions/ecs-roll.fish";

pub const MAN_EXAMPLES: &str = "Examples:
  ecs-roll man | man -l -
  ecs-roll man --dir /usr/local/share/man/man1";

#[derive(Debug, Clone, Args)]
pub struct Rollout {
    /// Number of tasks (default: as many as run now).
    #[arg(long, env = "ECS_ROLL_COUNT", allow_hyphen_values = true)]
    pub count: Option<String>,
    /// Limit for the whole rollout, e.g. 15m or 900s (a rollback gets the same again); the
    /// checks before the first change end within it too (exit 2, nothing changed).
    #[arg(long, env = "ECS_ROLL_TIMEOUT", allow_hyphen_values = true)]
    pub timeout: Option<String>,
    /// Limit from a new task seen RUNNING to InService (a service: healthy in every load
    /// balancer), e.g. 2m. Default: standalone, twice what the ELB's checks take plus
    /// --health-grace; a service, none of its own. Reaching RUNNING has its own limit: 5
    /// minutes from StartTask.
    #[arg(long, env = "ECS_ROLL_HEALTH_TIMEOUT", allow_hyphen_values = true)]
    pub health_timeout: Option<String>,
    /// How long a new task may fail the load balancer's health checks while it starts up,
    /// e.g. 60s (default 0: UnhealthyThreshold failed checks in a row fail the deploy, as in
    /// an ECS service without a grace period).
    #[arg(long, env = "ECS_ROLL_HEALTH_GRACE", allow_hyphen_values = true)]
    pub health_grace: Option<String>,
    /// Show the diff and the plan, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Proceed even when the plan takes every instance out of service for a while.
    #[arg(long)]
    pub allow_downtime: bool,
}

#[derive(Debug, Clone, Args)]
pub struct Deploy {
    #[command(flatten)]
    pub changes: Changes,
    #[command(flatten)]
    pub source: Source,
    #[command(flatten)]
    pub rollout: Rollout,
    /// On failure, leave everything as it is (and say where it stands) instead of rolling back.
    #[arg(long)]
    pub no_rollback: bool,
    /// Service mode: the ECS deployment strategy to use (default: the service's own).
    #[arg(long, value_enum)]
    pub strategy: Option<Strategy>,
    /// After a successful deploy, deregister the family's ACTIVE revisions older than the
    /// newest N (at least 2), except the rollback target, any revision that runs in the
    /// cluster and one-off variants.
    #[arg(long, env = "ECS_ROLL_KEEP_REVISIONS", allow_hyphen_values = true)]
    pub keep_revisions: Option<String>,
    /// Run this command first, in a one-off task of the revision to roll out (e.g.
    /// "./migrate up"); the rollout starts only if every essential container exits 0, else
    /// nothing is rolled out (exit 4). Config: `before`.
    #[arg(long, value_name = "COMMAND", allow_hyphen_values = true)]
    pub before: Option<String>,
    /// The container --before runs in (default: the one the image goes to, else the only
    /// essential one).
    #[arg(long, value_name = "NAME")]
    pub before_container: Option<String>,
    #[command(flatten)]
    pub one_off: OneOffArgs,
    #[command(flatten)]
    pub images: ImageArgs,
    /// A CloudWatch alarm that gates this deploy (repeat it, or separate with commas). Each
    /// must exist and must not be in ALARM before any change. Service mode: set as the
    /// deployment's alarms (ECS rolls back when one goes into ALARM), the service's own
    /// restored afterwards. Config: `alarms`.
    #[arg(long = "alarm", value_name = "NAME", value_delimiter = ',')]
    pub alarms: Vec<String>,
    /// After the rollout, how long both revisions' fate is still watched before the deploy
    /// counts as done (e.g. 5m). Standalone: the new tasks must keep running and the
    /// --alarm alarms stay out of ALARM, else ecs-roll rolls back. Service mode (blue-green,
    /// linear, canary): ECS's bake time, in whole minutes. Config: `bake`.
    #[arg(long, value_name = "DURATION")]
    pub bake: Option<String>,
    #[command(flatten)]
    pub traffic: TrafficArgs,
}

/// How ECS's LINEAR and CANARY strategies move production traffic (service mode).
#[derive(Debug, Clone, Args)]
pub struct TrafficArgs {
    /// LINEAR: the share of production traffic each step moves to the new revision, in
    /// percent (3 to 100, one decimal). Config: `linear_step`.
    #[arg(long, value_name = "PCT")]
    pub linear_step: Option<String>,
    /// LINEAR: how long ECS waits after each step, in whole minutes (e.g. 5m). Config:
    /// `step_bake`.
    #[arg(long, value_name = "DURATION")]
    pub step_bake: Option<String>,
    /// CANARY: the share of production traffic the new revision gets first, in percent
    /// (0.1 to 100; ECS's default 5). Config: `canary_percent`.
    #[arg(long, value_name = "PCT")]
    pub canary_percent: Option<String>,
    /// CANARY: how long ECS waits before moving the rest, in whole minutes (ECS's default
    /// 10m). Config: `canary_bake`.
    #[arg(long, value_name = "DURATION")]
    pub canary_bake: Option<String>,
}

/// What a deploy checks in the registries before any change.
#[derive(Debug, Clone, Args)]
pub struct ImageArgs {
    /// Check that every image the new revision brings exists in its registry (ECR, or any
    /// registry's HTTP API v2) before any change: `auto` (default; a registry that cannot
    /// be asked is a warning), `require` (it refuses) or `off`. Config: `image_check`.
    /// Registry mirrors: ECS_ROLL_REGISTRY_MIRRORS=HOST=URL,... (config `registry_mirrors`).
    #[arg(long, value_enum, env = "ECS_ROLL_IMAGE_CHECK")]
    pub image_check: Option<ImageCheckMode>,
    /// Refuse (exit 2) when the revision that runs now could not serve a rollback: it is
    /// INACTIVE, or its images are gone from their registries (default: a warning).
    #[arg(long)]
    pub require_rollback: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImageCheckMode {
    Auto,
    Require,
    Off,
}

/// What a release changes: images, an existing revision as it is, variables and secrets
/// (`deploy`, and `diff` to show it).
#[derive(Debug, Clone, Args)]
pub struct Changes {
    /// The image to deploy, e.g. rafabor/prototype-4-cb:v0.0.2, or CONTAINER=IMAGE for a
    /// container by name. Repeat it (or separate with commas) to change several containers
    /// in one revision; a plain IMAGE goes to the container running the same repository.
    #[arg(
        long,
        env = "ECS_ROLL_IMAGE",
        value_delimiter = ',',
        value_name = "[CONTAINER=]IMAGE"
    )]
    pub image: Vec<String>,
    /// Roll out this existing ACTIVE revision of the family as it is, registering nothing: a
    /// number, family:revision or an ARN (not with --image or --task-definition).
    #[arg(long, value_name = "REVISION")]
    pub revision: Option<String>,
    /// Set an environment variable: [CONTAINER:]NAME=VALUE (repeatable). Without CONTAINER:
    /// the container the image goes to, or the only one.
    #[arg(long = "env", value_name = "[CONTAINER:]NAME=VALUE")]
    pub env: Vec<String>,
    /// Remove an environment variable (or secret): [CONTAINER:]NAME (repeatable).
    #[arg(long = "unset-env", value_name = "[CONTAINER:]NAME")]
    pub unset_env: Vec<String>,
    /// Set a variable from a secret: [CONTAINER:]NAME=VALUE_FROM, an SSM parameter (ARN or
    /// name) or a Secrets Manager secret ARN (repeatable).
    #[arg(long = "secret", value_name = "[CONTAINER:]NAME=VALUE_FROM")]
    pub secret: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Strategy {
    Rolling,
    BlueGreen,
    Linear,
    Canary,
}

/// The flags that name a command's target besides the global ones (--cluster,
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub source: Source,
    /// Keep watching: redraw the status whenever it changes (in a terminal; elsewhere one
    /// line per change) until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: exit 0 once the target is stable (one revision, every task healthy in
    /// its load balancers, no deployment in progress).
    #[arg(long, requires = "watch")]
    pub until_stable: bool,
    /// With --watch: how often to look (default 2s).
    #[arg(long, value_name = "DURATION", requires = "watch")]
    pub every: Option<String>,
}

/// --load-balancer, --service, --family, --app, --all): flattened into every command that
/// names a target, so each accepts what `deploy` accepts.
#[derive(Debug, Clone, Default, Args)]
pub struct Source {
    /// Task definition JSON (register-task-definition input): `deploy` registers it (without
    /// it the running revision is cloned; given without --image, the file as it is, with its
    /// own images); every command takes the family from it.
    #[arg(long, env = "ECS_ROLL_TASK_DEFINITION")]
    pub task_definition: Option<PathBuf>,
    /// Container that gets the image (needed only when the task definition has several);
    /// the one whose image `status` and `rollback` show.
    #[arg(long, env = "ECS_ROLL_CONTAINER")]
    pub container: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The command to run, e.g. "./migrate up": split into words as a shell would (quotes
    /// kept together, no expansions), it replaces the container's command.
    #[arg(long, allow_hyphen_values = true)]
    pub command: String,
    /// Container the command runs in (default: the only essential one).
    #[arg(long, env = "ECS_ROLL_CONTAINER")]
    pub container: Option<String>,
    /// Revision to run: a number, family:revision or an ARN (default: the running one).
    #[arg(long)]
    pub revision: Option<String>,
    /// A variable for this task only, NAME=VALUE (CONTAINER:NAME=VALUE for another
    /// container); repeatable.
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    #[command(flatten)]
    pub one_off: OneOffArgs,
}

/// How long a one-off task may run, and what happens to it when ecs-roll stops waiting.
#[derive(Debug, Clone, Args)]
pub struct OneOffArgs {
    /// Limit for the one-off task (`run`, `deploy --before`), from RunTask to STOPPED, e.g.
    /// 45m (default 30m); past it the task is stopped and the command fails (exit 4).
    #[arg(long, env = "ECS_ROLL_RUN_TIMEOUT", allow_hyphen_values = true)]
    pub run_timeout: Option<String>,
    /// At the timeout or on Ctrl-C/SIGTERM, leave the one-off task running instead of
    /// stopping it.
    #[arg(long)]
    pub leave_running: bool,
}

#[derive(Debug, Clone, Args)]
pub struct Rollback {
    /// Revision to return to: a number, family:revision or an ARN (default: the recorded previous one).
    #[arg(long)]
    pub to: Option<String>,
    #[command(flatten)]
    pub source: Source,
    #[command(flatten)]
    pub rollout: Rollout,
}

#[derive(Debug, Clone, Args)]
pub struct AbortArgs {
    #[command(flatten)]
    pub source: Source,
    /// Limit for following ECS's rollback, e.g. 15m (default 30m); the checks before ECS is
    /// asked end within it too (exit 2, nothing changed).
    #[arg(long, env = "ECS_ROLL_TIMEOUT", allow_hyphen_values = true)]
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PruneArgs {
    /// How many of the newest ACTIVE revisions to keep (at least 2).
    #[arg(long, allow_hyphen_values = true)]
    pub keep: String,
    /// List what would be deregistered, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub source: Source,
}

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// How many deploys and rollbacks to list (default 20).
    #[arg(long, allow_hyphen_values = true)]
    pub limit: Option<String>,
    #[command(flatten)]
    pub source: Source,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// What a deploy would change, as for deploy.
    #[command(flatten)]
    pub changes: Changes,
    #[command(flatten)]
    pub source: Source,
    /// Number of tasks (default: as many as run now).
    #[arg(long, env = "ECS_ROLL_COUNT", allow_hyphen_values = true)]
    pub count: Option<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }

    /// Every command's --help ends with two or three examples, and each parses as written
    /// (shell redirections and pipes aside).
    #[test]
    fn every_command_ends_its_help_with_examples_that_parse() {
        use clap::{CommandFactory, Parser};
        let mut cli = super::Cli::command();
        for sub in cli.get_subcommands_mut() {
            let name = sub.get_name().to_string();
            let help = sub.render_long_help().to_string();
            let examples: Vec<&str> = help
                .split("Examples:")
                .nth(1)
                .unwrap_or_else(|| panic!("{name}: no examples"))
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            assert!((2..=3).contains(&examples.len()), "{name}: {examples:?}");
            for example in examples {
                // Split as a shell would: `--command "./migrate up"` is one argument.
                let line = example.split(['>', '|']).next().unwrap();
                let owned = crate::overrides::parse_command(line, "--command").unwrap();
                let words: Vec<&str> = owned.iter().map(String::as_str).collect();
                assert_eq!(words[0], "ecs-roll", "{example}");
                assert!(words.contains(&name.as_str()), "{name}: {example}");
                if let Err(e) = super::Cli::try_parse_from(&words) {
                    panic!("{example}: {e}");
                }
            }
        }
    }
}
