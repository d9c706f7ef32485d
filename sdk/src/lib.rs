//! socialcrm-sdk: write socialcrm channel and analyzer plugins in Rust.
//!
//! A channel plugin implements [`channel::Connector`] and calls
//! [`export_channel!`]; a source of customer data implements
//! [`source::Source`] and calls [`export_source!`]; an analyzer implements
//! [`analyzer::Analyzer`] and calls [`export_analyzer!`]; a scorer implements
//! [`scorer::Scorer`] and calls [`export_scorer!`]. Build with `cargo build --release --target wasm32-wasip2`.
//! [`http`] makes requests to the hosts the manifest allows (the host attaches
//! credentials) and reads what networks answer (rate-limit waits, `Link`
//! paging), [`time`] reads and writes the times networks send, [`ResultExt`]
//! names the step that failed in an error, [`kv`] keeps small values per account, [`signing`] checks
//! webhook signatures with a secret the plugin never reads, [`verification`]
//! marks profile fields the network verified, [`conversations`] reports
//! reply windows ([`messaging`] sends to conversations), [`changes`] reports deleted
//! and edited posts and departed users ([`upkeep`] re-checks stored posts
//! for networks that do not push them), [`log`] writes to the
//! host's log, and the `testkit` feature runs the built component in the real
//! host against canned HTTP responses from a plain `cargo test`.
//!
//! One feature per world, all on by default (`source` needs `channel`'s
//! `http` and `kv`): an analyzer that turns off
//! `channel` (`default-features = false, features = ["analyzer"]`) cannot
//! call what its world lacks (`http`, `kv`, `signing`, `verification`); the
//! host refuses such imports at load in any case.

extern crate self as socialcrm_sdk;

mod config;
#[cfg(feature = "channel")]
pub mod http;
pub mod log;
#[cfg(all(feature = "testkit", not(target_arch = "wasm32")))]
pub mod testkit;
pub mod time;

