//! Identity resolution: which CRM contact is the author of a post?
//!
//! An identity (network + user) is linked to a contact in `identity_links`.
//! A link is **confirmed automatically only on verified evidence**, which a
//! stranger cannot make up: a website in a profile field the network verified
//! (a Mastodon link with `verified_at`, a Bluesky handle on the author's own
//! domain; see `verification` in the WIT) that is one contact's website, or the
//! contact's record listing this handle for this network. Methods: `website`,
//! `contact-handle`. A person confirms the rest: an agent (`manual`), or the
//! customer from a link the brand sends them (`verification-link`,
//! [`verification`]). docs/security.md has the table of every method.
//!
//! Everything an author writes is a **claim**, and claims only propose, each
//! with a confidence in (0, 1) and its evidence, for a person to confirm or
//! reject: an email, phone, website or order reference (a transaction's
//! `reference` or `external_id`) in the display name, bio, an unverified
//! profile field, the profile URL or an inbound post (`CLAIMED`; a website
//! linked in a post weighs less, people link to sites not theirs); `name` (the
//! display name, or a name spelled by the handle, equals the contact's name
//! once normalized); `same-handle` (the handle's user part is confirmed-linked
//! to the contact on another network); and ambiguous verified evidence. The
//! brand's own (outbound) posts are no evidence: they quote customers' orders
//! and addresses. Each piece of evidence has a weight ([`weight`]); the weights
//! of one (identity, contact) pair combine as a noisy OR, `1 - Π(1 - wᵢ)`,
//! capped at 0.95 (only a verified or person-made link has confidence 1).
//! Evidence that matches `k` contacts has its weight divided by `k` and is
//! marked `ambiguous`; evidence matching more than [`MAX_MATCHES`] contacts
//! says nothing and is dropped.
//!
//! Rules:
//! - Ambiguity never links: verified evidence that matches two or more
//!   contacts, or verified evidence of one identity that points at two or
//!   more contacts (including one it is already confirmed with), becomes a
//!   proposal for each, marked ambiguous.
//! - An identity confirmed with a contact is not proposed elsewhere by weaker
//!   (unverified) evidence.
//! - A rejected link is never proposed again by evidence it already holds, and
//!   never confirmed automatically; new evidence re-opens it as a proposal.
//! - Nothing is deleted or merged: contacts and identities are never written;
//!   decisions only change link rows, whose status is the history. Every change
//!   is audited in the same transaction (actor `resolver` for automatic ones).
//!
//! [`resolve`] runs after each committed page on the new posts, in a handful
//! of batched queries per call, all by indexed equality; an identity whose
//! profile and CRM data are unchanged since it was last resolved
//! (`identity_resolution`) is only looked at for its new posts.
//!
//! Files: `probes.rs` (what to look up and where it was found), `extract.rs`
//! (emails, phones, websites, order references, names in text), `lookup.rs`
//! (what to look up, and the candidates it yields), `plan.rs` (the pure
//! decision, with its unit tests), `write.rs` (links and audit entries),
//! `resolve.rs` (the batches from posts to writes), `review.rs` (the queue and
//! people's decisions), `verification.rs` (the customer's own confirmation).
//! Their queries are `store::identity`'s.

use serde::{Deserialize, Serialize};

mod extract;
mod lookup;
mod plan;
mod probes;
mod resolve;
mod review;
pub mod verification;
mod write;

use super::contact;
use crate::events::{Event, EventType};
pub use extract::{extract_emails, extract_order_references, extract_phones, extract_websites};
use plan::Status;
pub use probes::{NewAuthor, Resolved};
pub use resolve::{catch_up, resolve, resolve_new};
pub use review::{LinkPosition, confirm, contact_identities, link, links, links_after, position, reject, unlink};

/// The actor of automatic decisions in the audit log.
pub const RESOLVER: &str = "resolver";

/// Evidence that matches more contacts than this is not evidence.
pub const MAX_MATCHES: usize = 10;

/// Part of each identity's fingerprint: changing the resolver's rules makes it
/// look at every identity again.
pub(super) const RULES_VERSION: &str = "identity-resolution/3";

