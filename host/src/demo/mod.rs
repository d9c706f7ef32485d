//! `socialcrm demo`: the bundled plugins against a demo network on loopback.
//! A Mastodon-compatible server carries the demo brand's mentions; the
//! mastodon plugin polls them, the sentiment plugin scores them, the inbox is
//! printed most negative first, and the worst one gets a reply.

mod data;

use std::collections::BTreeMap;

use anyhow::Context;
use socialcrm_fakes::{Dataset, FakeMastodon, mastodon::TOKEN};

use crate::ingest::{ChannelRef, commit_page};
use crate::plugins::resolve;
use crate::runtime::bindings::types::{Analysis, Post};
use crate::runtime::bindings::{AnalysisInput, Outbound, ReplyTarget};
use crate::runtime::{Account, Runtime, RuntimeOptions};
use crate::store::{Db, now_ms};

/// Stops after this many pages even if the plugin keeps saying there is more.
const MAX_PAGES: usize = 100;

pub fn run(data_dir: &std::path::Path) -> anyhow::Result<()> {
    let tokio = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let network = tokio.block_on(FakeMastodon::start_with(Dataset {
        brand: data::brand(),
        statuses: data::statuses(),
        notifications: Vec::new(),
    }))?;
    println!("demo network (Mastodon API) at {}", network.base_url());
    let db = tokio.block_on(Db::open_default(data_dir))?;
    // The demo network starts afresh each run: so does the demo channel's cursor.
    let channel = tokio.block_on(demo_channel(&db))?;

    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(data_dir.join("cache")),
        ..RuntimeOptions::default()
    })?;
    let (manifest, wasm) = resolve("mastodon")?;
    let mastodon = runtime.load_channel(manifest, &wasm)?;
    let (manifest, wasm) = resolve("sentiment")?;
    let sentiment = runtime.load_analyzer(manifest, &wasm)?;

    let mut account = Account {
        name: "demo".into(),
        config: BTreeMap::from([("instance".into(), network.base_url())]),
        secrets: BTreeMap::from([("access-token".into(), TOKEN.into())]),
        // The demo network listens on loopback.
        allow_private: true,
        ..Account::default()
    };
    mastodon.check(&account)?;

    let mut posts: Vec<Post> = Vec::new();
    let mut state = String::new();
    let mut requests = 0;
    let (mut stored, mut duplicates) = (0, 0);
    for _ in 0..MAX_PAGES {
        let page = mastodon.poll(&account, &state)?;
        requests += page.requests.len();
        let committed = tokio.block_on(commit_page(
            &db,
            &channel,
            &page.value.posts,
            Some(&page.value.state),
            &page.kv_changes,
        ))?;
        stored += committed.new_posts.len();
        duplicates += committed.duplicates;
        account.apply_kv(page.kv_changes);
        posts.extend(page.value.posts);
        state = page.value.state;
        if !page.value.has_more {
            break;
        }
    }
    let mut analyses: Vec<Analysis> = Vec::with_capacity(posts.len());
    for batch in posts.chunks(100) {
        let inputs: Vec<AnalysisInput> = batch.iter().map(AnalysisInput::from).collect();
        analyses.extend(sentiment.analyze(&inputs)?.value);
    }

    let mut inbox: Vec<(f32, &Post)> = posts
        .iter()
        .zip(&analyses)
        .map(|(p, a)| (a.sentiment.unwrap_or(0.0), p))
        .collect();
    inbox.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!(
        "\n{} posts from {requests} plugin request(s); {stored} new in {}, {duplicates} already stored. Most negative first:\n",
        posts.len(),
        data_dir.join("socialcrm.db").display()
    );
    println!("{:>6}  {:<24} text", "score", "author");
    for (score, post) in &inbox {
        println!(
            "{score:>6.2}  {:<24} {}",
            format!("@{}", post.author.handle),
            shorten(&post.text, 90)
        );
    }

    if let Some((_, worst)) = inbox.first() {
        let reply = Outbound {
            text: "We're sorry about this. We've sent you a direct message to sort it out today.".into(),
            in_reply_to: Some(ReplyTarget {
                external_id: worst.external_id.clone(),
                author_handle: worst.author.handle.clone(),
                thread_id: worst.thread_id.clone(),
            }),
            recipient: None,
        };
        let sent = mastodon.send(&account, &reply)?;
        println!(
            "\nreplied to @{}: {} ({})",
            worst.author.handle,
            sent.value.external_id,
            sent.value.url.as_deref().unwrap_or("no url")
        );
    }
    drop(network);
    Ok(())
}

async fn demo_channel(db: &Db) -> anyhow::Result<ChannelRef> {
    use sqlx::Row;
    let now = now_ms();
    let row = sqlx::query(
        "INSERT INTO channel_accounts (name, plugin, network, created_at, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (name) DO UPDATE SET state = '', kv = '{}', updated_at = excluded.updated_at RETURNING id",
    )
    .bind("demo")
    .bind("mastodon")
    .bind("mastodon")
    .bind(now)
    .bind(now)
    .fetch_one(db.pool())
    .await?;
    Ok(ChannelRef {
        id: row.try_get("id")?,
        network: "mastodon".into(),
        lease_owner: None,
    })
}

fn shorten(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}
