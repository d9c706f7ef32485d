//! The API keeps the contract its OpenAPI document states. The document
//! validates as OpenAPI 3.1 (openapi-spec-validator); then schemathesis
//! generates requests from the document alone, valid and invalid, sends them
//! to a running `socialcrm demo` with a token of each role, and checks every
//! answer: no 5xx, the status documented, the body valid against its schema,
//! invalid input refused, valid input accepted, no route that ignores its
//! token (the viewer and the agent on SQLite, the admin on every database).
//! Both tools come from `cargo xtask test` (SOCIALCRM_PYTHON_TOOLS, a
//! virtual environment's bin/); without them the test is skipped, and under
//! CI that fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::demo::Demo;
use common::http::answer;
use serde_json::{Value, json};
use socialcrm::store::Backend;

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
    let (tools, plugins) = (&tools, plugins.path());
    common::on_each_db_url(|url, db| async move {
        // What each role may reach is decided before any query: the viewer's
        // and the agent's runs on one database say all there is to say.
        let every_role = db.backend() == Backend::Sqlite;
        check(tools, plugins, &url, every_role).await
    })
    .await;
}

/// The document valid, and schemathesis finding nothing, on the database at
/// `url`: as the admin, and as a viewer and an agent when `every_role`.
async fn check(tools: &Path, plugins: &Path, url: &str, every_role: bool) {
    let data = tempfile::tempdir().unwrap();
    let demo = tokio::task::block_in_place(|| Demo::start(url, data.path(), plugins));
    let client = reqwest::Client::new();
    // Data in every list: posts, their analyses, links to the CRM's contacts,
    // and the deliveries of a subscription to the posts still arriving (to a
    // name that never resolves: they wait for their retry).
    let (status, subscribed) = answer(
        client
            .post(format!("{}/api/v1/events/subscriptions", demo.root))
            .bearer_auth(&demo.token)
            .json(&json!({"url": "https://hooks.invalid/contract", "types": ["post.received"]})),
    )
    .await;
    assert_eq!(status, 201, "{subscribed}");
    demo.wait_for_posts(14).await;
    let deliveries = format!("{}/api/v1/events/deliveries?limit=1", demo.root);
    let started = std::time::Instant::now();
    while answer(client.get(&deliveries).bearer_auth(&demo.token)).await.1["next_cursor"].is_null() {
        assert!(started.elapsed().as_secs() < 60, "no two deliveries after 60 s");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }

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

    let config = data.path().join("schemathesis.toml");
    let document: serde_json::Value = serde_json::from_slice(&document).unwrap();
    std::fs::write(&config, config_for(&client, &demo, &document).await).unwrap();

    let mut roles = Vec::new();
    let others: &[&str] = if every_role { &["viewer", "agent"] } else { &[] };
    for role in others {
        let (status, created) = answer(
            client
                .post(format!("{}/api/v1/tokens", demo.root))
                .bearer_auth(&demo.token)
                .json(&json!({"name": format!("contract-{role}"), "role": role})),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        roles.push((*role, created["token"].as_str().unwrap().to_string()));
    }
    // The admin last: its requests change what the others would read.
    roles.push(("admin", demo.token.clone()));

    let mut failed = Vec::new();
    for (role, token) in &roles {
        let (clean, output) = tokio::task::block_in_place(|| schemathesis(tools, &config, &schema, &demo.root, token));
        if !clean {
            failed.push(format!("--- as {role}:\n{output}"));
        }
    }
    assert!(
        failed.is_empty(),
        "the API breaks its contract on {url}:\n{}\nthe demo's log:\n{}",
        failed.join("\n"),
        std::fs::read_to_string(&demo.log).unwrap_or_default()
    );
}

/// Operations whose valid input has rules JSON Schema cannot state, and
/// which answer 400 naming the rule: bodies in other formats (CSV with its
/// columns, a plugin package), an import mapping's fields (those of its
/// kind), parameters checked against each other (`since` before `until`, a
/// trend's number of buckets), a channel's configuration (the fields its
/// plugin declares) and an event subscription's URL (one the URL standard
/// parses, with a public host). The rules are in the operations' descriptions.
const RULES_IN_WORDS: &[&str] = &[
    "POST /api/v1/channels",
    "POST /api/v1/events/subscriptions",
    "POST /api/v1/imports/contacts",
    "POST /api/v1/imports/transactions",
    "POST /api/v1/imports/detect",
    "PUT /api/v1/imports/mappings/{name}",
    "POST /api/v1/plugins",
    "POST /api/v1/plugins/{name}/upgrade",
    "GET /api/v1/insights/trends",
    "GET /api/v1/insights/topics",
];

/// What the document cannot say, told to schemathesis: [`RULES_IN_WORDS`],
/// and cursors. A cursor is valid only as a list's `next_cursor` gave it, so
/// each list is paged once here and its cursor given to every generated
/// request.
async fn config_for(client: &reqwest::Client, demo: &Demo, document: &Value) -> String {
    let mut config = String::new();
    for name in RULES_IN_WORDS {
        config += &format!(
            "[[operations]]\ninclude-name = \"{name}\"\n\
             checks.positive_data_acceptance.expected-statuses = \
             [\"2xx\", \"400\", \"401\", \"403\", \"404\", \"409\", \"413\", \"422\"]\n\n"
        );
    }
    let (_, contacts) = answer(
        client
            .get(format!("{}/api/v1/contacts?limit=1", demo.root))
            .bearer_auth(&demo.token),
    )
    .await;
    let contact = contacts["items"][0]["id"].as_i64().expect("a contact");
    for (path, item) in document["paths"].as_object().unwrap() {
        let Some(params) = item["get"]["parameters"].as_array() else {
            continue;
        };
        if !params.iter().any(|p| p["name"] == "cursor") {
            continue;
        }
        let concrete = path.replace("{id}", &contact.to_string()).replace("{name}", "mastodon");
        let (status, page) = answer(
            client
                .get(format!("{}{concrete}?limit=1", demo.root))
                .bearer_auth(&demo.token),
        )
        .await;
        let cursor = page["next_cursor"].as_str();
        let cursor = cursor.unwrap_or_else(|| panic!("{concrete}: no cursor ({status} {page}): too little data"));
        config += &format!(
            "[[operations]]\ninclude-name = \"GET {path}\"\nparameters = {{ \"query.cursor\" = \"{cursor}\" }}\n\n"
        );
    }
    config
}

/// One schemathesis run with `token`: whether it found nothing, and its output.
fn schemathesis(tools: &Path, config: &Path, schema: &str, root: &str, token: &str) -> (bool, String) {
    let out = Command::new(tools.join("schemathesis"))
        .current_dir(config.parent().unwrap())
        .arg("--no-color")
        .arg("--config-file")
        .arg(config)
        .args(["run", schema, "--url", root, "--checks", "all"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED, "--workers", "1"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        // The document says no string holds a NUL (the server refuses one with 400).
        .args(["--generation-allow-x00", "false"])
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
