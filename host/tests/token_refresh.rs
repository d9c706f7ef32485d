//! Host-managed token lifecycles against the fake X's OAuth 2.0 token
//! endpoint: the X plugin's user token is refreshed by the host once on a
//! 401 and before it expires, stored sealed, and a refused refresh pauses
//! the account.

mod common;

use common::map;

use std::time::Duration;

use socialcrm::channels::{self, NewChannel};
use socialcrm::ingest::{Ingest, IngestOptions};
use socialcrm::runtime::{Runtime, RuntimeOptions};
use socialcrm::secrets::SecretBox;
use socialcrm::store::Db;
use socialcrm::store::accounts;
use socialcrm_fakes::x::oauth::{CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, TOKEN_PATH};
use socialcrm_fakes::x::{self, FakeX, RecordedRequest};
use sqlx::Row;

/// The channel `brand` on the fake X, its token refreshable with `refresh_token`.
async fn brand(db: &Db, runtime: &Runtime, plugin: &str, network: &FakeX, refresh_token: &str) -> Ingest {
    let sbox = SecretBox::from_key(&[7; 32]).unwrap();
    let ingest = Ingest::new(
        db.clone(),
        sbox.clone(),
        runtime.clone(),
        Vec::new(),
        IngestOptions::default(),
    );
    let base = network.base_url();
    let channel = NewChannel {
        name: "brand".into(),
        plugin: plugin.to_string(),
        config: map(&[("api-url", &base), ("user-id", x::BRAND_ID), ("client-id", CLIENT_ID)]),
        secrets: map(&[
            ("access-token", x::TOKEN),
            ("refresh-token", refresh_token),
            ("client-secret", CLIENT_SECRET),
        ]),
        allow_private: true,
    };
    channels::add(db, &sbox, &ingest, channel).await.unwrap();
    ingest
}