pub use config::ConfigExt;
pub use types::*;

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;

    /// The analyzer world's imports (`types`, `log`) are shared by both worlds.
    pub mod analyzer_world {
        wit_bindgen::generate!({
            path: "../wit/v1",
            world: "analyzer",
            pub_export_macro: true,
            export_macro_name: "__export_analyzer_world",
            default_bindings_module: "::socialcrm_sdk::__private::analyzer_world",
            runtime_path: "::socialcrm_sdk::__private::wit_bindgen::rt",
        });
    }

    #[cfg(feature = "channel")]
    pub mod channel_world {
        wit_bindgen::generate!({
            path: "../wit/v1",
            world: "channel",
            pub_export_macro: true,
            export_macro_name: "__export_channel_world",
            default_bindings_module: "::socialcrm_sdk::__private::channel_world",
            runtime_path: "::socialcrm_sdk::__private::wit_bindgen::rt",
            bitflags_path: "::socialcrm_sdk::__private::wit_bindgen::rt::bitflags",
            with: {
                "socialcrm:plugin/types@1.2.0": crate::__private::analyzer_world::socialcrm::plugin::types,
                "socialcrm:plugin/log@1.2.0": crate::__private::analyzer_world::socialcrm::plugin::log,
                // The world names wasi:http; `http` uses the `wasi` crate's
                // bindings of it, so these map there instead of making a second set.
                "wasi:http/types@0.2.12": ::wasi::http::types,
                "wasi:http/outgoing-handler@0.2.12": ::wasi::http::outgoing_handler,
                "wasi:io/error@0.2.12": ::wasi::io::error,
                "wasi:io/poll@0.2.12": ::wasi::io::poll,
                "wasi:io/streams@0.2.12": ::wasi::io::streams,
                "wasi:clocks/monotonic-clock@0.2.12": ::wasi::clocks::monotonic_clock,
            },
        });
    }

    /// The world `scorer` (since 1.2.0); its one import, `log`, is the
    /// analyzer world's.
    #[cfg(feature = "scorer")]
    pub mod scorer_world {
        wit_bindgen::generate!({
            path: "../wit/v1",
            world: "scorer",
            pub_export_macro: true,
            export_macro_name: "__export_scorer_world",
            default_bindings_module: "::socialcrm_sdk::__private::scorer_world",
            runtime_path: "::socialcrm_sdk::__private::wit_bindgen::rt",
            with: {
                "socialcrm:plugin/log@1.2.0": crate::__private::analyzer_world::socialcrm::plugin::log,
            },
        });
    }

    /// The world `crm-source`; its imports are the channel world's (`types`,
    /// `log`, `kv`, `wasi:http`), so only the `source` export is new.
    #[cfg(feature = "source")]
    pub mod source_world {
        wit_bindgen::generate!({
            path: "../wit/v1",
            world: "crm-source",
            pub_export_macro: true,
            export_macro_name: "__export_source_world",
            default_bindings_module: "::socialcrm_sdk::__private::source_world",
            runtime_path: "::socialcrm_sdk::__private::wit_bindgen::rt",
            with: {
                "socialcrm:plugin/types@1.2.0": crate::__private::analyzer_world::socialcrm::plugin::types,
                "socialcrm:plugin/log@1.2.0": crate::__private::analyzer_world::socialcrm::plugin::log,
                "socialcrm:plugin/kv@1.2.0": crate::__private::channel_world::socialcrm::plugin::kv,
                "wasi:http/types@0.2.12": ::wasi::http::types,
                "wasi:http/outgoing-handler@0.2.12": ::wasi::http::outgoing_handler,
                "wasi:io/error@0.2.12": ::wasi::io::error,
                "wasi:io/poll@0.2.12": ::wasi::io::poll,
                "wasi:io/streams@0.2.12": ::wasi::io::streams,
                "wasi:clocks/monotonic-clock@0.2.12": ::wasi::clocks::monotonic_clock,
            },
        });
    }

    /// The `upkeep` export of the world `channel-upkeep`, in a world of its
    /// own: the channel world's export macro stays as it is, and
    /// `export_channel!(T, upkeep)` adds this one (the component's world is
    /// the union of the two, which is `channel-upkeep`).
    #[cfg(feature = "channel")]
    pub mod upkeep_world {
        wit_bindgen::generate!({
            inline: "package socialcrm:sdk; world upkeep { export socialcrm:plugin/upkeep@1.2.0; }",
            path: "../wit/v1",
            world: "socialcrm:sdk/upkeep",
            pub_export_macro: true,
            export_macro_name: "__export_upkeep_world",
            default_bindings_module: "::socialcrm_sdk::__private::upkeep_world",
            runtime_path: "::socialcrm_sdk::__private::wit_bindgen::rt",
            with: {
                "socialcrm:plugin/types@1.2.0": crate::__private::analyzer_world::socialcrm::plugin::types,
            },
        });
    }

    /// The `messaging` export of the world `channel-messaging`, in a world
    /// of its own, as `upkeep_world` is: `export_channel!(T, messaging)`.
    #[cfg(feature = "channel")]
    pub mod messaging_world {
        wit_bindgen::generate!({
            inline: "package socialcrm:sdk; world messaging { export socialcrm:plugin/messaging@1.2.0; }",
            path: "../wit/v1",
            world: "socialcrm:sdk/messaging",
            pub_export_macro: true,
            export_macro_name: "__export_messaging_world",
            default_bindings_module: "::socialcrm_sdk::__private::messaging_world",
            runtime_path: "::socialcrm_sdk::__private::wit_bindgen::rt",
            with: {
                "socialcrm:plugin/types@1.2.0": crate::__private::analyzer_world::socialcrm::plugin::types,
            },
        });
    }

    /// The `signals` export of the world `analyzer-signals`, in a world of
    /// its own as `upkeep_world` is: `export_analyzer!(T, signals)`.
    #[cfg(feature = "analyzer")]
    pub mod signals_world {
        wit_bindgen::generate!({
            inline: "package socialcrm:sdk; world signals { export socialcrm:plugin/signals@1.2.0; }",
            path: "../wit/v1",
            world: "socialcrm:sdk/signals",
            pub_export_macro: true,
            export_macro_name: "__export_signals_world",
            default_bindings_module: "::socialcrm_sdk::__private::signals_world",
            runtime_path: "::socialcrm_sdk::__private::wit_bindgen::rt",
            with: {
                "socialcrm:plugin/types@1.2.0": crate::__private::analyzer_world::socialcrm::plugin::types,
            },
        });
    }
}

/// `e`, of the same kind, with its message prefixed by `what` (the step that
/// failed: "listing mentions: HTTP 502").
pub fn context(e: PluginError, what: &str) -> PluginError {
    match e {
        PluginError::InvalidConfig(m) => PluginError::InvalidConfig(format!("{what}: {m}")),
        PluginError::Unauthorized(m) => PluginError::Unauthorized(format!("{what}: {m}")),
        PluginError::RateLimited(r) => PluginError::RateLimited(RateLimit {
            retry_after_ms: r.retry_after_ms,
            message: format!("{what}: {}", r.message),
        }),
        PluginError::Transient(m) => PluginError::Transient(format!("{what}: {m}")),
        PluginError::Permanent(m) => PluginError::Permanent(format!("{what}: {m}")),
    }
}

