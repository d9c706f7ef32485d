//! What crosses a plugin call, as the host's own types.
//!
//! The rest of the host speaks these; `bindings` converts them from and to the
//! contract's generated types, so a new contract major changes that module and
//! not the callers. The shapes follow `socialcrm:plugin@1.x` (wit/v1), whose
//! doc comments say what each field means.

/// A wait the network asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub retry_after_ms: u64,
    pub message: String,
}

/// A failure a plugin reports: each case selects a different reaction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("rate limited for {} ms: {}", .0.retry_after_ms, .0.message)]
    RateLimited(RateLimit),
    #[error("transient error: {0}")]
    Transient(String),
    #[error("permanent error: {0}")]
    Permanent(String),
}

impl PluginError {
    /// The same error with its text passed through `f` (to take secrets out).
    pub(crate) fn map_text(self, f: impl Fn(String) -> String) -> PluginError {
        match self {
            PluginError::InvalidConfig(m) => PluginError::InvalidConfig(f(m)),
            PluginError::Unauthorized(m) => PluginError::Unauthorized(f(m)),
            PluginError::RateLimited(l) => PluginError::RateLimited(RateLimit {
                retry_after_ms: l.retry_after_ms,
                message: f(l.message),
            }),
            PluginError::Transient(m) => PluginError::Transient(f(m)),
            PluginError::Permanent(m) => PluginError::Permanent(f(m)),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PostKind {
    Post,
    Mention,
    Reply,
    Comment,
    Review,
    DirectMessage,
    Quote,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Inbound,
    Outbound,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileField {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Author {
    pub external_id: String,
    pub handle: String,
    pub display_name: Option<String>,
    pub profile_url: Option<String>,
    pub avatar_url: Option<String>,
    pub bio: Option<String>,
    pub followers: Option<u64>,
    pub fields: Vec<ProfileField>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Post {
    pub external_id: String,
    pub kind: PostKind,
    pub direction: Direction,
    pub author: Author,
    pub text: String,
    pub url: Option<String>,
    pub thread_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub created_at: String,
    pub language: Option<String>,
    pub raw: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScoredLabel {
    pub name: String,
    pub confidence: f32,
}

/// What one analyzer concluded about one post.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Analysis {
    pub sentiment: Option<f32>,
    pub label: Option<String>,
    pub intents: Vec<ScoredLabel>,
    pub topics: Vec<String>,
    pub language: Option<String>,
    /// Custom signals and taxonomy mentions: from analyzers that export
    /// `signals` (since 1.2), empty from the others.
    pub signals: Vec<SignalReading>,
    pub aspects: Vec<AspectMention>,
}

/// What a custom signal holds.
#[derive(Clone, Debug, PartialEq)]
pub enum SignalKind {
    Score(ScoreRange),
    Label(Vec<String>),
    Labels(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
}

/// A signal an analyzer produces beyond the built-in ones.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalSpec {
    pub name: String,
    pub display_name: String,
    pub kind: SignalKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SignalValue {
    Score(f64),
    Label(String),
    Labels(Vec<String>),
}

/// A custom signal's value for one post.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalReading {
    pub name: String,
    pub value: SignalValue,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Product,
    Feature,
    Aspect,
}

/// One entry of the brand's taxonomy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaxonomyEntry {
    pub id: String,
    pub kind: EntryKind,
    pub name: String,
    pub synonyms: Vec<String>,
}

/// A post's mention of a taxonomy entry, with what it says of it.
#[derive(Clone, Debug, PartialEq)]
pub struct AspectMention {
    pub entry: String,
    /// Byte offsets in the text, end exclusive.
    pub start: u32,
    pub end: u32,
    pub sentiment: Option<f32>,
}

/// What an analyzer may see of a post.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalysisInput {
    pub text: String,
    pub kind: PostKind,
    pub language: Option<String>,
}

impl From<&Post> for AnalysisInput {
    fn from(post: &Post) -> Self {
        AnalysisInput {
            text: post.text.clone(),
            kind: post.kind,
            language: post.language.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalyzerDescriptor {
    pub produces: Vec<String>,
    pub description: String,
}

/// One feature of a contact, as a scorer reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Feature {
    pub name: String,
    pub value: f64,
}

/// A contact as a scorer sees it: granted features and tags, no identity.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Subject {
    pub features: Vec<Feature>,
    pub tags: Vec<String>,
}

/// One batch of a scorer's work.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreRequest {
    pub prediction: String,
    pub value_currency: Option<String>,
    pub subjects: Vec<Subject>,
}

/// One reason for a score.
#[derive(Clone, Debug, PartialEq)]
pub struct Factor {
    pub feature: String,
    pub contribution: f64,
    pub note: String,
}

/// A scorer's answer for one subject: a score in [0, 1] and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub score: f64,
    pub factors: Vec<Factor>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScorerDescriptor {
    pub predicts: Vec<String>,
    pub description: String,
}

/// What a channel connector can do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub poll: bool,
    pub webhook: bool,
    pub stream: bool,
    pub reply: bool,
    pub direct_message: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Url,
    Number,
    Boolean,
    List,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigField {
    pub name: String,
    pub description: String,
    pub kind: FieldKind,
    pub required: bool,
    pub secret: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelDescriptor {
    pub network: String,
    pub capabilities: Capabilities,
    pub config_fields: Vec<ConfigField>,
}

/// One page of posts and the state to continue from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub posts: Vec<Post>,
    pub state: String,
    pub has_more: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookResponse {
    pub status: u16,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookResult {
    pub response: WebhookResponse,
    pub posts: Vec<Post>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyTarget {
    pub external_id: String,
    pub author_handle: String,
    pub thread_id: Option<String>,
}

/// Something to publish: a reply, a new post or a direct message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outbound {
    pub text: String,
    pub in_reply_to: Option<ReplyTarget>,
    pub recipient: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub external_id: String,
    pub url: Option<String>,
}

/// Where a message to a conversation goes (`messaging.send-message`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationTarget {
    pub conversation_id: String,
    pub recipient: String,
    pub in_reply_to: Option<String>,
}

/// An approved template, filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateMessage {
    pub name: String,
    pub language: String,
    pub parameters: Vec<String>,
}

/// What a message to a conversation says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageBody {
    /// Free text: only inside the conversation's reply window.
    Text(String),
    Template(TemplateMessage),
}

/// A template the network approved for an account (`messaging.templates`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    pub language: String,
    pub category: String,
    pub body: String,
}

/// A post the host holds, handed to a channel's `upkeep.recheck`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPost {
    pub external_id: String,
    pub author_id: String,
    pub created_at: String,
    pub text: String,
}

/// Why an author's posts are no longer on the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GoneReason {
    Deleted,
    Deactivated,
    Protected,
    Suspended,
}

