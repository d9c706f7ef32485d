//! `socialcrm demo` end to end, on SQLite and PostgreSQL: its own Mastodon
//! network serves what the bundled mastodon plugin calls (the check, the
//! brand's mentions page by page, the post a reply answers, the reply), every
//! customer post reaches the inbox once while they keep arriving, and a second
//! run on the same data reads the new network without taking the history twice.

mod common;

use std::time::Duration;

use serde_json::{Value, json};

/// The demo world's posts: 14 at start, 6 arriving one by one.
const POSTS: usize = 20;
const ARRIVING: usize = 6;

fn external_ids(posts: &[Value]) -> std::collections::BTreeSet<String> {
    posts
        .iter()
        .map(|p| p["external_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_network_feeds_the_bundled_mastodon_plugin() {
    let plugins = common::demo::plugins();
    let plugins = plugins.path();
    common::on_each_db_url(|url, _db| async move {
        let url = url.as_str();
        let data = tempfile::tempdir().unwrap();
        let demo = tokio::task::block_in_place(|| common::demo::Demo::start(url, data.path(), plugins));
        let health = reqwest::get(format!("{}/healthz", demo.root)).await.unwrap();
        assert_eq!(health.status(), 200);

        // The network takes the channel's token and no other.
        let credentials = format!("{}/api/v1/accounts/verify_credentials", demo.network);
        let client = reqwest::Client::new();
        for request in [client.get(&credentials), client.get(&credentials).bearer_auth("wrong")] {
            let (status, body) = common::http::answer(request).await;
            assert_eq!((status, &body["error"]), (401, &json!("The access token is invalid")));
        }

        // Every post, each once: the history, then those arriving (polled with min_id).
        let posts = demo.wait_for_posts(POSTS).await;
        assert_eq!(external_ids(&posts).len(), POSTS, "{posts:#?}");
        let replies_to_customers = posts.iter().filter(|p| p["in_reply_to"].is_string()).count();
        assert_eq!(replies_to_customers, 3, "threads keep their parent");
        let maya = posts
            .iter()
            .find(|p| p["author"]["handle"] == "maya@demo.social")
            .expect("Maya's post");
        assert_eq!(maya["author"]["display_name"], "Maya Okafor");

        // A reply goes out through the network (it reads the post answered first).
        let (status, reply) = common::http::answer(
            client
                .post(format!("{}/api/v1/posts/{}/replies", demo.root, maya["id"]))
                .bearer_auth(&demo.token)
                .json(&json!({"text": "Thanks, Maya! Enjoy the rides."})),
        )
        .await;
        assert_eq!((status, reply["status"].as_str()), (201, Some("sent")), "{reply}");
        let sent_id = reply["external_id"].as_str().expect("the status id");
        let sent_url = reply["url"].as_str().expect("the status URL");
        assert!(sent_url.ends_with(&format!("/@lumenbikes/{sent_id}")), "{sent_url}");
        let replied = demo.get(&format!("/posts/{}/replies", maya["id"])).await;
        assert_eq!(replied["items"].as_array().map(Vec::len), Some(1));

        // Again, on the same data: a new network (new port), the history not taken twice.
        drop(demo);
        let again = tokio::task::block_in_place(|| common::demo::Demo::start(url, data.path(), plugins));
        let posts_again = again.wait_for_posts(POSTS + ARRIVING).await;
        let ids = external_ids(&posts_again);
        assert_eq!(ids.len(), POSTS + ARRIVING);
        assert!(ids.is_superset(&external_ids(&posts)));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(again.posts().await.len(), POSTS + ARRIVING, "nothing more arrives");
    })
    .await;
}
