//! The contract `socialcrm:plugin@1.x`: its generated bindings, one module per
//! world, and their conversion from and to the host's own types
//! (`types`). Nothing outside this crate sees a generated type, so a
//! new major adds a module like this one beside it and changes no caller.
//!
//! A minor never changes a type (wit/README.md, rule 2), so these bindings
//! serve every 1.x plugin.

use super::types as host;

/// `socialcrm:plugin@1.x`, the `channel` world (a superset of the
/// analyzer's imports) with both its optional exports, `upkeep` and
/// `messaging`, which the host looks up by name (`channel.rs`): a world of
/// the host's own, since no plugin world has both.
pub(crate) mod channel {
    wasmtime::component::bindgen!({
        path: "../wit/v1",
        inline: "
            package socialcrm:host;
            world channel-any {
                include socialcrm:plugin/channel-upkeep@1.2.0;
                export socialcrm:plugin/messaging@1.2.0;
            }
        ",
        world: "socialcrm:host/channel-any",
        // Exports are called with `call_async`, so that a call's deadline
        // also bounds what the guest waits on in host calls (clocks, HTTP).
        exports: { default: async },
        // The world names `wasi:http/outgoing-handler`; the host serves it
        // (and what it uses) with wasmtime's own implementations, so these
        // are their bindings, not new ones.
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        },
    });
}

/// `socialcrm:plugin@1.x`, world `analyzer-signals`: the `analyzer` world
/// with its optional `signals` export, which the host looks up by name
/// (`analyzer.rs`); shares the channel world's interfaces.
pub(crate) mod analyzer {
    wasmtime::component::bindgen!({
        path: "../wit/v1",
        world: "analyzer-signals",
        exports: { default: async },
        with: {
            "socialcrm:plugin/types": super::channel::socialcrm::plugin::types,
            "socialcrm:plugin/log": super::channel::socialcrm::plugin::log,
        },
    });
}

/// `socialcrm:plugin@1.x`, world `scorer` (since 1.2.0); shares `log`.
pub(crate) mod scorer {
    wasmtime::component::bindgen!({
        path: "../wit/v1",
        world: "scorer",
        exports: { default: async },
        with: {
            "socialcrm:plugin/log": super::channel::socialcrm::plugin::log,
        },
    });
}

/// `socialcrm:plugin@1.x`, world `crm-source` (since 1.2.0); shares the
/// channel world's interfaces and `wasi:http`.
pub(crate) mod source {
    wasmtime::component::bindgen!({
        path: "../wit/v1",
        world: "crm-source",
        exports: { default: async },
        with: {
            "socialcrm:plugin/types": super::channel::socialcrm::plugin::types,
            "socialcrm:plugin/log": super::channel::socialcrm::plugin::log,
            "socialcrm:plugin/kv": super::channel::socialcrm::plugin::kv,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        },
    });
}

pub(crate) use analyzer::exports::socialcrm::plugin::analysis::{AnalysisInput, Descriptor as AnalyzerDescriptor};
pub(crate) use analyzer::exports::socialcrm::plugin::signals::{
    AspectMention, EntryKind, RichAnalysis, RichInput, ScoreRange, SignalKind, SignalReading, SignalSpec, SignalValue,
    TaxonomyEntry,
};
pub(crate) use channel::exports::socialcrm::plugin::connector::{
    Capabilities, ConfigField, Descriptor as ChannelDescriptor, FieldKind, Header, Outbound, Page, ReplyTarget, Sent,
    WebhookRequest, WebhookResponse, WebhookResult,
};
pub(crate) use channel::exports::socialcrm::plugin::messaging::{
    ConversationTarget, MessageBody, Template, TemplateMessage,
};
pub(crate) use channel::exports::socialcrm::plugin::upkeep::StoredPost;
pub(crate) use channel::socialcrm::plugin::changes::GoneReason;
pub(crate) use channel::socialcrm::plugin::types;
pub(crate) use scorer::exports::socialcrm::plugin::scoring::{
    Descriptor as ScorerDescriptor, Factor, Feature, Prediction, ScoreRequest, Subject,
};
pub(crate) use source::exports::socialcrm::plugin::source::{
    Contact as SourceContact, CustomField, Deletion, Descriptor as SourceDescriptor, Page as SourcePage, ProductLine,
    RecordKind, SocialHandle, Transaction as SourceTransaction, TransactionKind,
};
use types::{Analysis, Author, Direction, PluginError, Post, PostKind, ProfileField, RateLimit, ScoredLabel};

