//! Fake social networks that speak each network's documented API over real
//! HTTP on loopback: channel plugins are tested against them, and the demo
//! runs on them.

pub mod bluesky;
pub mod mastodon;
pub mod meta;
pub mod reddit;
mod server;
mod util;
pub mod x;

pub use mastodon::{Dataset, FakeMastodon, Fault};
pub use reddit::FakeReddit;
pub use server::RecordedRequest;
