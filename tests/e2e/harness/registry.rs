//! A real container registry on loopback for the image checks: Debian's `docker-registry`
//! (the CNCF Distribution registry), started with a config of its own on a free port and
//! storage in a temporary directory, filled through its HTTP API by
//! `scripts/registry_push.py`. Stopped when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support;

pub struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = support::moto::free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("docker-registry does not start ({e}): run scripts/ensure-debian-packages.sh docker-registry")
            });
        let r = Registry {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while support::moto::http(port, "GET", "/v2/", None)
            .ok()
            .map(|(s, _)| s)
            != Some(200)
        {
            assert!(
                Instant::now() < deadline,
                "docker-registry on port {port} never answered"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Pushes a minimal image of `name` under each of `tags`.
    pub fn push(&self, name: &str, tags: &[&str]) {
        let out = Command::new("python3")
            .arg(support::repo_root().join("scripts/registry_push.py"))
            .arg(self.url())
            .arg(name)
            .args(tags)
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "registry_push.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
