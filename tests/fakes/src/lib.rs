//! Fake social networks (and sources of customer data) that speak each network's documented API over real
//! HTTP on loopback, with rate limits, injected faults and recorded requests:
//! channel plugins and the host are tested against them. The demo has its own
//! network (`host/src/demo/network/`).

pub mod bluesky;
pub mod discourse;
pub mod mastodon;
pub mod meta;
mod oauth;
pub mod reddit;
mod server;
pub mod shopify;
pub mod stripe;
pub mod threads;
mod tokens;
mod util;
pub mod whatsapp;
pub mod x;
pub mod youtube;

pub use discourse::FakeDiscourse;
pub use mastodon::{Dataset, FakeMastodon, Fault};
pub use reddit::FakeReddit;
pub use server::{RecordedRequest, Server};
pub use shopify::FakeShopify;
pub use stripe::FakeStripe;
pub use threads::FakeThreads;
pub use youtube::FakeYouTube;
