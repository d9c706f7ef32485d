//! The application: one [`App`] holds the database, the sandbox runtime, the
//! secret box and the ingest pipeline (with its cache of loaded channel
//! plugins), and does what spans domains, such as upgrading a plugin and
//! queueing its re-analysis in one transaction. `server` and `cli` call it;
//! nothing below imports it.

mod plugins;

pub use plugins::FromIndexError;

use crate::ingest::Ingest;
use crate::runtime::Runtime;
use crate::secrets::SecretBox;
use crate::store::Db;

/// Cheap to clone: the HTTP server's state and the CLI's handle.
#[derive(Clone)]
pub struct App {
    ingest: Ingest,
}

impl App {
    /// The application around its ingest pipeline (which holds the
    /// database, runtime, secret box and analyzers).
    pub fn new(ingest: Ingest) -> App {
        App { ingest }
    }

    pub fn db(&self) -> &Db {
        self.ingest.db()
    }

    pub fn runtime(&self) -> &Runtime {
        self.ingest.runtime()
    }

    /// The key that seals channel secrets.
    pub fn secret_box(&self) -> &SecretBox {
        self.ingest.secret_box()
    }

    /// The ingest pipeline: syncs, webhooks, the scheduler, loaded channel plugins.
    pub fn ingest(&self) -> &Ingest {
        &self.ingest
    }
}