fn header<'a>(request: &'a RecordedRequest, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn is_refresh(request: &RecordedRequest) -> bool {
    request.path == TOKEN_PATH
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_is_refreshed_on_401_and_before_expiry_and_stored_sealed() {
    let dir = common::plugin_dir("plugins/x");
    let plugin = &dir.path().display().to_string();
    common::on_each_db(move |db| async move {
        // A runtime per database: its egress log is the first ingest's.
        let runtime = &Runtime::new(RuntimeOptions::default()).unwrap();
        let network = FakeX::start().await.unwrap();
        network.push_mention("ann", "where is my order?");
        let ingest = brand(&db, runtime, plugin, &network, REFRESH_TOKEN).await;
        let before = network.requests().len();
        // The token expires: the host knew no expiry, so the 401 tells it.
        network.expire_tokens();
        network.set_token_lifetime(Duration::from_secs(60));
        let report = ingest.sync_now("brand", "test", &|_| {}).await.unwrap();
        assert!(report.new_posts >= 1, "{report:?}");
        let first: Vec<RecordedRequest> = network.requests()[before..].to_vec();
        let statuses: Vec<&str> = first.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(first.iter().filter(|r| is_refresh(r)).count(), 1, "{statuses:?}");
        let refresh = first.iter().position(is_refresh).unwrap();
        assert_eq!(refresh, 1, "one refused poll, then the refresh: {statuses:?}");
        assert!(first[refresh].body.contains(&format!("refresh_token={REFRESH_TOKEN}")));
        assert_eq!(
            header(&first[0], "authorization"),
            Some(format!("Bearer {}", x::TOKEN).as_str())
        );
        for retried in &first[refresh + 1..] {
            assert_eq!(
                header(retried, "authorization"),
                Some("Bearer fake-x-access-1"),
                "the retry uses the new token"
            );
        }

        // Stored sealed: the row holds neither new value in plain text.
        let raw: String = sqlx::query("SELECT secrets FROM channel_accounts WHERE name = 'brand'")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get("secrets");
        for value in ["fake-x-access-1", "fake-x-refresh-1", REFRESH_TOKEN] {
            assert!(!raw.contains(value), "{value} in the row");
        }
        let sbox = SecretBox::from_key(&[7; 32]).unwrap();
        let stored = accounts::load(&db, &sbox, "brand").await.unwrap();
        assert_eq!(stored.account.secrets["access-token"], "fake-x-access-1");
        assert_eq!(stored.account.secrets["refresh-token"], "fake-x-refresh-1", "rotated");

        // Sixty seconds left is within the margin: refreshed before the poll,
        // with the rotated refresh token, and no 401 on the way.
        let before = network.requests().len();
        ingest.sync_now("brand", "test", &|_| {}).await.unwrap();
        let second: Vec<RecordedRequest> = network.requests()[before..].to_vec();
        assert!(is_refresh(&second[0]), "refreshed first");
        assert!(second[0].body.contains("refresh_token=fake-x-refresh-1"));
        assert_eq!(second.iter().filter(|r| is_refresh(r)).count(), 1);
        for polled in &second[1..] {
            assert_eq!(header(polled, "authorization"), Some("Bearer fake-x-access-2"));
        }

        // The host's own requests are in the egress log with the plugin's.
        ingest.egress().flush().await;
        let egress = socialcrm::egress::list(&db, "x", 1000, i64::MAX).await.unwrap();
        let refreshes: Vec<_> = egress.iter().filter(|e| e.call == "refresh-token").collect();
        assert_eq!(refreshes.len(), 2, "{egress:?}");
        assert!(refreshes.iter().all(|e| e.path == TOKEN_PATH && e.status == Some(200)));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_refresh_pauses_the_account_with_a_clear_error() {
    let dir = common::plugin_dir("plugins/x");
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (runtime, plugin) = (&runtime, &dir.path().display().to_string());
    common::on_each_db(move |db| async move {
        let network = FakeX::start().await.unwrap();
        let ingest = brand(&db, runtime, plugin, &network, "a-spent-refresh-token").await;
        let before = network.requests().len();
        network.expire_tokens();
        let err = ingest.sync_now("brand", "test", &|_| {}).await.unwrap_err().to_string();
        assert_eq!(
            err,
            "the network refused to refresh the token: invalid_request (Value passed for the token was invalid.); \
             re-authorize the account"
        );
        let requests: Vec<String> = network.requests()[before..].iter().map(|r| r.path.clone()).collect();
        assert_eq!(
            requests.len(),
            2,
            "one refused poll, one refused refresh, no retry: {requests:?}"
        );
        assert_eq!(requests[1], TOKEN_PATH);
        let row = sqlx::query("SELECT status, last_error FROM channel_accounts WHERE name = 'brand'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(row.get::<String, _>("status"), "paused");
        assert_eq!(row.get::<Option<String>, _>("last_error"), Some(err));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_refused_for_an_expired_token_is_sent_after_one_refresh() {
    let dir = common::plugin_dir("plugins/x");
    let plugin = &dir.path().display().to_string();
    common::on_each_db(move |db| async move {
        let runtime = &Runtime::new(RuntimeOptions::default()).unwrap();
        let network = FakeX::start().await.unwrap();
        let ingest = brand(&db, runtime, plugin, &network, REFRESH_TOKEN).await;
        network.expire_tokens();
        let queued = socialcrm::replies::queue_broadcast(&db, "brand", "We are on it", "k-1", "agent")
            .await
            .unwrap();
        let before = network.requests().len();
        let reply = socialcrm::replies::send(&ingest, queued.id, "agent").await.unwrap();
        assert_eq!(
            (reply.status.as_str(), reply.error.as_deref()),
            ("sent", None),
            "{reply:?}"
        );
        let requests: Vec<RecordedRequest> = network.requests()[before..].to_vec();
        let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(
            paths,
            ["/2/tweets", TOKEN_PATH, "/2/tweets"],
            "refused, refreshed, sent once"
        );
        assert_eq!(header(&requests[2], "authorization"), Some("Bearer fake-x-access-1"));
        assert_eq!(network.posted().len(), 1, "one post on the network");
    })
    .await;
}