/// [`context`] on a `Result`: `request.send().context("listing mentions")?`
/// for any error that becomes a [`PluginError`] (an [`http::Error`] too).
pub trait ResultExt<T> {
    fn context(self, what: &str) -> Result<T, PluginError>;
}

impl<T, E: Into<PluginError>> ResultExt<T> for Result<T, E> {
    fn context(self, what: &str) -> Result<T, PluginError> {
        self.map_err(|e| context(e.into(), what))
    }
}

/// The contract's shared types: posts, authors, analyses, errors.
pub mod types {
    pub use crate::__private::analyzer_world::socialcrm::plugin::types::*;
}

/// The key-value store of this plugin and account. Writes are kept only when
/// the call succeeds.
#[cfg(feature = "channel")]
pub mod kv {
    pub use crate::__private::channel_world::socialcrm::plugin::kv::{delete, get, set};
}

/// Webhook signatures and challenges with the account's secrets, which the
/// plugin names but never reads (since API 1.1: declare `api = "^1.1"`).
#[cfg(feature = "channel")]
pub mod signing {
    pub use crate::__private::channel_world::socialcrm::plugin::signing::{hmac_sha256, verify_hmac_sha256};
}

/// What the network itself verified about an author (since API 1.2: declare
/// `api = "^1.2"`). Text an author writes only proposes a link to a CRM
/// contact; a profile field marked here can confirm one, so mark only what the
/// network proved (a Mastodon link with `verified_at`, a Bluesky domain handle).
#[cfg(feature = "channel")]
pub mod verification {
    use crate::{Author, ProfileField};

    /// Marks `field` of `author` as verified by the network, for the posts the
    /// current call returns. Outside wasm (a plugin's native unit tests) it does
    /// nothing.
    pub fn verified_field(author: &Author, field: &ProfileField) {
        #[cfg(target_arch = "wasm32")]
        crate::__private::channel_world::socialcrm::plugin::verification::verified_field(
            &author.external_id,
            &field.name,
            &field.value,
        );
        #[cfg(not(target_arch = "wasm32"))]
        let _ = (author, field);
    }
}

/// What happened on the network to posts and users the host stored (since
/// API 1.2: declare `api = "^1.2"`). Report during `poll`, `handle-webhook`
/// or [`upkeep::Upkeep::recheck`]; the host applies the reports of a call
/// that succeeds, with its posts and key-value writes. Outside wasm (a
/// plugin's native unit tests) the reports go nowhere.
#[cfg(feature = "channel")]
pub mod changes {
    pub use crate::__private::channel_world::socialcrm::plugin::changes::{ErasureTicket, GoneReason};

    /// Post `external_id` of this account was deleted on the network.
    pub fn post_deleted(external_id: &str) {
        #[cfg(target_arch = "wasm32")]
        crate::__private::channel_world::socialcrm::plugin::changes::post_deleted(external_id);
        #[cfg(not(target_arch = "wasm32"))]
        let _ = external_id;
    }

    /// Post `external_id` now reads `text` (mapped as `poll` maps it), edited
    /// at `edited_at` (RFC 3339); `raw` replaces the stored network JSON.
    pub fn post_edited(external_id: &str, text: &str, edited_at: &str, raw: Option<&str>) {
        #[cfg(target_arch = "wasm32")]
        crate::__private::channel_world::socialcrm::plugin::changes::post_edited(external_id, text, edited_at, raw);
        #[cfg(not(target_arch = "wasm32"))]
        let _ = (external_id, text, edited_at, raw);
    }

    /// User `external_user_id` is gone from the network for `reason`.
    pub fn user_gone(external_user_id: &str, reason: GoneReason) {
        #[cfg(target_arch = "wasm32")]
        crate::__private::channel_world::socialcrm::plugin::changes::user_gone(external_user_id, reason);
        #[cfg(not(target_arch = "wasm32"))]
        let _ = (external_user_id, reason);
    }

    /// User `external_user_id` asked the network to have their data deleted
    /// (a forwarded request such as Meta's data-deletion callback): the host
    /// erases what it holds about them once the call succeeds. Hand the
    /// ticket's code and status URL back to the network. Natively the ticket
    /// is empty.
    pub fn erasure_requested(external_user_id: &str) -> ErasureTicket {
        #[cfg(target_arch = "wasm32")]
        return crate::__private::channel_world::socialcrm::plugin::changes::erasure_requested(external_user_id);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = external_user_id;
            ErasureTicket {
                confirmation_code: String::new(),
                status_url: String::new(),
            }
        }
    }
}

