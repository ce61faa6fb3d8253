//! scripts/install-ecs-roll.sh (what action.yml runs first) against a temporary directory of
//! fake release assets: tiny tar.gz files holding a shell script that names its target, and
//! their SHA256SUMS. The platform comes from ECS_ROLL_INSTALL_OS / ECS_ROLL_INSTALL_ARCH;
//! `cargo` and `git` are fakes on PATH, so nothing is built and nothing leaves the machine.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TARGETS: [&str; 3] = [
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "aarch64-apple-darwin",
];

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// A release directory with an asset per target and SHA256SUMS, and fake cargo/git.
    fn new() -> Fixture {
        let f = Fixture {
            dir: tempfile::tempdir().unwrap(),
        };
        fs::create_dir_all(f.release()).unwrap();
        for target in TARGETS {
            f.write_asset(target, &format!("ecs-roll fake {target}"));
        }
        let sums = Command::new("sh")
            .arg("-c")
            .arg("sha256sum ecs-roll-*.tar.gz 2>/dev/null || shasum -a 256 ecs-roll-*.tar.gz")
            .current_dir(f.release())
            .output()
            .unwrap();
        assert!(sums.status.success(), "{sums:?}");
        fs::write(f.release().join("SHA256SUMS"), &sums.stdout).unwrap();

        // cargo: records its arguments and "installs" into --root; git: no such branch.
        let fake = f.path("fakebin");
        fs::create_dir_all(&fake).unwrap();
        let log = f.path("cargo.log");
        script(
            &fake.join("cargo"),
            &format!(
                "echo \"$*\" >> '{}'\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\n\
                 mkdir -p \"$root/bin\" && printf '#!/bin/sh\\necho ecs-roll built by cargo\\n' > \"$root/bin/ecs-roll\" && chmod +x \"$root/bin/ecs-roll\"",
                log.display()
            ),
        );
        script(&fake.join("git"), "exit 2");
        f
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn release(&self) -> PathBuf {
        self.path("release")
    }
    fn bin(&self) -> PathBuf {
        self.path("bin/ecs-roll")
    }

    fn write_asset(&self, target: &str, says: &str) {
        let src = self.path(&format!("src-{target}"));
        fs::create_dir_all(&src).unwrap();
        script(&src.join("ecs-roll"), &format!("echo '{says}'"));
        let out = Command::new("tar")
            .arg("-czf")
            .arg(self.release().join(format!("ecs-roll-{target}.tar.gz")))
            .arg("-C")
            .arg(&src)
            .arg("ecs-roll")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }

    /// Runs the script with a clean environment plus `env`.
    fn install(&self, os: &str, arch: &str, env: &[(&str, &str)]) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-ecs-roll.sh");
        let path = format!(
            "{}:{}",
            self.path("fakebin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("bash");
        cmd.arg(script)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.dir.path())
            .env("TMPDIR", self.dir.path())
            .env("ECS_ROLL_INSTALL_OS", os)
            .env("ECS_ROLL_INSTALL_ARCH", arch)
            .env("ECS_ROLL_INSTALL_DIR", self.path("bin"))
            .env("ECS_ROLL_RELEASE_BASE_URL", self.release())
            .env("ECS_ROLL_REPOSITORY", "acme/ecs-roll")
            .env("ECS_ROLL_VERSION", "v1.2.3")
            .env("ECS_ROLL_INSTALL", "release")
            .env("GITHUB_PATH", self.path("github_path"))
            .env("GITHUB_OUTPUT", self.path("github_output"));
        cmd.envs(env.iter().copied());
        cmd.output().unwrap()
    }

    fn run_installed(&self) -> String {
        let out = Command::new(self.bin()).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn cargo_calls(&self) -> String {
        fs::read_to_string(self.path("cargo.log")).unwrap_or_default()
    }
}

fn script(path: &Path, body: &str) {
    fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn installs_the_asset_of_each_platform_and_puts_it_on_the_path() {
    // uname spellings and the runner's (RUNNER_OS / RUNNER_ARCH) ones.
    let cases = [
        ("Linux", "x86_64", TARGETS[0]),
        ("Linux", "X64", TARGETS[0]),
        ("Linux", "aarch64", TARGETS[1]),
        ("Linux", "ARM64", TARGETS[1]),
        ("Darwin", "arm64", TARGETS[2]),
        ("macOS", "ARM64", TARGETS[2]),
    ];
    for (i, (os, arch, target)) in cases.into_iter().enumerate() {
        let f = Fixture::new();
        // The base URL may be a plain path or a file:// URL.
        let url = format!("file://{}", f.release().display());
        let env: &[(&str, &str)] = if i % 2 == 0 {
            &[]
        } else {
            &[("ECS_ROLL_RELEASE_BASE_URL", &url)]
        };
        let out = f.install(os, arch, env);
        assert!(
            out.status.success(),
            "{os} {arch}: {}\n{}",
            out.status,
            stderr(&out)
        );
        assert_eq!(
            f.run_installed(),
            format!("ecs-roll fake {target}"),
            "{os} {arch}"
        );
        assert!(stderr(&out).contains("verified"), "{}", stderr(&out));
        let bindir = f.path("bin").canonicalize().unwrap();
        assert_eq!(
            fs::read_to_string(f.path("github_path")).unwrap(),
            format!("{}\n", bindir.display())
        );
        assert_eq!(
            fs::read_to_string(f.path("github_output")).unwrap(),
            format!("path={}/ecs-roll\n", bindir.display())
        );
        assert_eq!(f.cargo_calls(), "", "no build when a release asset exists");
    }
}

#[test]
fn a_checksum_mismatch_is_refused_and_nothing_is_installed() {
    for mode in ["release", "auto"] {
        let f = Fixture::new();
        // The asset changes after SHA256SUMS was written (a tampered or corrupted download).
        f.write_asset(TARGETS[0], "something else");
        let out = f.install("Linux", "x86_64", &[("ECS_ROLL_INSTALL", mode)]);
        assert_eq!(out.status.code(), Some(1), "{mode}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("checksum mismatch for ecs-roll-x86_64-unknown-linux-gnu.tar.gz")
                && err.contains("refusing to install"),
            "{err}"
        );
        assert!(!f.bin().exists(), "{mode}: installed despite the mismatch");
        assert!(!f.path("github_path").exists());
        assert_eq!(
            f.cargo_calls(),
            "",
            "{mode}: a mismatch must not fall back to a build"
        );
    }

    // So is a release without SHA256SUMS, even by auto.
    let f = Fixture::new();
    fs::remove_file(f.release().join("SHA256SUMS")).unwrap();
    let out = f.install("Linux", "x86_64", &[("ECS_ROLL_INSTALL", "auto")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("refusing to install unverified"),
        "{}",
        stderr(&out)
    );
    assert!(!f.bin().exists());
    assert_eq!(f.cargo_calls(), "");

    // An asset SHA256SUMS does not list is refused as well.
    let f = Fixture::new();
    fs::write(f.release().join("SHA256SUMS"), "").unwrap();
    let out = f.install("Linux", "aarch64", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("has no entry for ecs-roll-aarch64-unknown-linux-gnu.tar.gz"));
    assert!(!f.bin().exists());
}

#[test]
fn an_unsupported_platform_is_refused() {
    for (os, arch) in [
        ("Darwin", "x86_64"),
        ("Linux", "riscv64"),
        ("Windows_NT", "x86_64"),
    ] {
        let f = Fixture::new();
        let out = f.install(os, arch, &[]);
        assert_eq!(out.status.code(), Some(1), "{os} {arch}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("no release asset for this platform")
                && err.contains("Linux x86_64, Linux aarch64, macOS arm64"),
            "{err}"
        );
        assert!(!f.bin().exists());
    }
}

#[test]
fn auto_builds_with_cargo_where_there_is_no_asset_and_cargo_mode_always_does() {
    let expected = |f: &Fixture| {
        let root = f.cargo_calls();
        let root = root
            .split("--root ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        format!(
            "install --git https://github.com/acme/ecs-roll --rev v1.2.3 --locked --root {root} ecs-roll\n"
        )
    };
    // No asset for the platform.
    let f = Fixture::new();
    let out = f.install("Darwin", "x86_64", &[("ECS_ROLL_INSTALL", "auto")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(f.cargo_calls(), expected(&f));
    assert_eq!(f.run_installed(), "ecs-roll built by cargo");

    // No release for the version (e.g. a branch): the asset is not found.
    let f = Fixture::new();
    let empty = f.path("empty");
    fs::create_dir_all(&empty).unwrap();
    let out = f.install(
        "Linux",
        "x86_64",
        &[
            ("ECS_ROLL_INSTALL", "auto"),
            ("ECS_ROLL_RELEASE_BASE_URL", empty.to_str().unwrap()),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert_eq!(f.cargo_calls(), expected(&f));
    // ... which with install: release is an error.
    let f = Fixture::new();
    let out = f.install(
        "Linux",
        "x86_64",
        &[("ECS_ROLL_RELEASE_BASE_URL", empty.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
    assert!(!f.bin().exists());

    // install: cargo builds even where an asset exists.
    let f = Fixture::new();
    let out = f.install("Linux", "x86_64", &[("ECS_ROLL_INSTALL", "cargo")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(f.cargo_calls(), expected(&f));
    assert_eq!(f.run_installed(), "ecs-roll built by cargo");
}

#[test]
fn downloads_over_http() {
    use std::io::{BufRead, BufReader};
    let f = Fixture::new();
    // A static file server on loopback, on a port the OS picks.
    struct Server(std::process::Child); // killed and reaped however the test ends
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut server = Command::new("python3")
        .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"])
        .current_dir(f.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(Server)
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .split(" port ")
        .nth(1)
        .and_then(|s| s.split(' ').next());
    let base = format!(
        "http://127.0.0.1:{}",
        port.unwrap_or_else(|| panic!("{line:?}"))
    );

    let release = format!("{base}/release/");
    let out = f.install(
        "Linux",
        "aarch64",
        &[("ECS_ROLL_RELEASE_BASE_URL", &release)],
    );
    let first = f.run_installed();
    // HTTP 404: no release for the version, so auto builds it.
    let missing = format!("{base}/no-such-release");
    let auto = f.install(
        "Linux",
        "x86_64",
        &[
            ("ECS_ROLL_RELEASE_BASE_URL", &missing),
            ("ECS_ROLL_INSTALL", "auto"),
        ],
    );
    drop(server);

    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(first, format!("ecs-roll fake {}", TARGETS[1]));
    assert!(auto.status.success(), "{}", stderr(&auto));
    assert!(
        stderr(&auto).contains("does not exist"),
        "{}",
        stderr(&auto)
    );
    assert_eq!(f.run_installed(), "ecs-roll built by cargo");
}
