//! The demo world's social networks: each speaks, over HTTP on its own
//! loopback origin, the part of a real network's documented API that its
//! bundled channel plugin uses, and carries the world's posts written on it
//! (`data::Post::on` names it by its API). A network is one module
//! implementing [`DemoNetwork`] and one line in [`start`].

mod mastodon;
mod threads;

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use tokio::task::JoinHandle;

use crate::channels::NewChannel;

/// When a post of the world was written.
#[derive(Clone, Copy, Debug)]
pub enum Written {
    /// Before the demo started, at this Unix time in ms. The post keeps its id
    /// from run to run, so a data directory used again does not get it twice.
    Before(i64),
    /// Now: a new id, so every run brings new posts.
    Now,
}

/// One network of the demo world.
pub trait DemoNetwork: Send + Sync {
    /// The API it speaks, as `socialcrm demo` names it ("Mastodon"); the
    /// world's posts name their network by it (`data::Post::on`).
    fn api(&self) -> &'static str;
    /// The channel account that reads it through its bundled plugin.
    fn channel(&self) -> NewChannel;
    /// Puts the world's post `n` (an index into `data::posts()`) on the network.
    fn publish(&self, n: usize, written: Written);
}

/// A network served on loopback; it stops when dropped.
pub struct Served {
    pub network: Arc<dyn DemoNetwork>,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    task: JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every network of the demo world, each on a free loopback port.
pub async fn start() -> anyhow::Result<Vec<Served>> {
    Ok(vec![serve(mastodon::start).await?, serve(threads::start).await?])
}

/// Serves the network `make` builds, with its API, for its base URL (it writes links).
async fn serve(make: impl FnOnce(&str) -> (Arc<dyn DemoNetwork>, Router)) -> anyhow::Result<Served> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .context("binding a demo network to loopback")?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let (network, app) = make(&base_url);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Served {
        network,
        base_url,
        task,
    })
}
