//! The API keeps the contract its OpenAPI document states. The document
//! validates as OpenAPI 3.1 (openapi-spec-validator); then schemathesis
//! generates requests from the document alone, valid and invalid, sends them
//! to a running `socialcrm demo` with a token of each role, and checks every
//! answer: no 5xx, the status documented, the body valid against its schema,
//! invalid input refused, valid input accepted, no route that ignores its
//! token. Both tools come from `cargo xtask test` (SOCIALCRM_PYTHON_TOOLS, a
//! virtual environment's bin/); without them the test is skipped, and under
//! CI that fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

/// Test cases per operation and phase: enough for the coverage phase's
/// boundary values plus some fuzzing, on 2 cores in about a minute per role.
const MAX_EXAMPLES: &str = "25";

/// The runs are reproducible: a finding shows up again with the same seed.
const SEED: &str = "20261207";

#[tokio::test(flavor = "multi_thread")]
async fn the_api_keeps_its_openapi_contract() {
    let Some(tools) = std::env::var_os("SOCIALCRM_PYTHON_TOOLS").map(PathBuf::from) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the API contract test: `cargo xtask test` sets SOCIALCRM_PYTHON_TOOLS"
        );
        common::skipped("the API contract test (schemathesis; `cargo xtask test` runs it)");
        return;
    };
    let plugins = common::demo::plugins();
    let data = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", data.path().join("socialcrm.db").display());
    let demo = tokio::task::block_in_place(|| common::demo::Demo::start(&url, data.path(), plugins.path()));
    // Data in every list: posts, their analyses and links to the CRM's contacts.
    demo.wait_for_posts(14).await;

    let client = reqwest::Client::new();
    let schema = format!("{}/api/v1/openapi.json", demo.root);
    let document = client.get(&schema).send().await.unwrap().bytes().await.unwrap();
    let saved = data.path().join("openapi.json");
    std::fs::write(&saved, &document).unwrap();
    let validator = tokio::task::block_in_place(|| {
        Command::new(tools.join("openapi-spec-validator"))
            .arg(&saved)
            .output()
            .expect("run openapi-spec-validator")
    });
    assert!(
        validator.status.success(),
        "the document is not valid OpenAPI 3.1:\n{}{}",
        String::from_utf8_lossy(&validator.stdout),
        String::from_utf8_lossy(&validator.stderr)
    );

    let mut roles = Vec::new();
    for role in ["viewer", "agent"] {
        let (status, created) = common::http::answer(
            client
                .post(format!("{}/api/v1/tokens", demo.root))
                .bearer_auth(&demo.token)
                .json(&json!({"name": format!("contract-{role}"), "role": role})),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        roles.push((role, created["token"].as_str().unwrap().to_string()));
    }
    // The admin last: its requests change what the others would read.
    roles.push(("admin", demo.token.clone()));

    let mut failed = Vec::new();
    for (role, token) in &roles {
        let (clean, output) =
            tokio::task::block_in_place(|| schemathesis(&tools, data.path(), &schema, &demo.root, token));
        if !clean {
            failed.push(format!("--- as {role}:\n{output}"));
        }
    }
    assert!(
        failed.is_empty(),
        "the API breaks its contract:\n{}\nthe demo's log:\n{}",
        failed.join("\n"),
        std::fs::read_to_string(&demo.log).unwrap_or_default()
    );
}

/// One schemathesis run with `token`: whether it found nothing, and its output.
fn schemathesis(tools: &Path, dir: &Path, schema: &str, root: &str, token: &str) -> (bool, String) {
    let out = Command::new(tools.join("schemathesis"))
        .current_dir(dir)
        .args(["--no-color", "run", schema, "--url", root, "--checks", "all"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED, "--workers", "2"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--output-truncate", "false", "--generation-database", "none"])
        .output()
        .expect("run schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
