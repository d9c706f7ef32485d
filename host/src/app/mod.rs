//! The application: one [`App`] holds the database, the sandbox runtime, the
//! secret box and the ingest pipeline (with its cache of loaded channel
//! plugins), and does what spans domains, such as upgrading a plugin and
//! queueing its re-analysis in one transaction. `server` and `cli` call it;
//! nothing below imports it.

mod plugins;

use std::sync::Arc;

use url::Url;

pub use plugins::FromIndexError;

use crate::ingest::Ingest;
use crate::runtime::Runtime;
use crate::secrets::SecretBox;
use crate::sso::Sso;
use crate::store::Db;

/// Cheap to clone: the HTTP server's state and the CLI's handle.
#[derive(Clone)]
pub struct App {
    ingest: Ingest,
    sso: Option<Arc<Sso>>,
    public_url: Option<Arc<Url>>,
}

impl App {
    /// The application around its ingest pipeline (which holds the
    /// database, runtime, secret box and analyzers).
    pub fn new(ingest: Ingest) -> App {
        App {
            ingest,
            sso: None,
            public_url: None,
        }
    }

    /// The same, reached by people at `url` (`serve --public-url`).
    pub fn with_public_url(self, url: Url) -> App {
        App {
            public_url: Some(Arc::new(url)),
            ..self
        }
    }

    /// Where people reach this server, when configured.
    pub fn public_url(&self) -> Option<&Url> {
        self.public_url.as_deref()
    }

    /// The same, with people signing in through an OpenID provider.
    pub fn with_sso(self, sso: Sso) -> App {
        App {
            sso: Some(Arc::new(sso)),
            ..self
        }
    }

    /// Single sign-on, when configured.
    pub fn sso(&self) -> Option<&Sso> {
        self.sso.as_deref()
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