/// Conversations on messaging networks (since API 1.2): report how long the
/// brand may answer a conversation with free text. Outside wasm (a plugin's
/// native unit tests) the reports go nowhere.
#[cfg(feature = "channel")]
pub mod conversations {
    /// The brand may answer conversation `conversation_id` (the `thread-id`
    /// of its posts) with free text until `open_until` (RFC 3339); after
    /// that the host sends only templates ([`messaging::Messaging`](crate::messaging::Messaging)).
    pub fn reply_window(conversation_id: &str, open_until: &str) {
        #[cfg(target_arch = "wasm32")]
        crate::__private::channel_world::socialcrm::plugin::conversations::reply_window(conversation_id, open_until);
        #[cfg(not(target_arch = "wasm32"))]
        let _ = (conversation_id, open_until);
    }
}

/// What a channel of a messaging network implements (since API 1.2): export
/// it with `export_channel!(MyChannel, messaging)`. The host sends replies
/// to a conversation through it: free text inside the reply window the plugin
/// reported through [`conversations`], templates also after it.
#[cfg(feature = "channel")]
pub mod messaging {
    pub use crate::__private::messaging_world::exports::socialcrm::plugin::messaging::{
        ConversationTarget, Guest as Messaging, MessageBody, Template, TemplateMessage,
    };
}

/// What a channel implements to keep the host's posts in step with a
/// network that does not push deletions and edits (since API 1.2): export it
/// with `export_channel!(MyChannel, upkeep)`. A channel without it is never
/// asked.
#[cfg(feature = "channel")]
pub mod upkeep {
    pub use crate::__private::upkeep_world::exports::socialcrm::plugin::upkeep::{Guest as Upkeep, StoredPost};
}

/// What a channel plugin implements.
#[cfg(feature = "channel")]
pub mod channel {
    pub use crate::__private::channel_world::exports::socialcrm::plugin::connector::{
        Capabilities, ConfigField, Descriptor, FieldKind, Guest as Connector, Header, Outbound, Page, ReplyTarget,
        Sent, WebhookRequest, WebhookResponse, WebhookResult,
    };
}

/// What a source plugin (world `crm-source`, since API 1.2) implements:
/// pages of contacts, transactions and deletions after an opaque cursor.
#[cfg(feature = "source")]
pub mod source {
    pub use crate::__private::source_world::exports::socialcrm::plugin::source::{
        Contact, CustomField, Deletion, Descriptor, Guest as Source, Page, ProductLine, RecordKind, SocialHandle,
        Transaction, TransactionKind,
    };
}

/// What an analyzer plugin implements.
#[cfg(feature = "analyzer")]
pub mod analyzer {
    pub use crate::__private::analyzer_world::exports::socialcrm::plugin::analysis::{
        AnalysisInput, Descriptor, Guest as Analyzer,
    };
}

/// What a scorer plugin (world `scorer`, since API 1.2) implements: a
/// prediction per contact from the features the host builds.
#[cfg(feature = "scorer")]
pub mod scorer {
    pub use crate::__private::scorer_world::exports::socialcrm::plugin::scoring::{
        Descriptor, Factor, Feature, Guest as Scorer, Prediction, ScoreRequest, Subject,
    };

    /// The value of feature `name` of `subject`, when the host gave it.
    pub fn feature(subject: &Subject, name: &str) -> Option<f64> {
        subject.features.iter().find(|f| f.name == name).map(|f| f.value)
    }
}

/// What an analyzer that produces custom signals and aspects implements
/// (world `analyzer-signals`, since API 1.2), beside [`analyzer::Analyzer`].
#[cfg(feature = "analyzer")]
pub mod signals {
    pub use crate::__private::signals_world::exports::socialcrm::plugin::signals::{
        AspectMention, EntryKind, Guest as Signals, RichAnalysis, RichInput, ScoreRange, SignalKind, SignalReading,
        SignalSpec, SignalValue, TaxonomyEntry,
    };
}