/// Weights of the evidence behind a proposal (verified evidence that matches
/// one contact links with confidence 1 instead).
pub mod weight {
    /// Verified evidence (a verified website, a listed handle) when it is
    /// ambiguous; divided by the number of contacts.
    pub const AMBIGUOUS: f64 = 0.9;
    /// A rejected pair's new verified evidence: proposed again, not linked.
    pub const AFTER_REJECTION: f64 = 0.9;
    /// An email, phone, website or order reference the author wrote (profile
    /// text, unverified field, profile URL, inbound post): anyone can write one.
    pub const CLAIMED: f64 = 0.9;
    /// The same handle confirmed-linked to the contact on another network.
    pub const SAME_HANDLE: f64 = 0.5;
    /// The display name equals the contact's name (two words or more).
    pub const NAME: f64 = 0.5;
    /// A name spelled by the handle (`alice_martin`) equals the contact's name.
    pub const NAME_FROM_HANDLE: f64 = 0.35;
    /// A one-word display name equals the contact's name.
    pub const NAME_ONE_WORD: f64 = 0.2;
    /// A website linked in a post (not the profile): people link to sites not theirs.
    pub const WEBSITE_IN_POST: f64 = 0.3;
    /// The highest confidence of a proposal.
    pub const MAX_PROPOSAL: f64 = 0.95;
    /// The lowest confidence of a proposal.
    pub const MIN_PROPOSAL: f64 = 0.01;
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("no identity link with id {0}")]
    NoLink(i64),
    #[error("no identity with id {0}")]
    NoIdentity(i64),
    #[error("no contact with id {0}")]
    NoContact(i64),
    #[error("link {id} is {status}: it cannot be {action}")]
    Transition {
        id: i64,
        status: String,
        action: &'static str,
    },
    #[error("unknown link status `{0}` (proposed, confirmed or rejected)")]
    Status(String),
    #[error("this verification link is unknown, used or expired, or its link was decided meanwhile")]
    Verification,
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// One piece of evidence behind a link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Evidence {
    /// `email`, `phone`, `website`, `order-reference`, `contact-handle`,
    /// `name`, `same-handle`, `manual` or `verification-link`.
    pub kind: String,
    /// What was found, as found (normalized for emails, phones and websites).
    pub value: String,
    /// Where: `bio`, `display_name`, `field:NAME`, `verified-field:NAME` (a
    /// field the network verified), `profile_url`, `handle`, `post:ID`,
    /// `identity:ID` (same-handle), `review` (manual, the value being who
    /// linked) or `verification:ID` (the customer followed a link sent by the
    /// value).
    pub source: String,
    /// Its weight in the confidence (1 for verified evidence).
    #[serde(default)]
    pub weight: f64,
    /// It points at more than one contact.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ambiguous: bool,
    /// How many contacts it points at, when ambiguous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<usize>,
}

impl Evidence {
    fn key(&self) -> (&str, &str) {
        (&self.kind, &self.value)
    }
}

/// A link with what a reviewer needs to judge it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LinkView {
    pub id: i64,
    pub identity_id: i64,
    pub network: String,
    pub handle: String,
    pub display_name: Option<String>,
    pub contact_id: i64,
    pub contact_name: Option<String>,
    pub contact_external_id: String,
    pub method: String,
    pub confidence: f64,
    pub evidence: Vec<Evidence>,
    /// `proposed`, `confirmed` or `rejected`.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What one [`resolve`] call did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResolveReport {
    /// Posts found among the ids given ([`resolve_new`]: the new inbound posts).
    pub posts: usize,
    /// Their distinct authors.
    pub identities: usize,
    /// Authors with an unchanged profile and no evidence in their new posts.
    pub skipped: usize,
    /// Links confirmed automatically.
    pub confirmed: usize,
    /// Links proposed (new, or a rejected one re-opened by new evidence).
    pub proposed: usize,
    /// Proposals that gained evidence.
    pub updated: usize,
}

pub(super) fn parse_evidence(json: &str) -> Vec<Evidence> {
    serde_json::from_str(json).unwrap_or_default()
}

pub(super) fn evidence_json(evidence: &[Evidence]) -> String {
    serde_json::to_string(evidence).unwrap_or_else(|_| "[]".into())
}

pub(super) fn subject(link_id: i64) -> String {
    format!("identity_link:{link_id}")
}

/// The `identity_link.*` event of link `link_id` moved to `to` by `actor`:
/// the audit entry's `details` (identity, contact, from, to, method, ...)
/// with the link's id and the actor.
fn link_event(link_id: i64, to: Status, actor: &str, details: &serde_json::Value) -> Event {
    let kind = match to {
        Status::Proposed => EventType::IdentityLinkProposed,
        Status::Confirmed => EventType::IdentityLinkConfirmed,
        Status::Rejected => EventType::IdentityLinkRejected,
    };
    Event::new(kind, serde_json::json!({"link_id": link_id, "actor": actor})).with_fields(details)
}
