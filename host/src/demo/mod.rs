//! The demo world: social networks on loopback (`network/`: a
//! Mastodon-compatible instance and a Threads API) where customers of a
//! fictional brand talk about it, each post on one of them, the brand's CRM
//! (contacts and orders), and a channel account listening to each network.
//! `socialcrm demo` serves it all; new posts keep arriving while it runs.

mod data;
mod network;

use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::channels::{self, ChannelError};
use crate::crm::import;
use crate::ingest::Ingest;
use crate::plugins::{Package, bundled_dir, registry};
use crate::secrets::SecretBox;
use crate::store::{Db, accounts, now_ms};
use network::{Served, Written};

/// Posts of the world on the networks at start; the others arrive one by one.
const AT_START: usize = 14;

/// The demo's networks and the posts still to come.
pub struct World {
    networks: Vec<Served>,
    /// The index in `data::POSTS` of the next post to arrive.
    next: usize,
}

impl World {
    /// Serves the networks with the first posts on them, written over the
    /// last hours so waiting times look like a working day's.
    pub async fn start() -> anyhow::Result<World> {
        let networks = network::start().await?;
        let at_start = AT_START.min(data::POSTS.len());
        let now = now_ms();
        for n in 0..at_start {
            let written = Written::Before(now - (at_start - n) as i64 * 20 * 60_000);
            publish(&networks, n, written);
        }
        Ok(World {
            networks,
            next: at_start,
        })
    }

    /// Each network's API (`Mastodon`, `Threads`) and base URL.
    pub fn networks(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.networks.iter().map(|s| (s.network.api(), s.base_url.as_str()))
    }

    /// Publishes one waiting post every `every` until none is left or `stop`;
    /// then keeps the networks up until `stop`.
    pub async fn run(self, every: Duration, mut stop: watch::Receiver<bool>) {
        for n in self.next..data::POSTS.len() {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            publish(&self.networks, n, Written::Now);
        }
        let _ = stop.wait_for(|s| *s).await;
    }
}

/// Puts post `n` of the world on the network it is written on.
fn publish(networks: &[Served], n: usize, written: Written) {
    let Some(post) = data::POSTS.get(n) else { return };
    for served in networks.iter().filter(|s| s.network.api() == post.on) {
        served.network.publish(n, written);
    }
}

/// The bundled analyzers the demo installs beside each network's channel
/// plugin (so the admin screens list them).
const ANALYZERS: [&str; 2] = ["sentiment", "intent"];

/// Installs the bundled plugins not installed yet, imports the demo CRM
/// (idempotent) and points a channel account at each network of `world`.
pub async fn seed(db: &Db, sbox: &SecretBox, ingest: &Ingest, world: &World) -> anyhow::Result<()> {
    let accounts: Vec<_> = world.networks.iter().map(|s| s.network.channel()).collect();
    let plugins = accounts.iter().map(|c| c.plugin.as_str()).chain(ANALYZERS);
    for name in plugins {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_post_is_on_a_network_and_a_reply_on_its_parents() {
        let networks = network::start().await.unwrap();
        let apis: Vec<&str> = networks.iter().map(|s| s.network.api()).collect();
        for (n, post) in data::POSTS.iter().enumerate() {
            assert!(
                apis.contains(&post.on),
                "post {n} is on `{}`, not one of {apis:?}",
                post.on
            );
            if let Some(parent) = post.reply_to {
                assert!(parent < n, "post {n} answers a later post");
                assert_eq!(
                    post.on,
                    data::POSTS[parent].on,
                    "post {n} is not on its parent's network"
                );
            }
        }
        for api in apis {
            let (start, later) = data::POSTS.split_at(AT_START);
            for posts in [start, later] {
                assert!(
                    posts.iter().any(|p| p.on == api),
                    "{api} lacks posts at start or arriving"
                );
            }
        }
    }
}
