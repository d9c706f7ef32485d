//! The demo world: social networks on loopback (`network/`: a
//! Mastodon-compatible instance and a Threads API) where customers of a
//! fictional brand talk about it, each post on one of them, the brand's CRM
//! (contacts and orders), and a channel account listening to each network.
//! `socialcrm demo` serves it all; new posts keep arriving while it runs.
//!
//! The world starts with about 90 days of history (`data.rs`), and [`seed`]
//! leaves every insight something to show before the demo is served: the
//! channels read the history as if they had listened all along, the posts
//! the team has long handled leave the open inbox, the insights are
//! recomputed once (trends, spike alerts, advocates, churn risk), and an
//! apology to the customers behind the spike waits for approval.

mod data;
mod network;

use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::channels::{self, ChannelError};
use crate::crm::import;
use crate::ingest::Ingest;
use crate::insights::custom;
use crate::plugins::{Package, bundled_dir, registry};
use crate::responses::{self, Audience, Content, MacroRequest};
use crate::secrets::SecretBox;
use crate::store::{Db, accounts, audit, now_ms};
use data::When;
use network::{Served, Written};

/// Most posts per network published before a channel's first sync: a
/// channel's first poll takes only the newest page (the account's history is
/// not news), so the history reaches the networks in two steps.
const FIRST_SYNC: usize = 40;

/// Who the demo's own changes are audited as.
const ACTOR: &str = "demo";

/// The demo's networks and the posts still to come.
pub struct World {
    networks: Vec<Served>,
    /// When the world started (Unix ms): every post's time is relative to it.
    now: i64,
    /// The index in `data::posts` of the first post published by [`seed`].
    staged: usize,
    /// The index in `data::posts` of the next post to arrive.
    next: usize,
}

impl World {
    /// Serves the networks with the oldest posts of the history on them
    /// (the others follow in [`seed`], once the channels have read these).
    pub async fn start() -> anyhow::Result<World> {
        let networks = network::start().await?;
        let now = now_ms();
        let posts = data::posts();
        let next = posts.iter().position(|p| p.when == When::Later).unwrap_or(posts.len());
        let staged = first_sync(posts, next);
        for n in 0..staged {
            publish(&networks, n, now);
        }
        Ok(World {
            networks,
            now,
            staged,
            next,
        })
    }

    /// Each network's API (`Mastodon`, `Threads`) and base URL.
    pub fn networks(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.networks.iter().map(|s| (s.network.api(), s.base_url.as_str()))
    }

    /// Publishes one waiting post every `every` until none is left or `stop`;
    /// then keeps the networks up until `stop`.
    pub async fn run(self, every: Duration, mut stop: watch::Receiver<bool>) {
        for n in self.next..data::posts().len() {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            publish(&self.networks, n, self.now);
        }
        let _ = stop.wait_for(|s| *s).await;
    }
}

/// How many of the posts before `next` go out before the first sync: the
/// oldest, at most [`FIRST_SYNC`] on each network.
fn first_sync(posts: &[data::Post], next: usize) -> usize {
    let mut on_each = std::collections::HashMap::new();
    for (n, post) in posts.iter().take(next).enumerate() {
        let count = on_each.entry(post.on).or_insert(0);
        *count += 1;
        if *count > FIRST_SYNC {
            return n;
        }
    }
    next
}

/// Puts post `n` of the world on the network it is written on, at its time
/// relative to the start `now` (a later post is written now).
fn publish(networks: &[Served], n: usize, now: i64) {
    let Some(post) = data::posts().get(n) else { return };
    let written = match post.when.at(now) {
        Some(at) => Written::Before(at),
        None => Written::Now,
    };
    for served in networks.iter().filter(|s| s.network.api() == post.on) {
        served.network.publish(n, written);
    }
}

/// The bundled plugins the demo installs beside each network's channel
/// plugin (so the admin screens list them): the analyzers, and the scorer
/// of churn risk.
const BUNDLED: [&str; 3] = ["sentiment", "intent", "churn"];

