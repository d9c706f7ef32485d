//! The admin API over HTTP, on SQLite and PostgreSQL: plugins installed and
//! managed from package bodies, channel accounts added, synced and removed,
//! CSV imports with their reports; only admins change anything, and every
//! change is audited under the token's name.

mod common;

use common::http::answer;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use socialcrm::channels::{self, NewChannel};
use socialcrm::ingest::Ingest;
use socialcrm::plugins::{Manifest, Package, trust};
use socialcrm::store::Db;
use socialcrm::tokens::{self, Role};
use socialcrm_fakes::FakeMastodon;
use socialcrm_fakes::mastodon::TOKEN;

struct Server {
    /// Serves until dropped.
    _http: common::http::Server,
    base: String,
    ingest: Ingest,
    admin: String,
    agent: String,
}

async fn start(db: &Db) -> Server {
    let http = common::http::start(db).await;
    Server {
        base: http.api(""),
        ingest: http.ingest.clone(),
        _http: http,
        admin: tokens::create(db, "root", Role::Admin, "test").await.unwrap(),
        agent: tokens::create(db, "agent-1", Role::Agent, "test").await.unwrap(),
    }
}

impl Server {
    fn call(&self, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.call(reqwest::Method::GET, path, &self.admin)
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.call(reqwest::Method::POST, path, &self.admin)
    }

    fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.call(reqwest::Method::DELETE, path, &self.admin)
    }

    /// The audit entries of `action`, newest first, as (actor, subject).
    async fn audited(&self, action: &str) -> Vec<(String, String)> {
        let (status, page) = answer(self.get(&format!("/audit?action={action}"))).await;
        assert_eq!(status, 200, "{page}");
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["actor"].as_str().unwrap().to_string(),
                    e["subject"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// The error body's message, checking it is one.
fn message(body: &Value) -> &str {
    assert!(body["error"]["code"].is_string(), "no error body: {body}");
    body["error"]["message"].as_str().unwrap_or_default()
}

/// The package of the plugin at `dir` with its manifest edited by `edit`.
fn package(dir: &std::path::Path, edit: impl Fn(String) -> String) -> Vec<u8> {
    let mut package = Package::from_dir(dir).unwrap();
    package.manifest_text = edit(package.manifest_text);
    package.manifest = Manifest::parse(&package.manifest_text).unwrap();
    package.to_bytes().unwrap()
}

fn binary(request: reqwest::RequestBuilder, body: Vec<u8>) -> reqwest::RequestBuilder {
    request.header("content-type", "application/octet-stream").body(body)
}

fn csv(request: reqwest::RequestBuilder, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
    request.header("content-type", "text/csv").body(body)
}

#[tokio::test(flavor = "multi_thread")]
async fn only_admins_change_plugins_channels_and_imports() {
    common::on_each_db(|db| async move {
        let server = start(&db).await;
        use reqwest::Method;
        for (method, path) in [
            (Method::POST, "/plugins"),
            (Method::POST, "/plugins/x/upgrade"),
            (Method::POST, "/plugins/x/rollback"),
            (Method::POST, "/plugins/x/enable"),
            (Method::POST, "/plugins/x/disable"),
            (Method::DELETE, "/plugins/x"),
            (Method::POST, "/channels"),
            (Method::POST, "/channels/x/sync"),
            (Method::DELETE, "/channels/x"),
            (Method::POST, "/imports/contacts"),
            (Method::POST, "/imports/transactions"),
            (Method::POST, "/imports/detect?kind=contacts"),
            (Method::PUT, "/imports/mappings/x"),
            (Method::DELETE, "/imports/mappings/x"),
        ] {
            let (status, body) = answer(server.call(method.clone(), path, &server.agent).body("x")).await;
            assert_eq!(status, 403, "{method} {path}: {body}");
            assert_eq!(body["error"]["code"], "forbidden");
        }
        for path in ["/plugins", "/channels"] {
            let (status, body) = answer(server.call(Method::GET, path, &server.agent)).await;
            assert_eq!((status, &body["items"]), (200, &json!([])), "{path}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn plugins_are_installed_and_managed_from_package_bodies() {
    let compat = common::plugin_dir("tests/compat/channel-1.0");
    let compat = compat.path();
    common::on_each_db(|db| async move {
        let server = start(&db).await;
        let v1 = package(compat, |m| m);
        let v2 = package(compat, |m| m.replace("version = \"1.0.0\"", "version = \"1.1.0\""));

        for garbage in [b"not a package at all".to_vec(), Vec::new()] {
            let (status, body) = answer(binary(server.post("/plugins"), garbage)).await;
            assert_eq!(status, 400, "{body}");
            assert!(message(&body).contains("request body"), "{body}");
        }

        let (status, installed) = answer(binary(server.post("/plugins"), v1.clone())).await;
        assert_eq!(status, 201, "{installed}");
        assert_eq!(installed["name"], "compat-channel");
        assert_eq!(installed["kind"], "channel");
        assert_eq!(installed["version"], "1.0.0");
        assert_eq!(installed["enabled"], true);
        assert_eq!(installed["signer"], Value::Null);
        assert_eq!(installed["versions"][0]["installed_by"], "root");
        let (status, body) = answer(binary(server.post("/plugins"), v1.clone())).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(message(&body), "compat-channel 1.0.0 is already installed");

        let (status, list) = answer(server.call(reqwest::Method::GET, "/plugins", &server.agent)).await;
        assert_eq!(status, 200);
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        assert_eq!(list["items"][0]["name"], "compat-channel");
        let (status, detail) = answer(server.get("/plugins/compat-channel")).await;
        assert_eq!(status, 200, "{detail}");
        assert_eq!(detail["api"], "^1.0");
        assert_eq!(detail["host_wit_version"], socialcrm::runtime::WIT_VERSION);
        assert!(detail["manifest"].as_str().unwrap().contains("compat-channel"));
        assert!(
            detail["world"].as_str().unwrap().contains("export"),
            "{}",
            detail["world"]
        );
        assert_eq!(detail["config"][0]["name"], "greeting");
        assert!(detail["limits"].is_object());
        assert_eq!(detail["versions"][0]["digest"].as_str().unwrap().len(), 64);
        let (status, _) = answer(server.get("/plugins/nothing")).await;
        assert_eq!(status, 404);

        // The package must be the plugin named in the path.
        let (status, body) = answer(binary(server.post("/plugins/other/upgrade"), v2.clone())).await;
        assert_eq!(status, 400, "{body}");
        let (status, upgraded) = answer(binary(server.post("/plugins/compat-channel/upgrade"), v2.clone())).await;
        assert_eq!(status, 200, "{upgraded}");
        assert_eq!(upgraded["version"], "1.1.0");
        assert_eq!(upgraded["versions"].as_array().unwrap().len(), 2);
        let (status, body) = answer(binary(server.post("/plugins/compat-channel/upgrade"), v1.clone())).await;
        assert_eq!(status, 409, "an older version is no upgrade: {body}");

        let (status, back) = answer(server.post("/plugins/compat-channel/rollback")).await;
        assert_eq!((status, &back["version"]), (200, &json!("1.0.0")), "{back}");
        let (status, off) = answer(server.post("/plugins/compat-channel/disable")).await;
        assert_eq!((status, &off["enabled"]), (200, &json!(false)), "{off}");
        let (status, on) = answer(server.post("/plugins/compat-channel/enable")).await;
        assert_eq!((status, &on["enabled"]), (200, &json!(true)), "{on}");

        // The signature policy applies as for `socialcrm plugin install`.
        trust::set_require_signatures(&db, true, "test").await.unwrap();
        let other = package(compat, |m| {
            m.replace("name = \"compat-channel\"", "name = \"compat-other\"")
        });
        let (status, body) = answer(binary(server.post("/plugins"), other)).await;
        assert_eq!(status, 422, "{body}");
        assert!(message(&body).contains("not signed"), "{body}");
        // A WIT version this host does not provide.
        let mut newer = v1.clone();
        let at = newer.windows(12).position(|w| w == b"api = \"^1.0\"").unwrap();
        newer[at..at + 12].copy_from_slice(b"api = \"^1.7\"");
        let (status, body) = answer(binary(server.post("/plugins"), newer)).await;
        assert_eq!(status, 422, "{body}");
        assert!(message(&body).contains("^1.7"), "{body}");

        let (status, _) = answer(server.delete("/plugins/compat-channel")).await;
        assert_eq!(status, 204);
        let (status, _) = answer(server.get("/plugins/compat-channel")).await;
        assert_eq!(status, 404);

        for action in [
            "plugin.install",
            "plugin.upgrade",
            "plugin.rollback",
            "plugin.disable",
            "plugin.enable",
            "plugin.remove",
        ] {
            assert_eq!(
                server.audited(action).await,
                [("root".to_string(), "plugin:compat-channel".to_string())],
                "{action}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn channels_are_added_synced_and_removed() {
    let mastodon = common::plugin_dir("plugins/mastodon");
    let mastodon = mastodon.path();
    common::on_each_db(|db| async move {
        let network = FakeMastodon::start().await.unwrap();
        let server = start(&db).await;
        let (status, body) = answer(binary(server.post("/plugins"), package(mastodon, |m| m))).await;
        assert_eq!(status, 201, "{body}");

        let add = |body: Value| answer(server.post("/channels").json(&body));
        let instance = network.base_url();
        let (status, body) = add(json!({"plugin": "mastodon", "name": "brand",
            "config": {"instance": instance, "colour": "red"}}))
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(message(&body).contains("unknown field `colour`"), "{body}");
        let (status, body) = add(json!({"plugin": "mastodon", "name": "brand",
            "config": {"instance": instance, "access-token": TOKEN}}))
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(message(&body).contains("is a secret"), "{body}");
        let (status, body) =
            add(json!({"plugin": "mastodon", "name": "brand", "config": {"instance": instance}})).await;
        assert_eq!(status, 400, "{body}");
        assert!(message(&body).contains("`access-token` is required"), "{body}");
        let (status, body) = add(json!({"plugin": "/tmp/plugin", "name": "brand"})).await;
        assert_eq!(status, 400, "a path on the server is refused: {body}");
        let (status, body) = add(json!({"plugin": "mastodon", "name": "brand", "owner": "me"})).await;
        assert_eq!(status, 422, "{body}");
        // Over the API an account cannot reach loopback: the plugin's check fails.
        let (status, body) = add(json!({"plugin": "mastodon", "name": "brand",
            "config": {"instance": instance}, "secrets": {"access-token": TOKEN}}))
        .await;
        assert_eq!(status, 422, "{body}");
        assert!(message(&body).contains("check failed"), "{body}");

        let local = NewChannel {
            name: "brand".into(),
            plugin: "mastodon".into(),
            config: BTreeMap::from([("instance".into(), instance.clone())]),
            secrets: BTreeMap::from([("access-token".into(), TOKEN.into())]),
            allow_private: true,
        };
        channels::add(&db, server.ingest.secret_box(), &server.ingest, local)
            .await
            .unwrap();
        let (status, list) = answer(server.call(reqwest::Method::GET, "/channels", &server.agent)).await;
        assert_eq!(status, 200, "{list}");
        let brand = &list["items"][0];
        assert_eq!(
            (&brand["name"], &brand["network"], &brand["posts"]),
            (&json!("brand"), &json!("mastodon"), &json!(0))
        );
        assert!(brand.get("secrets").is_none() && !list.to_string().contains(TOKEN));

        let (status, synced) = answer(server.post("/channels/brand/sync")).await;
        assert_eq!(status, 200, "{synced}");
        let new_posts = synced["new_posts"].as_u64().unwrap();
        assert!(new_posts > 0, "{synced}");
        let (_, list) = answer(server.get("/channels")).await;
        assert_eq!(list["items"][0]["posts"], new_posts);
        assert_eq!(list["items"][0]["status"], "active");
        assert!(list["items"][0]["next_poll_at"].as_i64().unwrap() > 0);
        let (status, again) = answer(server.post("/channels/brand/sync")).await;
        assert_eq!((status, &again["new_posts"]), (200, &json!(0)), "{again}");
        let (status, _) = answer(server.post("/channels/nobody/sync")).await;
        assert_eq!(status, 404);

        let (status, body) = answer(server.delete("/plugins/mastodon")).await;
        assert_eq!(status, 409, "a plugin in use stays: {body}");
        let (status, _) = answer(server.delete("/channels/brand")).await;
        assert_eq!(status, 204);
        let (status, body) = answer(server.delete("/channels/brand")).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(
            server.audited("channel.sync").await,
            [
                ("root".to_string(), "brand".to_string()),
                ("root".to_string(), "brand".to_string())
            ]
        );
        assert_eq!(
            server.audited("channel.remove").await,
            [("root".to_string(), "brand".to_string())]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_answer_their_report() {
    common::on_each_db(|db| async move {
        let server = start(&db).await;
        let (status, report) = answer(csv(
            server.post("/imports/contacts"),
            "id,name,email,shoe_size\nC1,Ann,ann@example.com,38\nC2,Bob,not-an-email,44\n",
        ))
        .await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(
            (report["read"].as_u64(), report["created"].as_u64()),
            (Some(2), Some(1))
        );
        assert_eq!(report["rejected"][0]["line"], 3, "{report}");
        assert!(
            report["rejected"][0]["reason"].as_str().unwrap().contains("email"),
            "{report}"
        );
        assert_eq!(report["ignored_columns"], json!(["shoe_size"]));

        let (status, report) = answer(csv(
            server.post("/imports/transactions"),
            "id,contact_id,kind,occurred_at,amount,currency\n\
             T1,C1,purchase,2024-01-02,10,EUR\nT2,C9,purchase,2024-01-02,5,EUR\n",
        ))
        .await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["created"], 1, "{report}");
        assert_eq!(report["rejected"][0]["line"], 3, "{report}");

        for (what, body) in [
            ("empty", Vec::new()),
            ("blank", b"\n\n".to_vec()),
            ("no id column", b"name\nAnn\n".to_vec()),
        ] {
            let (status, body) = answer(csv(server.post("/imports/contacts"), body)).await;
            assert_eq!(status, 400, "{what}: {body}");
            message(&body);
        }
        assert_eq!(
            server.audited("import.contacts").await,
            [("root".to_string(), "contacts".to_string())]
        );
        assert_eq!(
            server.audited("import.transactions").await,
            [("root".to_string(), "transactions".to_string())]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_detect_map_and_dry_run() {
    use reqwest::Method;
    let orders = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/imports/shopify-orders.csv"
    ))
    .unwrap();
    common::on_each_db(|db| {
        let orders = orders.clone();
        async move {
            let server = start(&db).await;
            // Windows-1252 with `;`: detected, not refused.
            let (status, found) = answer(csv(
                server.post("/imports/detect?kind=contacts"),
                b"Kundennr;Name;E-Mail\r\nK1;Ren\xe9e;renee@example.fr\r\n".to_vec(),
            ))
            .await;
            assert_eq!(status, 200, "{found}");
            assert_eq!(found["format"]["encoding"], "windows-1252");
            assert_eq!(found["format"]["delimiter"], ";");
            assert_eq!(found["columns"], json!(["Kundennr", "Name", "E-Mail"]));
            assert_eq!(found["sample"], json!([["K1", "Renée", "renee@example.fr"]]));
            assert_eq!(found["best_fit"], Value::Null, "no id column: nothing fits");

            let (status, found) = answer(csv(server.post("/imports/detect?kind=transactions"), orders.clone())).await;
            assert_eq!(status, 200, "{found}");
            assert_eq!(found["best_fit"]["name"], "shopify");
            assert_eq!(found["mapping"]["fields"]["contact_email"], json!(["Email"]));
            assert_eq!(found["mapping"]["kind"], "purchase");

            // A mapping saved, then named by an import; a dry run first.
            let (status, saved) = answer(
                server
                    .call(Method::PUT, "/imports/mappings/legacy", &server.admin)
                    .json(&json!({
                        "kind": "contacts",
                        "mapping": {"fields": {"id": ["Kundennr"], "name": ["Name"], "email": ["E-Mail"]}}
                    })),
            )
            .await;
            assert_eq!(status, 200, "{saved}");
            let (_, listed) = answer(server.call(Method::GET, "/imports/mappings", &server.agent)).await;
            assert_eq!(listed["items"][0]["name"], "legacy");
            let body = b"Kundennr;Name;E-Mail\r\nK1;Ren\xe9e;renee@example.fr\r\nK2;Bo;bo\r\n".to_vec();
            let (status, report) = answer(csv(
                server.post("/imports/contacts?mapping=legacy&dry_run=true"),
                body.clone(),
            ))
            .await;
            assert_eq!(status, 200, "{report}");
            assert_eq!(
                (report["dry_run"].as_bool(), report["created"].as_u64()),
                (Some(true), Some(1))
            );
            assert_eq!(report["rejected"][0]["line"], 3, "{report}");
            let (_, contacts) = answer(server.get("/contacts")).await;
            assert_eq!(contacts["items"], json!([]), "a dry run writes nothing");
            let (status, report) = answer(csv(server.post("/imports/contacts?mapping=legacy"), body)).await;
            assert_eq!((status, report["created"].as_u64()), (200, Some(1)), "{report}");

            // Pairs in the query; a column the file lacks is named.
            let (status, body) = answer(csv(
                server.post("/imports/contacts?map=Kundennr%3Did&map=Mail%3Demail"),
                "Kundennr,E-Mail\nK1,a@example.com\n",
            ))
            .await;
            assert_eq!(status, 400, "{body}");
            assert!(message(&body).contains("`Mail` for `email`"), "{body}");
            let (status, body) = answer(csv(server.post("/imports/contacts?mapping=nope"), "id\nK1\n")).await;
            assert_eq!(status, 404, "{body}");

            let (status, _) = answer(server.delete("/imports/mappings/legacy")).await;
            assert_eq!(status, 204);
            let (_, presets) = answer(server.get("/imports/presets")).await;
            assert_eq!(presets["items"].as_array().map(Vec::len), Some(4), "{presets}");
            assert_eq!(
                server.audited("import.mapping.save").await,
                [("root".to_string(), "import-mapping:legacy".to_string())]
            );
        }
    })
    .await;
}

#[test]
fn package_and_csv_bodies_are_documented_with_their_media_types() {
    let doc = serde_json::to_value(socialcrm::server::openapi()).unwrap();
    let body = |path: &str| doc["paths"][path]["post"]["requestBody"]["content"].clone();
    for path in ["/api/v1/plugins", "/api/v1/plugins/{name}/upgrade"] {
        let content = body(path);
        assert!(content["application/octet-stream"].is_object(), "{path}: {content}");
    }
    for path in ["/api/v1/imports/contacts", "/api/v1/imports/transactions"] {
        let content = body(path);
        assert!(content["text/csv"].is_object(), "{path}: {content}");
    }
    let sync = &doc["paths"]["/api/v1/channels/{name}/sync"]["post"]["responses"];
    assert!(sync["200"].is_object() && sync["202"].is_object(), "{sync}");
    // Operation ids name these operations alone.
    let operations: Vec<(&str, &str)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().values().map(move |op| (path.as_str(), op)))
        .filter_map(|(path, op)| Some((path, op["operationId"].as_str()?)))
        .collect();
    for (path, id) in &operations {
        if ["/api/v1/plugins", "/api/v1/channels", "/api/v1/imports"]
            .iter()
            .any(|p| path.starts_with(p))
        {
            assert_eq!(
                operations.iter().filter(|(_, other)| other == id).count(),
                1,
                "{path}: {id}"
            );
        }
    }
    let package = &doc["components"]["schemas"]["PackageFile"];
    assert_eq!(
        (&package["type"], &package["format"]),
        (&json!("string"), &json!("binary")),
        "{package}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_filters_by_actor_action_and_time() {
    common::on_each_db(|db| async move {
        let server = start(&db).await;
        // Past the millisecond of the tokens `start` made.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let before = socialcrm::store::now_ms();
        let (status, created) = answer(server.post("/tokens").json(&json!({"name": "bot", "role": "viewer"}))).await;
        assert_eq!(status, 201, "{created}");
        let (status, saved) = answer(
            server
                .call(reqwest::Method::PUT, "/templates/thanks", &server.agent)
                .json(&json!({"body": "Thanks!"})),
        )
        .await;
        assert_eq!(status, 200, "{saved}");
        let after = socialcrm::store::now_ms() + 1;

        let actions = |query: String| {
            let request = server.get(&format!("/audit?{query}"));
            async move {
                let (status, page) = answer(request).await;
                assert_eq!(status, 200, "{query}: {page}");
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| format!("{} {}", e["actor"].as_str().unwrap(), e["action"].as_str().unwrap()))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(actions("actor=agent-1".into()).await, ["agent-1 template.save"]);
        assert_eq!(
            actions("actor=root&action=token.create".into()).await,
            ["root token.create"]
        );
        assert_eq!(
            actions(format!("since={before}&until={after}")).await,
            ["agent-1 template.save", "root token.create"]
        );
        assert!(actions(format!("since={after}")).await.is_empty());
        assert!(actions(format!("until={before}&actor=root")).await.is_empty());
    })
    .await;
}