/// The interfaces a minor added, with the version that added them; the rest
/// are in 1.0.0. `api::check` refuses a plugin that imports one while its
/// manifest accepts an older contract.
pub(crate) const SINCE: &[(&str, (u64, u64, u64))] = &[
    ("signing", (1, 1, 0)),
    ("verification", (1, 2, 0)),
    ("changes", (1, 2, 0)),
    ("conversations", (1, 2, 0)),
];

/// Converts a value field by field, through lists and options.
pub(crate) trait Convert<T> {
    fn convert(self) -> T;
}

macro_rules! same {
    ($($t:ty),*) => {$(
        impl Convert<$t> for $t {
            fn convert(self) -> $t {
                self
            }
        }
    )*};
}
same!(bool, u16, u32, u64, f32, f64, Vec<u8>);

/// Text that crosses the boundary never holds U+0000 (it becomes U+FFFD):
/// PostgreSQL's text cannot store one, and a network's post or a plugin's
/// error with one must not stop a channel from committing its pages.
impl Convert<String> for String {
    fn convert(self) -> String {
        if self.contains('\0') {
            self.replace('\0', "\u{FFFD}")
        } else {
            self
        }
    }
}

impl<A: Convert<B>, B> Convert<Option<B>> for Option<A> {
    fn convert(self) -> Option<B> {
        self.map(Convert::convert)
    }
}

impl<A: Convert<B>, B> Convert<Vec<B>> for Vec<A> {
    fn convert(self) -> Vec<B> {
        self.into_iter().map(Convert::convert).collect()
    }
}

/// Records with the same fields on both sides; `=>` gives the direction.
macro_rules! records {
    ($($from:ident :: $name:ident => $to:ident { $($field:ident),* $(,)? })*) => {$(
        impl Convert<$to::$name> for $from::$name {
            fn convert(self) -> $to::$name {
                $to::$name { $($field: self.$field.convert()),* }
            }
        }
    )*};
}

/// Enums with the same cases, both ways.
macro_rules! enums {
    ($($name:ident { $($case:ident),* $(,)? })*) => {$(
        impl Convert<host::$name> for $name {
            fn convert(self) -> host::$name {
                match self { $($name::$case => host::$name::$case),* }
            }
        }
        impl Convert<$name> for host::$name {
            fn convert(self) -> $name {
                match self { $(host::$name::$case => $name::$case),* }
            }
        }
    )*};
}

/// The contract's own modules under one name, for the macros.
mod wit {
    pub(super) use super::{
        AnalysisInput, AnalyzerDescriptor, Author, ChannelDescriptor, ConfigField, ConversationTarget, Header,
        Outbound, Page, Post, ProfileField, RateLimit, ReplyTarget, ScoredLabel, Sent, StoredPost, Template,
        TemplateMessage, WebhookRequest, WebhookResponse, WebhookResult,
    };
    pub(super) use super::{AspectMention, ScoreRange, SignalReading, SignalSpec, TaxonomyEntry};
    pub(super) use super::{
        CustomField, Deletion, ProductLine, SocialHandle, SourceContact, SourceDescriptor, SourcePage,
        SourceTransaction,
    };
    pub(super) use super::{Factor, Feature, Prediction, ScoreRequest, ScorerDescriptor, Subject};
}

enums! {
    PostKind { Post, Mention, Reply, Comment, Review, DirectMessage, Quote }
    Direction { Inbound, Outbound }
    FieldKind { Text, Url, Number, Boolean, List }
    GoneReason { Deleted, Deactivated, Protected, Suspended }
    TransactionKind { Order, Refund, SubscriptionPayment, Invoice }
    RecordKind { Contact, Transaction }
    EntryKind { Product, Feature, Aspect }
}

