//! The demo world: a Mastodon-compatible network on loopback where customers
//! of a fictional brand talk about it, the brand's CRM (contacts and orders),
//! and a `demo` channel account that listens to the network. `socialcrm demo`
//! serves it all; new posts keep arriving while it runs.

mod data;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use socialcrm_fakes::{Dataset, FakeMastodon, mastodon::TOKEN};
use tokio::sync::watch;

use crate::channels::{self, ChannelError, NewChannel};
use crate::crm::import;
use crate::ingest::Ingest;
use crate::plugins::{Package, bundled_dir, registry};
use crate::secrets::SecretBox;
use crate::store::{Db, now_ms};

/// The channel account the demo adds.
pub const CHANNEL: &str = "demo";
/// Posts on the network at start; the others arrive one by one.
const AT_START: usize = 14;

/// The demo network and the posts still to come.
pub struct Network {
    fake: FakeMastodon,
    later: Vec<Value>,
}

impl Network {
    pub async fn start() -> anyhow::Result<Network> {
        let mut statuses = data::statuses();
        let later = statuses.split_off(AT_START.min(statuses.len()));
        // Spread over the last hours, so waiting times look like a working day's.
        let now = now_ms();
        let count = statuses.len() as i64;
        for (i, status) in statuses.iter_mut().enumerate() {
            let at = now - (count - i as i64) * 20 * 60_000;
            let at = time::OffsetDateTime::from_unix_timestamp(at / 1000)
                .ok()
                .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok());
            if let (Some(at), Value::Object(map)) = (at, status) {
                map.insert("created_at".into(), Value::String(at));
            }
        }
        let fake = FakeMastodon::start_with(Dataset {
            brand: data::brand(),
            statuses,
            notifications: Vec::new(),
        })
        .await?;
        Ok(Network { fake, later })
    }

    pub fn base_url(&self) -> String {
        self.fake.base_url()
    }

    /// Publishes one waiting post every `every` until none is left or `stop`;
    /// then keeps the network up until `stop`.
    pub async fn run(self, every: Duration, mut stop: watch::Receiver<bool>) {
        for mut status in self.later {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            // Written now: a new id and time.
            if let Value::Object(map) = &mut status {
                map.remove("id");
                map.remove("created_at");
            }
            self.fake.push_mention(status);
        }
        let _ = stop.wait_for(|s| *s).await;
    }
}

/// The bundled plugins the demo installs (so the admin screens list them).
const PLUGINS: [&str; 3] = ["mastodon", "sentiment", "intent"];

/// Installs the bundled plugins not installed yet, imports the demo CRM
/// (idempotent) and points the `demo` channel at `network`.
pub async fn seed(db: &Db, sbox: &SecretBox, ingest: &Ingest, network: &Network) -> anyhow::Result<()> {
    for name in PLUGINS {
        if registry::versions(db, name).await.is_ok() {
            continue;
        }
        let dir = bundled_dir(name)
            .with_context(|| format!("no bundled plugin `{name}`: run `cargo xtask build-plugins`"))?;
        let package = Package::from_dir(&dir)?;
        registry::install(db, ingest.runtime(), &package, "demo")
            .await
            .with_context(|| format!("installing the bundled plugin {name}"))?;
    }
    let quiet = &|_| {};
    let contacts = import::contacts_as(db, data::contacts_csv().as_bytes(), quiet, "demo")
        .await
        .context("importing the demo contacts")?;
    let orders = import::transactions_as(db, data::transactions_csv(now_ms()).as_bytes(), quiet, "demo")
        .await
        .context("importing the demo orders")?;
    // The demo's own data: a rejected row is a bug in it.
    if let Some((line, why)) = contacts.rejected.iter().chain(&orders.rejected).next() {
        anyhow::bail!("demo CRM row on line {line} rejected: {why}");
    }
    let instance = network.base_url();
    let new = NewChannel {
        name: CHANNEL.into(),
        plugin: "mastodon".into(),
        config: BTreeMap::from([("instance".into(), instance.clone())]),
        secrets: BTreeMap::from([("access-token".into(), TOKEN.into())]),
        // The demo network listens on loopback.
        allow_private: true,
    };
    match channels::add(db, sbox, ingest, new).await {
        Ok(()) => Ok(()),
        // A new run's network has a new port and fresh ids: read it from the start.
        Err(ChannelError::Exists(_)) => {
            sqlx::query(
                "UPDATE channel_accounts SET config = $1, state = '', kv = '{}', status = 'active', \
                 last_error = NULL, updated_at = $2 WHERE name = $3",
            )
            .bind(serde_json::json!({ "instance": instance }).to_string())
            .bind(now_ms())
            .bind(CHANNEL)
            .execute(db.pool())
            .await?;
            Ok(())
        }
        Err(e) => Err(e).context("adding the demo channel"),
    }
}