impl GoneReason {
    pub fn as_str(self) -> &'static str {
        match self {
            GoneReason::Deleted => "deleted",
            GoneReason::Deactivated => "deactivated",
            GoneReason::Protected => "protected",
            GoneReason::Suspended => "suspended",
        }
    }
}

/// What a plugin reported, through the `changes` import, about content the
/// host stored; applied with the call's output, only if the call succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    PostDeleted {
        external_id: String,
    },
    PostEdited {
        external_id: String,
        text: String,
        edited_at: String,
        raw: Option<String>,
    },
    UserGone {
        external_user_id: String,
        reason: GoneReason,
    },
    /// The user asked the network for the deletion of their data; `code` is
    /// the confirmation code the plugin was handed (`erasure-requested`).
    ErasureRequested {
        external_user_id: String,
        code: String,
    },
    /// The brand may answer conversation `conversation_id` with free text
    /// until `open_until` (RFC 3339; `conversations.reply-window`).
    ReplyWindow {
        conversation_id: String,
        open_until: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// A line a plugin wrote to the host's log during one call (secrets taken
/// out, one line, at most 4 KiB), kept with the call's output or error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

/// A source plugin's self-description (world `crm-source`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceDescriptor {
    pub source: String,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocialHandle {
    pub network: String,
    pub handle: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomField {
    pub name: String,
    pub value: String,
}

/// A contact as a source sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceContact {
    pub external_id: String,
    pub name: Option<String>,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub websites: Vec<String>,
    pub company: Option<String>,
    pub handles: Vec<SocialHandle>,
    pub custom_fields: Vec<CustomField>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransactionKind {
    Order,
    Refund,
    SubscriptionPayment,
    Invoice,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductLine {
    pub external_id: Option<String>,
    pub sku: Option<String>,
    pub name: String,
    pub quantity: u32,
    pub amount: String,
}

/// A transaction as a source sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceTransaction {
    pub external_id: String,
    pub contact_external_id: String,
    pub kind: TransactionKind,
    pub amount: String,
    pub currency: String,
    pub occurred_at: String,
    pub status: Option<String>,
    pub reference: Option<String>,
    pub lines: Vec<ProductLine>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Contact,
    Transaction,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deletion {
    pub kind: RecordKind,
    pub external_id: String,
}

/// One page of a source's changes and the cursor after it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourcePage {
    pub contacts: Vec<SourceContact>,
    pub transactions: Vec<SourceTransaction>,
    pub deletions: Vec<Deletion>,
    pub cursor: String,
    pub has_more: bool,
}