records! {
    wit::ProfileField => host { name, value }
    wit::Author => host { external_id, handle, display_name, profile_url, avatar_url, bio, followers, fields }
    wit::Post => host {
        external_id, kind, direction, author, text, url, thread_id, in_reply_to, created_at, language, raw
    }
    wit::ScoredLabel => host { name, confidence }
    wit::AnalyzerDescriptor => host { produces, description }
    wit::ConfigField => host { name, description, kind, required, secret }
    wit::ChannelDescriptor => host { network, capabilities, config_fields }
    wit::Page => host { posts, state, has_more }
    wit::Header => host { name, value }
    wit::WebhookResponse => host { status, headers, body }
    wit::WebhookResult => host { response, posts }
    wit::Sent => host { external_id, url }
    wit::RateLimit => host { retry_after_ms, message }
    wit::SourceDescriptor => host { source, description }
    wit::SocialHandle => host { network, handle }
    wit::CustomField => host { name, value }
    wit::SourceContact => host {
        external_id, name, emails, phones, websites, company, handles, custom_fields
    }
    wit::ProductLine => host { external_id, sku, name, quantity, amount }
    wit::SourceTransaction => host {
        external_id, contact_external_id, kind, amount, currency, occurred_at, status, reference, lines
    }
    wit::Deletion => host { kind, external_id }
    wit::SourcePage => host { contacts, transactions, deletions, cursor, has_more }
    host::AnalysisInput => wit { text, kind, language }
    host::Header => wit { name, value }
    host::WebhookRequest => wit { method, path, query, headers, body }
    host::ReplyTarget => wit { external_id, author_handle, thread_id }
    host::Outbound => wit { text, in_reply_to, recipient }
    host::StoredPost => wit { external_id, author_id, created_at, text }
    host::ConversationTarget => wit { conversation_id, recipient, in_reply_to }
    host::TemplateMessage => wit { name, language, parameters }
    wit::Template => host { name, language, category, body }
    host::Feature => wit { name, value }
    host::Subject => wit { features, tags }
    host::ScoreRequest => wit { prediction, value_currency, subjects }
    wit::Factor => host { feature, contribution, note }
    wit::Prediction => host { score, factors }
    wit::ScorerDescriptor => host { predicts, description }
    wit::ScoreRange => host { min, max }
    wit::SignalSpec => host { name, display_name, kind }
    wit::SignalReading => host { name, value }
    wit::AspectMention => host { entry, start, end, sentiment }
    host::TaxonomyEntry => wit { id, kind, name, synonyms }
}

impl Convert<host::Analysis> for Analysis {
    fn convert(self) -> host::Analysis {
        host::Analysis {
            sentiment: self.sentiment,
            label: self.label.convert(),
            intents: self.intents.convert(),
            topics: self.topics.convert(),
            language: self.language.convert(),
            signals: Vec::new(),
            aspects: Vec::new(),
        }
    }
}

/// A rich analysis is the host's analysis with its signals and aspects.
impl Convert<host::Analysis> for RichAnalysis {
    fn convert(self) -> host::Analysis {
        host::Analysis {
            signals: self.signals.convert(),
            aspects: self.aspects.convert(),
            ..self.analysis.convert()
        }
    }
}

impl Convert<RichInput> for host::AnalysisInput {
    fn convert(self) -> RichInput {
        RichInput {
            text: self.text,
            kind: self.kind.convert(),
            language: self.language,
        }
    }
}

impl Convert<host::SignalKind> for SignalKind {
    fn convert(self) -> host::SignalKind {
        match self {
            SignalKind::Score(r) => host::SignalKind::Score(r.convert()),
            SignalKind::Label(set) => host::SignalKind::Label(set.convert()),
            SignalKind::Labels(set) => host::SignalKind::Labels(set.convert()),
        }
    }
}

impl Convert<host::SignalValue> for SignalValue {
    fn convert(self) -> host::SignalValue {
        match self {
            SignalValue::Score(x) => host::SignalValue::Score(x),
            SignalValue::Label(l) => host::SignalValue::Label(l.convert()),
            SignalValue::Labels(ls) => host::SignalValue::Labels(ls.convert()),
        }
    }
}

impl Convert<MessageBody> for host::MessageBody {
    fn convert(self) -> MessageBody {
        match self {
            host::MessageBody::Text(text) => MessageBody::Text(text),
            host::MessageBody::Template(t) => MessageBody::Template(t.convert()),
        }
    }
}

