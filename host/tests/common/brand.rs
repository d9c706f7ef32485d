//! The channel most tests start from: `brand`, a Mastodon account on a fake
//! instance, added through the real plugin and synced once.

use std::collections::BTreeMap;

use socialcrm::channels::{self, NewChannel};
use socialcrm::ingest::{Ingest, IngestOptions};
use socialcrm::runtime::{Runtime, RuntimeOptions};
use socialcrm::secrets::SecretBox;
use socialcrm::store::Db;
use socialcrm_fakes::FakeMastodon;
use socialcrm_fakes::mastodon::TOKEN;

/// The secret box every test's ingest uses.
pub fn secret_box() -> SecretBox {
    SecretBox::from_key(&[7; 32]).expect("a 32-byte key")
}

/// A fake Mastodon with the `brand` channel on it (plugin `plugin`, a name
/// or a path) added and synced as `node`, and the ingest that did it.
pub async fn mastodon_brand(db: &Db, plugin: &str, node: &str) -> (FakeMastodon, Ingest) {
    let network = FakeMastodon::start().await.expect("the fake Mastodon");
    let runtime = Runtime::new(RuntimeOptions::default()).expect("runtime");
    let ingest = Ingest::new(db.clone(), secret_box(), runtime, vec![], IngestOptions::default());
    let new = NewChannel {
        name: "brand".into(),
        plugin: plugin.to_string(),
        config: BTreeMap::from([("instance".into(), network.base_url())]),
        secrets: BTreeMap::from([("access-token".into(), TOKEN.into())]),
        allow_private: true,
    };
    channels::add(db, &secret_box(), &ingest, new)
        .await
        .expect("the brand channel");
    ingest.sync_now("brand", node, &|_| {}).await.expect("the first sync");
    (network, ingest)
}