/// Installs the bundled plugins not installed yet, imports the demo CRM
/// (idempotent), points a channel account at each network of `world` and
/// has it read the world's history, then recomputes the insights and drafts
/// an apology for the spike.
pub async fn seed(db: &Db, sbox: &SecretBox, ingest: &Ingest, world: &World) -> anyhow::Result<()> {
    let accounts: Vec<_> = world.networks.iter().map(|s| s.network.channel()).collect();
    let plugins = accounts.iter().map(|c| c.plugin.as_str()).chain(BUNDLED);
    for name in plugins {
        if registry::versions(db, name).await.is_ok() {
            continue;
        }
        let dir = bundled_dir(name)
            .with_context(|| format!("no bundled plugin `{name}`: run `cargo xtask build-plugins`"))?;
        let package = Package::from_dir(&dir)?;
        registry::install(db, ingest.runtime(), &package, ACTOR)
            .await
            .with_context(|| format!("installing the bundled plugin {name}"))?;
    }
    let quiet = &|_| {};
    let contacts = import::contacts_as(db, data::contacts_csv().as_bytes(), quiet, ACTOR)
        .await
        .context("importing the demo contacts")?;
    let orders = import::transactions_as(db, data::transactions_csv(world.now).as_bytes(), quiet, ACTOR)
        .await
        .context("importing the demo orders")?;
    // The demo's own data: a rejected row is a bug in it.
    if let Some((line, why)) = contacts.rejected.iter().chain(&orders.rejected).next() {
        anyhow::bail!("demo CRM row on line {line} rejected: {why}");
    }
    for (id, kind, name, synonyms) in data::TAXONOMY {
        let entry = custom::Entry {
            id: id.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            synonyms: synonyms.iter().map(|s| s.to_string()).collect(),
        };
        custom::put(db, &entry, ACTOR)
            .await
            .with_context(|| format!("adding the demo's taxonomy entry {id}"))?;
    }
    let names: Vec<String> = accounts.iter().map(|a| a.name.clone()).collect();
    for new in accounts {
        let (name, config, secrets) = (new.name.clone(), new.config.clone(), new.secrets.clone());
        match channels::add(db, sbox, ingest, new).await {
            Ok(()) => {}
            // A new run's network has a new port and fresh ids: read it from the start.
            Err(ChannelError::Exists(_)) => {
                let config = serde_json::to_string(&config)?;
                accounts::restart(db, &name, &config, &sbox.seal(&secrets, &name)).await?;
            }
            Err(e) => return Err(e).with_context(|| format!("adding the demo channel {name}")),
        }
    }
    // The oldest posts are on the networks: the first sync takes them, the
    // second the rest of what was written before the start.
    sync(ingest, &names).await;
    for n in world.staged..world.next {
        publish(&world.networks, n, world.now);
    }
    sync(ingest, &names).await;
    close_handled(db, &names, data::handled_before(world.now)).await?;
    let report = crate::insights::recompute(db, now_ms())
        .await
        .context("computing the demo's insights")?;
    for warning in &report.warnings {
        tracing::warn!(%warning, "demo insights");
    }
    apologise(db, world).await
}

/// Reads every channel up to what its network holds now. A channel that
/// cannot be read now (another process still holds its lease, say) is left to
/// the scheduled polls, which go on from its committed state.
async fn sync(ingest: &Ingest, names: &[String]) {
    let owner = format!("demo:{}", std::process::id());
    for name in names {
        match ingest.sync_now(name, &owner, &|_| {}).await {
            Ok(report) => {
                tracing::info!(channel = %name, new_posts = report.new_posts, pages = report.pages, "demo history read")
            }
            Err(e) => tracing::warn!(channel = %name, error = %e, "reading the demo history; the polls go on"),
        }
    }
}