impl Convert<host::Capabilities> for Capabilities {
    fn convert(self) -> host::Capabilities {
        host::Capabilities {
            poll: self.contains(Capabilities::POLL),
            webhook: self.contains(Capabilities::WEBHOOK),
            stream: self.contains(Capabilities::STREAM),
            reply: self.contains(Capabilities::REPLY),
            direct_message: self.contains(Capabilities::DIRECT_MESSAGE),
        }
    }
}

impl Convert<host::PluginError> for PluginError {
    fn convert(self) -> host::PluginError {
        match self {
            PluginError::InvalidConfig(m) => host::PluginError::InvalidConfig(m.convert()),
            PluginError::Unauthorized(m) => host::PluginError::Unauthorized(m.convert()),
            PluginError::RateLimited(l) => host::PluginError::RateLimited(l.convert()),
            PluginError::Transient(m) => host::PluginError::Transient(m.convert()),
            PluginError::Permanent(m) => host::PluginError::Permanent(m.convert()),
        }
    }
}

/// A generated value as the host's own.
pub(crate) fn from_wit<W: Convert<H>, H>(value: W) -> H {
    value.convert()
}

/// A host value as the generated type a plugin call takes.
pub(crate) fn to_wit<H: Clone + Convert<W>, W>(value: &H) -> W {
    value.clone().convert()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_become_one_flag_each() {
        let caps: host::Capabilities = from_wit(Capabilities::POLL | Capabilities::DIRECT_MESSAGE);
        let want = host::Capabilities {
            poll: true,
            direct_message: true,
            ..Default::default()
        };
        assert_eq!(caps, want);
        let all: host::Capabilities = from_wit(Capabilities::all());
        assert!(all.poll && all.webhook && all.stream && all.reply && all.direct_message);
    }

    #[test]
    fn a_plugin_error_keeps_its_case_and_text() {
        let e: host::PluginError = from_wit(PluginError::RateLimited(RateLimit {
            retry_after_ms: 1500,
            message: "slow down".into(),
        }));
        assert_eq!(e.to_string(), "rate limited for 1500 ms: slow down");
        let e: host::PluginError = from_wit(PluginError::Unauthorized("bad token".into()));
        assert_eq!(e, host::PluginError::Unauthorized("bad token".into()));
    }

    #[test]
    fn no_nul_crosses_the_boundary() {
        let e: host::PluginError = from_wit(PluginError::Transient("bad\0gateway".into()));
        assert_eq!(e, host::PluginError::Transient("bad\u{FFFD}gateway".into()));
        let page: host::Page = from_wit(Page {
            posts: Vec::new(),
            state: "cursor\0".into(),
            has_more: false,
        });
        assert_eq!(page.state, "cursor\u{FFFD}");
    }

    #[test]
    fn an_outbound_reply_reaches_the_plugin_whole() {
        let out = host::Outbound {
            text: "thanks".into(),
            in_reply_to: Some(host::ReplyTarget {
                external_id: "p1".into(),
                author_handle: "alice".into(),
                thread_id: Some("t1".into()),
            }),
            recipient: None,
        };
        let wit: Outbound = to_wit(&out);
        let target = wit
            .in_reply_to
            .as_ref()
            .map(|t| (&t.external_id[..], &t.author_handle[..], t.thread_id.as_deref()));
        assert_eq!(
            (wit.text.as_str(), target),
            ("thanks", Some(("p1", "alice", Some("t1"))))
        );
    }

    #[test]
    fn since_agrees_with_the_wit() {
        // worlds.wit marks each later import with `/// Since X.Y.Z.` above it.
        let wit = include_str!("../../wit/v1/worlds.wit");
        let lines: Vec<&str> = wit.lines().map(str::trim).collect();
        let mut marked = Vec::new();
        for pair in lines.windows(2) {
            let since = pair[0].strip_prefix("/// Since ").and_then(|s| s.strip_suffix('.'));
            let import = pair[1].strip_prefix("import ").and_then(|s| s.strip_suffix(';'));
            if let (Some(since), Some(import)) = (since, import) {
                marked.push((import.to_string(), since.to_string()));
            }
        }
        let table: Vec<(String, String)> = SINCE
            .iter()
            .map(|(i, (a, b, c))| (i.to_string(), format!("{a}.{b}.{c}")))
            .collect();
        assert_eq!(marked, table);
    }
}
