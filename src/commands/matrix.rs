//! `ecs-roll matrix`: the `[[app]]`s of ecs-roll.toml as a GitHub Actions matrix, so each app
//! deploys in a job of its own (`strategy: matrix: ${{ fromJSON(...) }}`); the deploy lock in
//! AWS keeps two runners off the same target. In Actions mode it is also the step output
//! `matrix`.

use crate::config::Loaded;
use crate::error::Error;
use crate::render::github;

pub fn run(loaded: &Loaded) -> Result<i32, Error> {
    let doc = matrix(loaded)?;
    println!("{doc}");
    let actions = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    if let Some(path) = std::env::var_os("GITHUB_OUTPUT").filter(|_| actions) {
        github::write_outputs(std::path::Path::new(&path), &[("matrix", doc.to_string())])
            .map_err(|e| {
                Error::usage(
                    format!("cannot write the step output to $GITHUB_OUTPUT: {e}"),
                    "run it as a step of a GitHub Actions job, or unset GITHUB_OUTPUT",
                )
            })?;
    }
    Ok(0)
}

/// `{"include": [{"app": NAME, "cluster": ..., "service"|"load_balancer": ...}, ...]}`.
fn matrix(loaded: &Loaded) -> Result<serde_json::Value, Error> {
    let c = &loaded.config;
    if c.app.is_empty() {
        return Err(Error::usage(
            match &loaded.path {
                Some(p) => format!("{} has no [[app]] table", p.display()),
                None => "no ecs-roll.toml found (in this directory or a parent)".into(),
            },
            "add one [[app]] table per target (name = \"web\", ...) to ecs-roll.toml, or pass --config",
        ));
    }
    let include: Vec<serde_json::Value> = c
        .app
        .iter()
        .map(|app| {
            let merged = c.for_app(app);
            let mut entry = serde_json::json!({ "app": app.name });
            for (key, value) in [
                ("cluster", merged.cluster),
                ("service", merged.service),
                ("load_balancer", merged.load_balancer),
                ("family", merged.family),
                ("region", merged.region),
            ] {
                if let Some(v) = value {
                    entry[key] = v.into();
                }
            }
            entry
        })
        .collect();
    Ok(serde_json::json!({ "include": include }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(text: &str) -> Loaded {
        Loaded {
            config: crate::config::parse(text).unwrap(),
            path: Some("ecs-roll.toml".into()),
        }
    }

    #[test]
    fn each_app_is_one_matrix_entry_with_its_inherited_target() {
        let l = loaded(
            "cluster = \"prod\"\nregion = \"eu-west-1\"\n[[app]]\nname = \"web\"\nservice = \"web\"\n[[app]]\nname = \"legacy\"\nload_balancer = \"legacy-elb\"\nfamily = \"legacy\"\ncluster = \"old\"\n",
        );
        assert_eq!(
            matrix(&l).unwrap(),
            serde_json::json!({"include": [
                {"app": "web", "cluster": "prod", "service": "web", "region": "eu-west-1"},
                {"app": "legacy", "cluster": "old", "load_balancer": "legacy-elb", "family": "legacy", "region": "eu-west-1"},
            ]})
        );
    }

    #[test]
    fn a_config_without_apps_is_refused_with_what_to_add() {
        let e = matrix(&loaded("cluster = \"prod\"\n")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("no [[app]]"), "{e}");
        assert!(e.hint().contains("[[app]]"));
    }
}