/// Closes the open inbound posts of the demo channels written before
/// `before` (Unix ms), audited once: the team answered the history as it came,
/// so the open inbox starts with the burst and the last hours.
async fn close_handled(db: &Db, channels: &[String], before: i64) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    let mut closed = 0;
    for name in channels {
        closed += sqlx::query(
            "UPDATE posts SET inbox_status = 'closed' WHERE inbox_status = 'open' AND direction = 'inbound' \
             AND created_at < $1 AND channel_id = (SELECT id FROM channel_accounts WHERE name = $2)",
        )
        .bind(before)
        .bind(name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    if closed > 0 {
        let details = serde_json::json!({"inbox_status": "closed", "posts": closed, "before": before});
        audit(&mut *tx, ACTOR, "post.inbox_status", "demo history", &details).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Drafts the brand's apology for the spike alert on the burst's aspect (or
/// topic): a
/// broadcast on the burst's channel and a reply to each post of the alert,
/// left pending approval (the channel requires it). Once per alert.
async fn apologise(db: &Db, world: &World) -> anyhow::Result<()> {
    let Some(channel) = world
        .networks
        .iter()
        .find(|s| s.network.api() == data::BURST_ON)
        .map(|s| s.network.channel().name)
    else {
        return Ok(());
    };
    let alerts = crate::insights::alerts(db, 50).await?;
    // What the posts say of the battery, else the posts about it.
    let spike = alerts.iter().filter(|a| a.subject == data::SPIKE_TOPIC);
    let Some(alert) = spike.max_by_key(|a| a.scope == "aspect") else {
        tracing::warn!(topic = data::SPIKE_TOPIC, "no spike alert to answer in the demo");
        return Ok(());
    };
    let drafted = responses::list(db, None, 200).await?;
    if drafted
        .iter()
        .any(|r| r.kind == "macro" && r.alert_id == Some(alert.id))
    {
        return Ok(());
    }
    if !responses::approval_required(db, &channel).await? {
        responses::set_approval(db, &channel, true, ACTOR).await?;
    }
    let request = MacroRequest {
        channel,
        broadcast: Content::Text(data::APOLOGY.into()),
        reply: Some(Content::Text(data::APOLOGY_REPLY.into())),
        audience: Some(Audience::Alert(alert.id)),
    };
    responses::create_macro(db, &request, ACTOR)
        .await
        .context("drafting the demo's apology")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DAY_MS;

    #[tokio::test]
    async fn every_post_is_on_a_network_and_a_reply_on_its_parents() {
        let networks = network::start().await.unwrap();
        let apis: Vec<&str> = networks.iter().map(|s| s.network.api()).collect();
        let posts = data::posts();
        for (n, post) in posts.iter().enumerate() {
            assert!(
                apis.contains(&post.on),
                "post {n} is on `{}`, not one of {apis:?}",
                post.on
            );
            assert!(post.author < data::PEOPLE.len(), "post {n} has no author");
            if let Some(parent) = post.reply_to {
                assert!(parent < n, "post {n} answers a later post");
                assert_eq!(post.on, posts[parent].on, "post {n} is not on its parent's network");
            }
        }
        let next = posts.iter().position(|p| p.when == When::Later).unwrap();
        assert!(posts[next..].iter().all(|p| p.when == When::Later));
        let staged = first_sync(posts, next);
        for api in apis {
            let (first, rest) = posts.split_at(staged);
            let (rest, later) = rest.split_at(next - staged);
            for posts in [first, rest, later] {
                assert!(posts.iter().any(|p| p.on == api), "{api} lacks posts in a step");
            }
            assert!(first.iter().filter(|p| p.on == api).count() <= FIRST_SYNC);
        }
    }

    #[test]
    fn posts_are_written_in_order_and_the_burst_on_one_recent_day() {
        let posts = data::posts();
        let midnight = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        // Starts at every half hour of a day.
        for now in (0..48).map(|k| midnight + k * 30 * 60_000) {
            let times: Vec<i64> = posts.iter().filter_map(|p| p.when.at(now)).collect();
            assert!(
                times.windows(2).all(|w| w[0] <= w[1]),
                "out of order when started at {now}"
            );
            assert!(times.iter().all(|&t| t < now && t > now - 91 * DAY_MS));
            let burst: Vec<i64> = posts
                .iter()
                .filter(|p| matches!(p.when, When::Burst(_)))
                .filter_map(|p| p.when.at(now))
                .collect();
            let days: std::collections::BTreeSet<i64> = burst.iter().map(|t| t.div_euclid(DAY_MS)).collect();
            assert_eq!(days.len(), 1, "the burst spans days when started at {now}");
            assert!(
                burst.iter().all(|&t| t >= now - 36 * 3_600_000),
                "the burst is not recent"
            );
            let cutoff = data::handled_before(now);
            for post in posts {
                match (post.when, post.when.at(now)) {
                    (When::Day { .. }, Some(at)) => assert!(at < cutoff, "history after the cutoff"),
                    (_, Some(at)) => assert!(at >= cutoff, "a recent post before the cutoff"),
                    (_, None) => {}
                }
            }
            let (from, until) = data::burst_window(now);
            assert!(
                until - from >= 4 * 3_600_000,
                "a short burst window when started at {now}"
            );
        }
    }
}