/// Exports a type implementing [`channel::Connector`] as the plugin's
/// connector; `export_channel!(T, upkeep)` also exports its
/// [`upkeep::Upkeep`] (the world `channel-upkeep`), `export_channel!(T,
/// messaging)` its [`messaging::Messaging`] (the world `channel-messaging`). Expands to nothing
/// outside WebAssembly, so the crate also builds and tests natively.
#[cfg(feature = "channel")]
#[macro_export]
macro_rules! export_channel {
    ($connector:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::__private::channel_world::__export_channel_world!($connector with_types_in $crate::__private::channel_world);
        // Natively the type is still the plugin's entry point (tests call it).
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() -> $crate::channel::Descriptor = <$connector as $crate::channel::Connector>::describe;
    };
    ($connector:ident, upkeep) => {
        $crate::export_channel!($connector);
        #[cfg(target_arch = "wasm32")]
        $crate::__private::upkeep_world::__export_upkeep_world!($connector with_types_in $crate::__private::upkeep_world);
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn(
            $crate::Config,
            ::std::vec::Vec<$crate::upkeep::StoredPost>,
        ) -> ::std::result::Result<u32, $crate::PluginError> = <$connector as $crate::upkeep::Upkeep>::recheck;
    };
    ($connector:ident, messaging) => {
        $crate::export_channel!($connector);
        #[cfg(target_arch = "wasm32")]
        $crate::__private::messaging_world::__export_messaging_world!($connector with_types_in $crate::__private::messaging_world);
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn($crate::Config) -> ::std::result::Result<::std::vec::Vec<$crate::messaging::Template>, $crate::PluginError> =
            <$connector as $crate::messaging::Messaging>::templates;
    };
}

/// Exports a type implementing [`source::Source`] as the plugin's source
/// (world `crm-source`). Expands to nothing outside WebAssembly, so the
/// crate also builds and tests natively.
#[cfg(feature = "source")]
#[macro_export]
macro_rules! export_source {
    ($source:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::__private::source_world::__export_source_world!($source with_types_in $crate::__private::source_world);
        // Natively the type is still the plugin's entry point (tests call it).
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() -> $crate::source::Descriptor = <$source as $crate::source::Source>::describe;
    };
}

/// Exports a type implementing [`analyzer::Analyzer`] as the plugin's analyzer.
/// Expands to nothing outside WebAssembly, so the crate also builds and tests natively.
#[cfg(feature = "analyzer")]
#[macro_export]
macro_rules! export_analyzer {
    ($analyzer:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::__private::analyzer_world::__export_analyzer_world!($analyzer with_types_in $crate::__private::analyzer_world);
        // Natively the type is still the plugin's entry point (tests call it).
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() -> $crate::analyzer::Descriptor = <$analyzer as $crate::analyzer::Analyzer>::describe;
    };
    ($analyzer:ident, signals) => {
        $crate::export_analyzer!($analyzer);
        #[cfg(target_arch = "wasm32")]
        $crate::__private::signals_world::__export_signals_world!($analyzer with_types_in $crate::__private::signals_world);
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() -> ::std::vec::Vec<$crate::signals::SignalSpec> =
            <$analyzer as $crate::signals::Signals>::custom_signals;
    };
}

/// Exports a type implementing [`scorer::Scorer`] as the plugin's scorer.
#[cfg(feature = "scorer")]
#[macro_export]
macro_rules! export_scorer {
    ($scorer:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::__private::scorer_world::__export_scorer_world!($scorer with_types_in $crate::__private::scorer_world);
        // Natively the type is still the plugin's entry point (tests call it).
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() -> $crate::scorer::Descriptor = <$scorer as $crate::scorer::Scorer>::describe;
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_kind_and_names_the_step() {
        let e = context(PluginError::Transient("HTTP 502".into()), "listing mentions");
        assert!(matches!(e, PluginError::Transient(m) if m == "listing mentions: HTTP 502"));
        let limited = PluginError::RateLimited(RateLimit {
            retry_after_ms: 5,
            message: "HTTP 429".into(),
        });
        let e = context(limited, "x");
        assert!(matches!(e, PluginError::RateLimited(r) if r.retry_after_ms == 5 && r.message == "x: HTTP 429"));
    }

    #[cfg(feature = "channel")]
    #[test]
    fn results_take_context_from_any_error_that_becomes_a_plugin_error() {
        let sent: Result<(), http::Error> = Err(http::Error::Network("reset".into()));
        assert!(
            matches!(sent.context("listing mentions"), Err(PluginError::Transient(m)) if m == "listing mentions: network error: reset")
        );
        let parsed: Result<(), PluginError> = Err(PluginError::Permanent("malformed".into()));
        assert!(matches!(parsed.context("x"), Err(PluginError::Permanent(m)) if m == "x: malformed"));
        assert!(matches!(Ok::<_, PluginError>(7).context("x"), Ok(7)));
    }
}
