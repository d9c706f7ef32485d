//! Host bindings of the plugin contract `socialcrm:plugin@1.x`, one module
//! per world; a new major would get modules of its own beside these.
//!
//! A minor never changes a type (wit/README.md, rule 2), so these bindings
//! serve every 1.x plugin; they double as the host's own types
//! (`types::Post`, ...).

/// `socialcrm:plugin@1.x`, world `channel` (a superset of the analyzer's imports).
pub mod channel {
    wasmtime::component::bindgen!({
        path: "../wit/v1",
        world: "channel",
        // Exports are called with `call_async`, so that a call's deadline
        // also bounds what the guest waits on in host calls (clocks, HTTP).
        exports: { default: async },
    });
}

/// `socialcrm:plugin@1.x`, world `analyzer`; shares the channel world's interfaces.
pub mod analyzer {
    wasmtime::component::bindgen!({
        path: "../wit/v1",
        world: "analyzer",
        exports: { default: async },
        with: {
            "socialcrm:plugin/types": super::channel::socialcrm::plugin::types,
            "socialcrm:plugin/log": super::channel::socialcrm::plugin::log,
        },
    });
}

pub use analyzer::exports::socialcrm::plugin::analysis::{AnalysisInput, Descriptor as AnalyzerDescriptor};
pub use channel::exports::socialcrm::plugin::connector::{
    Capabilities, ConfigField, Descriptor as ChannelDescriptor, FieldKind, Header, Outbound, Page, ReplyTarget, Sent,
    WebhookRequest, WebhookResponse, WebhookResult,
};
pub use channel::socialcrm::plugin::types;

impl From<&types::Post> for AnalysisInput {
    /// What an analyzer may see of a post.
    fn from(post: &types::Post) -> Self {
        AnalysisInput {
            text: post.text.clone(),
            kind: post.kind,
            language: post.language.clone(),
        }
    }
}
