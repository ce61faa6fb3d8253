//! End to end: `ecs-roll status --watch` in a real terminal (tmux), against moto: it draws
//! the status, redraws it in place when the load balancer's view changes (the header stays
//! once on the screen), and exits 130 on Ctrl-C; `--until-stable` exits 0 on a stable target.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness as e2e;
use crate::support;

use e2e::{ecs_roll, run};
use serde_json::json;
use support::{LOAD_BALANCER, MotoServer, SeedOptions};

/// A tmux server of this test's own.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs (apt-get install tmux)")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "w"]).stdout).into_owned()
    }

    /// Waits until the screen shows `text`.
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(Instant::now() < deadline, "never showed {text:?}:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// `cmd` as one shell line: its environment, program and arguments, quoted.
fn shell_line(cmd: &Command) -> String {
    let q = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    // `env -u NAME ... NAME=VALUE ... PROGRAM`: the removals are options, first.
    let (mut unset, mut set) = (Vec::new(), Vec::new());
    for (k, v) in cmd.get_envs() {
        let k = k.to_string_lossy();
        match v {
            Some(v) => set.push(q(&format!("{k}={}", v.to_string_lossy()))),
            None => unset.push(format!("-u {k}")),
        }
    }
    let mut parts = vec!["env".to_string()];
    parts.extend(unset);
    parts.extend(set);
    parts.push(q(&cmd.get_program().to_string_lossy()));
    parts.extend(cmd.get_args().map(|a| q(&a.to_string_lossy())));
    parts.join(" ")
}

#[test]
fn the_watch_redraws_in_place_and_exits_130_on_ctrl_c() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions::fast());
    let dir = tempfile::tempdir().unwrap();
    let code_file = dir.path().join("exit");
    let mut cmd = ecs_roll(&moto);
    cmd.env_remove("ECS_ROLL_PROGRESS")
        .args(["status", "--watch", "--every", "300ms"]);
    let line = format!(
        "cd {} && {}; echo $? > {}; sleep 60",
        support::repo_root().display(),
        shell_line(&cmd),
        code_file.display()
    );
    let tmux = Tmux {
        socket: format!("ecs-roll-watch-{}", std::process::id()),
    };
    let out = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "w",
        "-x",
        "160",
        "-y",
        "40",
        &line,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = tmux.wait_for("InService");
    assert_eq!(first.matches("cluster cb-prototype").count(), 1, "{first}");

    // Take an instance out of the load balancer: the row changes where it is.
    let instance = seeded.instance_ids[0].clone();
    moto.aws(
        "elb",
        "deregister_instances_from_load_balancer",
        &json!({"LoadBalancerName": LOAD_BALANCER, "Instances": [{"InstanceId": instance}]}),
    );
    let redrawn = tmux.wait_for("not registered");
    assert_eq!(
        redrawn.matches("cluster cb-prototype").count(),
        1,
        "redrawn in place, not appended:\n{redrawn}"
    );
    assert!(redrawn.contains(&instance), "{redrawn}");

    tmux.cmd(&["send-keys", "-t", "w", "C-c"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !code_file.exists() {
        assert!(
            Instant::now() < deadline,
            "no exit after Ctrl-C:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(std::fs::read_to_string(&code_file).unwrap().trim(), "130");
}

#[test]
fn until_stable_exits_0_on_a_stable_target_and_watch_refuses_json() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let r = run(
        ecs_roll(&moto),
        &args(&["status", "--watch", "--until-stable"]),
    );
    r.assert_code(0);
    // Not a terminal: each line with its time.
    assert!(
        r.stdout.lines().all(|l| l.starts_with("[20")) && r.stdout.contains("InService"),
        "{}",
        r.stdout
    );
    let r = run(
        ecs_roll(&moto),
        &args(&["--output", "json", "status", "--watch"]),
    );
    r.assert_code(2);
    assert!(
        r.stderr.contains("status --watch draws text"),
        "{}",
        r.stderr
    );
}
