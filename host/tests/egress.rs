//! The egress log: every outgoing request of every plugin call, refused ones
//! included, kept per plugin with its account and call, without query
//! strings, and counted in /metrics. On SQLite and PostgreSQL.

mod common;

use std::collections::BTreeMap;

use socialcrm::channels::{self, NewChannel};
use socialcrm::egress;
use socialcrm::ingest::{Ingest, IngestOptions};
use socialcrm::runtime::{Runtime, RuntimeOptions};
use socialcrm::secrets::SecretBox;
use socialcrm_fakes::FakeMastodon;
use socialcrm_fakes::mastodon::TOKEN;

#[tokio::test(flavor = "multi_thread")]
async fn every_request_of_every_call_is_logged_refused_ones_too() {
    let mastodon = common::plugin_dir("plugins/mastodon");
    let hostile = common::plugin_dir("tests/hostile/channel");
    let (mastodon, hostile) = (
        &mastodon.path().display().to_string(),
        &hostile.path().display().to_string(),
    );
    socialcrm::metrics::handle();
    common::on_each_db(move |db| async move {
        let network = FakeMastodon::start().await.unwrap();
        network.push_mention(serde_json::json!({"content": "<p>hello @brand</p>"}));
        let sbox = SecretBox::from_key(&[9; 32]).unwrap();
        let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
        let ingest = Ingest::new(db.clone(), sbox.clone(), runtime, vec![], IngestOptions::default());
        let add = |name: &str, plugin: &str, config: &[(&str, String)], secrets: &[(&str, &str)]| NewChannel {
            name: name.into(),
            plugin: plugin.to_string(),
            config: config.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            secrets: secrets
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            allow_private: true,
        };
        let brand = add(
            "brand",
            mastodon,
            &[("instance", network.base_url())],
            &[("access-token", TOKEN)],
        );
        channels::add(&db, &sbox, &ingest, brand).await.unwrap();
        ingest.sync_now("brand", "test", &|_| {}).await.unwrap();
        let denied = add(
            "nosy",
            hostile,
            &[("mode", "denied".into()), ("target", "https://api.example.net".into())],
            &[],
        );
        channels::add(&db, &sbox, &ingest, denied).await.unwrap();
        ingest
            .sync_now("nosy", "test", &|_| {})
            .await
            .expect_err("the request is refused");
        ingest.egress().flush().await;

        let logged = egress::list(&db, "mastodon", 100, i64::MAX).await.unwrap();
        let check = logged.iter().find(|e| e.call == "check").expect("the check's request");
        assert_eq!(check.account.as_deref(), Some("brand"));
        assert_eq!(check.path, "/api/v1/accounts/verify_credentials");
        assert_eq!(check.status, Some(200));
        let poll = logged.iter().find(|e| e.call == "poll").expect("the poll's requests");
        assert_eq!((poll.method.as_str(), poll.host.as_str()), ("GET", "127.0.0.1"));
        assert_eq!(poll.path, "/api/v1/notifications", "no query string");
        assert!(poll.response_bytes > 0 && poll.refused.is_none());
        assert!(logged.windows(2).all(|w| w[0].id > w[1].id), "newest first");

        let refused = egress::list(&db, "hostile-channel", 100, i64::MAX).await.unwrap();
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].host, "example.com");
        assert_eq!(refused[0].path, "/steal");
        assert_eq!(
            refused[0].refused.as_deref(),
            Some("https://example.com:443 is not in the plugin's allowed hosts")
        );
        assert_eq!(refused[0].account.as_deref(), Some("nosy"));
    })
    .await;
    let metrics = socialcrm::metrics::render();
    for expected in [
        "socialcrm_plugin_requests_total{plugin=\"mastodon\",host=\"127.0.0.1\",outcome=\"200\"}",
        "socialcrm_plugin_requests_total{plugin=\"hostile-channel\",host=\"example.com\",outcome=\"refused\"}",
    ] {
        assert!(metrics.contains(expected), "{expected} in {metrics}");
    }
}
