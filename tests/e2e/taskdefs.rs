//! End to end: task definition files as teams and generators write them.

use crate::harness as e2e;
use crate::support;

use e2e::{TASKDEF, api_calls, ecs_roll, run, with_globals};
use support::{IMAGE_V2, MotoServer, SeedOptions};

/// The reference file with what some generators write: empty strings for enums (ECS refuses
/// them) and an EFS volume without `rootDirectory` (AWS stores `/`).
fn generated_file(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(support::repo_root().join(TASKDEF)).unwrap();
    let mut td: serde_json::Value = serde_json::from_str(&text).unwrap();
    td["ipcMode"] = "".into();
    td["containerDefinitions"][0]["versionConsistency"] = "".into();
    td["volumes"] = serde_json::json!([
        {"name": "shared", "efsVolumeConfiguration": {"fileSystemId": "fs-12345678"}}
    ]);
    let path = dir.join("generated.json");
    std::fs::write(&path, td.to_string()).unwrap();
    path
}

#[test]
fn a_generated_file_deploys_without_its_empty_enums_and_a_rerun_reuses_its_revision() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let dir = tempfile::tempdir().unwrap();
    let file = generated_file(dir.path());
    let args = with_globals(&[
        "--output",
        "json",
        "deploy",
        "--image",
        IMAGE_V2,
        "--task-definition",
        file.to_str().unwrap(),
    ]);

    let first = run(ecs_roll(&moto), &args);
    first.assert_code(0);
    for field in ["ipcMode", "containerDefinitions[0].versionConsistency"] {
        assert!(
            first.stderr.contains(&format!(
                "task definition field \"{field}\" is an empty string, which ECS refuses; it is left out"
            )),
            "{}",
            first.context()
        );
    }
    let doc = first.json();
    assert_eq!(doc["target"]["name"], "cb-prototype:2", "{doc}");
    assert_eq!(api_calls(&doc, "RegisterTaskDefinition"), 1, "{doc}");

    // Had an empty value been registered, or `rootDirectory: "/"` counted as a change, the
    // rerun would register revision 3.
    let again = run(ecs_roll(&moto), &args);
    again.assert_code(0);
    let doc = again.json();
    assert_eq!(api_calls(&doc, "RegisterTaskDefinition"), 0, "{doc}");
    assert_eq!(doc["target"]["name"], "cb-prototype:2", "{doc}");
    assert_eq!(moto.inspect().task_definitions.len(), 2);
}
