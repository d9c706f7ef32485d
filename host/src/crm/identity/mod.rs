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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

mod extract;
mod review;
pub mod verification;

use super::contact::{self, NETWORKS};
use crate::store::{Backend, Db, audit, lookup_sql, now_ms};
use extract::{ascii_lower, full_lower, handle_key, handle_name, name_key, profile_website, valid_host};
pub use extract::{extract_emails, extract_order_references, extract_phones, extract_websites};
pub use review::{LinkPosition, confirm, contact_identities, link, links, links_after, position, reject, unlink};

/// The actor of automatic decisions in the audit log.
pub const RESOLVER: &str = "resolver";

/// Evidence that matches more contacts than this is not evidence.
pub const MAX_MATCHES: usize = 10;

/// Values per `IN (...)` list.
const CHUNK: usize = 500;

/// Part of each identity's fingerprint: changing the resolver's rules makes it
/// look at every identity again.
const RULES_VERSION: &str = "identity-resolution/2";

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

// ---------------------------------------------------------------------------
// Probes: what to look up for one identity, and where it was found.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Email,
    Phone,
    OrderReference,
    Website,
    ContactHandle,
    SameHandle,
    Name,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::OrderReference => "order-reference",
            Kind::Website => "website",
            Kind::ContactHandle => "contact-handle",
            Kind::SameHandle => "same-handle",
            Kind::Name => "name",
        }
    }
}

/// One thing to look up.
#[derive(Clone, Debug, PartialEq)]
struct Probe {
    kind: Kind,
    /// The lookup key (normalized).
    key: String,
    /// The evidence value shown to a reviewer.
    shown: String,
    source: String,
    /// Verified: confirms when it matches one contact; otherwise its weight.
    verified: bool,
    weight: f64,
}

impl Probe {
    fn strong(kind: Kind, key: String, source: &str) -> Probe {
        Probe {
            kind,
            shown: key.clone(),
            key,
            source: source.to_string(),
            verified: true,
            weight: 1.0,
        }
    }

    fn weak(kind: Kind, key: String, shown: &str, source: &str, weight: f64) -> Probe {
        Probe {
            kind,
            key,
            shown: shown.to_string(),
            source: source.to_string(),
            verified: false,
            weight,
        }
    }
}

/// Emails, phones, websites and order references an author wrote: claims.
fn text_probes(text: &str, source: &str, in_post: bool, out: &mut Vec<Probe>) {
    let claim = |kind, key: String| Probe::weak(kind, key.clone(), &key, source, weight::CLAIMED);
    out.extend(extract_emails(text).into_iter().map(|e| claim(Kind::Email, e)));
    out.extend(extract_phones(text).into_iter().map(|p| claim(Kind::Phone, p)));
    for w in extract_websites(text) {
        out.push(if in_post {
            Probe::weak(Kind::Website, w.clone(), &w, source, weight::WEBSITE_IN_POST)
        } else {
            claim(Kind::Website, w)
        });
    }
    out.extend(
        extract_order_references(text)
            .into_iter()
            .map(|r| claim(Kind::OrderReference, r)),
    );
}

/// A profile field as stored (`host/src/ingest/page.rs`).
#[derive(Debug, Deserialize)]
struct Field {
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: String,
    /// The network verified it (WIT `verification`, since 1.2).
    #[serde(default)]
    verified: bool,
}

/// An author of newly stored posts as the commit that stored them knew it,
/// with the (post id, text) of its new inbound posts: what [`resolve_new`]
/// reads instead of reading the posts back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAuthor {
    pub identity_id: i64,
    pub network: String,
    pub handle: String,
    pub display_name: Option<String>,
    pub profile_url: Option<String>,
    pub bio: Option<String>,
    /// JSON array of `{"name", "value"}`, as stored.
    pub fields: String,
    pub posts: Vec<(i64, String)>,
}

/// Authors entered in the cache of [`Resolved`] before it starts over.
const RESOLVED_CAP: usize = 100_000;

/// What [`resolve_new`] resolved lately: identity → (profile fingerprint, CRM
/// version). That a profile was resolved against a version of the CRM stays
/// true whoever resolves it again later, so an author posting again is
/// skipped without reading its `identity_resolution` row.
#[derive(Debug, Default)]
pub struct Resolved(Mutex<HashMap<i64, (String, i64)>>);

impl Resolved {
    fn get(&self, identity: i64) -> Option<(String, i64)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&identity).cloned()
    }

    fn record(&self, entries: Vec<(i64, String)>, version: i64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() + entries.len() > RESOLVED_CAP {
            map.clear();
        }
        map.extend(
            entries
                .into_iter()
                .map(|(id, fingerprint)| (id, (fingerprint, version))),
        );
    }
}

/// An author as loaded with its new posts.
#[derive(Debug)]
struct Subject {
    id: i64,
    network: String,
    handle: String,
    display_name: Option<String>,
    profile_url: Option<String>,
    bio: Option<String>,
    fields: String,
    stored_fingerprint: Option<String>,
    stored_version: Option<i64>,
    /// (post id, text) of its new inbound posts.
    posts: Vec<(i64, String)>,
}

impl From<NewAuthor> for Subject {
    fn from(a: NewAuthor) -> Self {
        Subject {
            id: a.identity_id,
            network: a.network,
            handle: a.handle,
            display_name: a.display_name,
            profile_url: a.profile_url,
            bio: a.bio,
            fields: a.fields,
            stored_fingerprint: None,
            stored_version: None,
            posts: a.posts,
        }
    }
}

impl Subject {
    fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            RULES_VERSION,
            &self.network,
            &self.handle,
            self.display_name.as_deref().unwrap_or_default(),
            self.profile_url.as_deref().unwrap_or_default(),
            self.bio.as_deref().unwrap_or_default(),
            &self.fields,
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(&h.finalize()[..16])
    }

    /// What its profile says: texts, profile URL, handle, names.
    fn profile_probes(&self, out: &mut Vec<Probe>) {
        if let Some(name) = &self.display_name {
            text_probes(name, "display_name", false, out);
        }
        if let Some(bio) = &self.bio {
            text_probes(bio, "bio", false, out);
        }
        for field in serde_json::from_str::<Vec<Field>>(&self.fields).unwrap_or_default() {
            text_probes(&field.value, &format!("field:{}", field.name), false, out);
            // Of a verified field only its website is proven (a link back to
            // the profile, a domain handle); the rest of its text is a claim.
            if field.verified {
                let source = format!("verified-field:{}", field.name);
                for w in extract_websites(&field.value) {
                    out.push(Probe::strong(Kind::Website, w, &source));
                }
            }
        }
        if let Some(site) = self.profile_url.as_deref().and_then(profile_website) {
            out.push(Probe::weak(
                Kind::Website,
                site.clone(),
                &site,
                "profile_url",
                weight::CLAIMED,
            ));
        }
        let Some(handle) = contact::handle(&self.handle) else {
            return;
        };
        // The handle as a contact would list it; a local Mastodon-style handle
        // also with its instance (`alice` at https://host/@alice → alice@host).
        if NETWORKS.contains(&self.network.as_str()) {
            let mut handles = vec![handle.clone()];
            if !handle.contains('@')
                && let Some(host) = self.profile_url.as_deref().and_then(url_host)
                && self.network == "mastodon"
            {
                handles.push(format!("{handle}@{host}"));
            }
            for h in handles {
                out.push(Probe::strong(Kind::ContactHandle, h, "handle"));
            }
        }
        if let Some(key) = handle_key(&handle) {
            out.push(Probe::weak(
                Kind::SameHandle,
                key.clone(),
                &key,
                "handle",
                weight::SAME_HANDLE,
            ));
        }
        if let Some(shown) = &self.display_name
            && let Some(key) = name_key(shown, full_lower)
        {
            let w = if key.contains(' ') {
                weight::NAME
            } else {
                weight::NAME_ONE_WORD
            };
            out.push(Probe::weak(Kind::Name, key, shown, "display_name", w));
        }
        if let Some(key) = handle_name(&handle) {
            out.push(Probe::weak(
                Kind::Name,
                key,
                &handle,
                "handle",
                weight::NAME_FROM_HANDLE,
            ));
        }
    }
}

fn url_host(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    let rest = lower.split_once("://")?.1;
    let host = rest.split(['/', '?', '#', ':']).next()?;
    valid_host(host).then(|| host.to_string())
}

// ---------------------------------------------------------------------------
// Decisions: pure, from the links an identity has and the candidates found.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Proposed,
    Confirmed,
    Rejected,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Proposed => "proposed",
            Status::Confirmed => "confirmed",
            Status::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Option<Status> {
        match s {
            "proposed" => Some(Status::Proposed),
            "confirmed" => Some(Status::Confirmed),
            "rejected" => Some(Status::Rejected),
            _ => None,
        }
    }
}

/// A stored link of the identity being resolved.
#[derive(Clone, Debug)]
struct Existing {
    id: i64,
    contact_id: i64,
    status: Status,
    evidence: Vec<Evidence>,
}

/// Evidence for one contact.
#[derive(Clone, Debug, PartialEq)]
struct Candidate {
    contact_id: i64,
    evidence: Evidence,
    /// Verified and matching this contact only.
    verified: bool,
}

/// A change to make.
#[derive(Clone, Debug, PartialEq)]
enum Plan {
    Insert {
        contact_id: i64,
        status: Status,
        method: String,
        confidence: f64,
        evidence: Vec<Evidence>,
    },
    Update {
        link_id: i64,
        contact_id: i64,
        from: Status,
        to: Status,
        method: String,
        confidence: f64,
        evidence: Vec<Evidence>,
    },
}

/// The confidence of a proposal: noisy OR of its evidence, within
/// [`weight::MIN_PROPOSAL`, `weight::MAX_PROPOSAL`], to three decimals.
fn proposal_confidence(evidence: &[Evidence]) -> f64 {
    let miss: f64 = evidence.iter().map(|e| 1.0 - e.weight.clamp(0.0, 1.0)).product();
    let c = (1.0 - miss).clamp(weight::MIN_PROPOSAL, weight::MAX_PROPOSAL);
    (c * 1000.0).round() / 1000.0
}

/// The method of a link: the kind of its strongest evidence (the first on a tie).
fn method_of(evidence: &[Evidence]) -> String {
    evidence
        .iter()
        .fold(None::<&Evidence>, |best, e| match best {
            Some(b) if b.weight >= e.weight => Some(b),
            _ => Some(e),
        })
        .map_or_else(|| "manual".to_string(), |e| e.kind.clone())
}

/// `stored` with `new` added; a new piece with the key of a stored one replaces it.
fn merge(stored: &[Evidence], new: &[Evidence]) -> Vec<Evidence> {
    let mut merged: Vec<Evidence> = stored
        .iter()
        .filter(|s| !new.iter().any(|n| n.key() == s.key()))
        .cloned()
        .collect();
    merged.extend(new.iter().cloned());
    merged
}

fn ambiguous(mut e: Evidence, w: f64, k: usize) -> Evidence {
    e.weight = (w / k.max(2) as f64 * 1000.0).round() / 1000.0;
    e.ambiguous = true;
    e.matches = Some(k.max(2));
    e
}

/// What to change for one identity.
fn plan(existing: &[Existing], candidates: Vec<Candidate>) -> Vec<Plan> {
    let status_of = |contact: i64| existing.iter().find(|e| e.contact_id == contact);
    let confirmed: BTreeSet<i64> = existing
        .iter()
        .filter(|e| e.status == Status::Confirmed)
        .map(|e| e.contact_id)
        .collect();
    let rejected = |contact: i64| status_of(contact).is_some_and(|e| e.status == Status::Rejected);
    let verified: BTreeSet<i64> = candidates
        .iter()
        .filter(|c| c.verified && !rejected(c.contact_id))
        .map(|c| c.contact_id)
        .collect();
    let auto = match verified.first() {
        Some(&only) if verified.len() == 1 && confirmed.iter().all(|&c| c == only) => Some(only),
        _ => None,
    };
    let pointed_at = verified.union(&confirmed).count();
    let has_confirmed = !confirmed.is_empty() || auto.is_some();

    let mut by_contact: BTreeMap<i64, (bool, Vec<Evidence>)> = BTreeMap::new();
    for c in candidates {
        if confirmed.contains(&c.contact_id) {
            continue;
        }
        let (evidence, strong) = if Some(c.contact_id) == auto {
            (c.evidence, true)
        } else if c.verified && rejected(c.contact_id) {
            let mut e = c.evidence;
            e.weight = weight::AFTER_REJECTION;
            (e, true)
        } else if c.verified {
            // Conflicting verified evidence: a proposal for each contact.
            (ambiguous(c.evidence, weight::AMBIGUOUS, pointed_at), true)
        } else {
            (c.evidence, false)
        };
        // Weaker evidence does not move an identity away from its contact.
        if has_confirmed && !strong {
            continue;
        }
        let entry = by_contact.entry(c.contact_id).or_default();
        entry.0 |= Some(c.contact_id) == auto;
        match entry.1.iter_mut().find(|e| e.key() == evidence.key()) {
            Some(e) if e.weight < evidence.weight => *e = evidence,
            Some(_) => {}
            None => entry.1.push(evidence),
        }
    }

    let mut plans = Vec::new();
    for (contact_id, (confirm, evidence)) in by_contact {
        match status_of(contact_id) {
            None if confirm => plans.push(Plan::Insert {
                contact_id,
                status: Status::Confirmed,
                method: method_of(&evidence),
                confidence: 1.0,
                evidence,
            }),
            None => plans.push(Plan::Insert {
                contact_id,
                status: Status::Proposed,
                method: method_of(&evidence),
                confidence: proposal_confidence(&evidence),
                evidence,
            }),
            Some(link) if link.status == Status::Confirmed => {}
            Some(link) => {
                let proven: Vec<Evidence> = evidence.iter().filter(|e| e.weight >= 1.0).cloned().collect();
                let added: Vec<Evidence> = evidence
                    .into_iter()
                    .filter(|n| !link.evidence.iter().any(|s| s.key() == n.key()))
                    .collect();
                if confirm {
                    let merged = merge(&link.evidence, &merge(&added, &proven));
                    plans.push(Plan::Update {
                        link_id: link.id,
                        contact_id,
                        from: link.status,
                        to: Status::Confirmed,
                        method: method_of(&proven),
                        confidence: 1.0,
                        evidence: merged,
                    });
                } else if !added.is_empty() {
                    let merged = merge(&link.evidence, &added);
                    plans.push(Plan::Update {
                        link_id: link.id,
                        contact_id,
                        from: link.status,
                        to: Status::Proposed,
                        method: method_of(&merged),
                        confidence: proposal_confidence(&merged),
                        evidence: merged,
                    });
                }
            }
        }
    }
    plans
}

// ---------------------------------------------------------------------------
// resolve
// ---------------------------------------------------------------------------

/// Whether a query with an `IN` list is kept prepared. On PostgreSQL it is
/// planned with its values each time instead: a prepared statement's generic
/// plan, made while a table was small (a sequential scan), is kept as the table
/// grows until the next ANALYZE, and a burst of ingest outruns autovacuum.
fn keep_prepared(db: &Db) -> bool {
    db.backend() == Backend::Sqlite
}

/// `$start, $start+1, ...` for `n` values.
fn params(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The CRM's state: the newest change to a contact or a transaction (both
/// indexed). Read before anything is looked up, so a change made meanwhile
/// makes the next call look again. (A query of its own: joined to the posts'
/// query, PostgreSQL plans it ten times slower.)
async fn crm_version(db: &Db) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "SELECT (SELECT MAX(updated_at) FROM contacts) AS c, (SELECT MAX(updated_at) FROM transactions) AS t",
    )
    .fetch_one(db.pool())
    .await?;
    let c: Option<i64> = row.try_get("c")?;
    let t: Option<i64> = row.try_get("t")?;
    Ok(c.unwrap_or(0).max(t.unwrap_or(0)))
}

/// The new posts `post_ids` grouped by author, with what was last resolved of it.
async fn load_subjects(db: &Db, post_ids: &[i64]) -> Result<(Vec<Subject>, usize), sqlx::Error> {
    let mut subjects: BTreeMap<i64, Subject> = BTreeMap::new();
    let mut posts = 0;
    for chunk in post_ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT p.id, p.identity_id, p.direction, p.text, i.network, i.handle, i.display_name, i.profile_url, \
             i.bio, i.fields, r.fingerprint, r.crm_version FROM posts p JOIN identities i ON i.id = p.identity_id \
             LEFT JOIN identity_resolution r ON r.identity_id = i.id WHERE p.id IN ({})",
            params(1, chunk.len())
        );
        let mut query = sqlx::query(db.backend().sql(sql)).persistent(keep_prepared(db));
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(db.pool()).await? {
            posts += 1;
            let identity_id: i64 = row.try_get("identity_id")?;
            let subject = match subjects.entry(identity_id) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => v.insert(Subject {
                    id: identity_id,
                    network: row.try_get("network")?,
                    handle: row.try_get("handle")?,
                    display_name: row.try_get("display_name")?,
                    profile_url: row.try_get("profile_url")?,
                    bio: row.try_get("bio")?,
                    fields: row.try_get("fields")?,
                    stored_fingerprint: row.try_get("fingerprint")?,
                    stored_version: row.try_get("crm_version")?,
                    posts: Vec::new(),
                }),
            };
            // The brand's own posts name its customers' orders and addresses.
            if row.try_get::<String, _>("direction")? == "inbound" {
                subject.posts.push((row.try_get("id")?, row.try_get("text")?));
            }
        }
    }
    Ok((subjects.into_values().collect(), posts))
}

/// Contacts by lookup key, per kind; same-handle keys also carry the other identity.
#[derive(Default)]
struct Matches {
    by_kind: HashMap<(Kind, String), BTreeSet<i64>>,
    /// key → (contact, identity id, network) of confirmed links.
    same_handle: HashMap<String, Vec<(i64, i64, String)>>,
}

impl Matches {
    fn add(&mut self, kind: Kind, key: String, contact: i64) {
        self.by_kind.entry((kind, key)).or_default().insert(contact);
    }
}

fn digits_of(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// Bound values per lookup query (SQLite allows 32,766, PostgreSQL 65,535).
const MAX_PARAMS: usize = 2000;

/// One part of a lookup: `columns` are `k` (what was looked up), `id` (the
/// contact), `v` (the value found), `x` (an identity id or 0), `n` (a
/// network or '') and `st` (a link's status or '').
struct Part {
    columns: String,
    from: String,
    expr: String,
    values: Vec<String>,
}

/// Runs `parts` as few `UNION ALL` queries, each part on its own index.
async fn fetch_union(db: &Db, parts: Vec<Part>) -> Result<Vec<AnyRow>, sqlx::Error> {
    let mut chunks: Vec<(&Part, &[String])> = Vec::new();
    for part in &parts {
        for values in part.values.chunks(CHUNK) {
            chunks.push((part, values));
        }
    }
    let mut rows = Vec::new();
    let mut rest = chunks.as_slice();
    while !rest.is_empty() {
        // As many parts as fit (at least one; SQLite allows 500 per compound SELECT).
        let (mut take, mut n) = (0, 0);
        while take < rest.len() && take < 100 && (take == 0 || n + rest[take].1.len() <= MAX_PARAMS) {
            n += rest[take].1.len();
            take += 1;
        }
        let (batch, tail) = rest.split_at(take);
        rest = tail;
        let mut next = 1;
        let sql = batch
            .iter()
            .map(|(part, values)| {
                let sql = lookup_sql(
                    db.backend(),
                    &part.columns,
                    &part.from,
                    &part.expr,
                    next,
                    values.len(),
                    "",
                );
                next += values.len();
                sql
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut query = sqlx::query(db.backend().sql(sql)).persistent(keep_prepared(db));
        for value in batch.iter().flat_map(|(_, values)| values.iter()) {
            query = query.bind(value.as_str());
        }
        rows.extend(query.fetch_all(db.pool()).await?);
    }
    Ok(rows)
}

/// The columns of a lookup part; `tag` and `network` are constants, never data.
fn columns(tag: &str, id: &str, value: &str, network: &str) -> String {
    format!(
        "CAST('{tag}' AS TEXT) AS k, {id} AS id, {value} AS v, CAST(0 AS BIGINT) AS x, \
         CAST('{network}' AS TEXT) AS n, CAST('' AS TEXT) AS st"
    )
}

/// Looks every probe up in one query (a part per kind), all by indexed equality.
async fn look_up(db: &Db, work: &[(Subject, Option<String>, Vec<Probe>)]) -> Result<Matches, sqlx::Error> {
    let mut keys: BTreeMap<Kind, BTreeSet<String>> = BTreeMap::new();
    let mut handles: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for (subject, _, probes) in work {
        for p in probes {
            let set = keys.entry(p.kind).or_default();
            match p.kind {
                Kind::Phone => {
                    let d = digits_of(&p.key);
                    set.insert(format!("+{d}"));
                    set.insert(d);
                }
                Kind::OrderReference => {
                    set.insert(p.key.clone());
                    set.insert(p.key.to_uppercase());
                    set.insert(p.key.to_lowercase());
                }
                Kind::Name => {
                    set.insert(p.key.clone());
                    // SQLite's lower() folds ASCII letters only.
                    if p.source == "display_name"
                        && let Some(ascii) = name_key(&p.shown, ascii_lower)
                    {
                        set.insert(ascii);
                    }
                }
                Kind::SameHandle | Kind::Email | Kind::Website => {
                    set.insert(p.key.clone());
                }
                Kind::ContactHandle => {
                    if let Some(&network) = NETWORKS.iter().find(|n| **n == subject.network) {
                        handles.entry(network).or_default().insert(p.key.clone());
                    }
                }
            }
        }
    }
    let mut keys: BTreeMap<Kind, Vec<String>> = keys
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.into_iter().collect()))
        .collect();
    let mut parts = Vec::new();
    let mut part = |columns: String, from: &str, expr: &str, values: Vec<String>| {
        parts.push(Part {
            columns,
            from: from.to_string(),
            expr: expr.to_string(),
            values,
        })
    };
    if let Some(v) = keys.remove(&Kind::Email) {
        part(columns("e", "id", "email", ""), "contacts", "email", v);
    }
    if let Some(v) = keys.remove(&Kind::Phone) {
        part(columns("p", "id", "phone", ""), "contacts", "phone", v);
    }
    if let Some(v) = keys.remove(&Kind::Website) {
        part(columns("w", "id", "website", ""), "contacts", "website", v);
    }
    if let Some(v) = keys.remove(&Kind::OrderReference) {
        let (refs, ids) = (
            columns("r", "contact_id", "reference", ""),
            columns("r", "contact_id", "external_id", ""),
        );
        part(refs, "transactions", "reference", v.clone());
        part(ids, "transactions", "external_id", v);
    }
    if let Some(v) = keys.remove(&Kind::Name) {
        part(columns("m", "id", "name", ""), "contacts", "lower(name)", v);
    }
    for (network, values) in handles {
        // The expression migration 0004 indexes; `network` is one of NETWORKS.
        let expr = match db.backend() {
            Backend::Sqlite => format!("json_extract(handles, '$.{network}')"),
            Backend::Postgres => format!("(handles::jsonb ->> '{network}')"),
        };
        part(
            columns("h", "id", &expr, network),
            "contacts",
            &expr,
            values.into_iter().collect(),
        );
    }
    if let Some(v) = keys.remove(&Kind::SameHandle) {
        // The status is checked below, not in SQL: a condition on it would
        // lead the planners to the status index, that is every confirmed link.
        let from = match db.backend() {
            Backend::Sqlite => "identity_resolution r JOIN identity_links l ON l.identity_id = r.identity_id",
            Backend::Postgres => {
                "identity_resolution r CROSS JOIN LATERAL (SELECT contact_id, status FROM identity_links \
                 WHERE identity_id = r.identity_id OFFSET 0) AS l"
            }
        };
        part(
            "CAST('s' AS TEXT) AS k, l.contact_id AS id, r.handle_key AS v, r.identity_id AS x, r.network AS n, \
             l.status AS st"
                .into(),
            from,
            "r.handle_key",
            v,
        );
    }

    let mut m = Matches::default();
    for row in fetch_union(db, parts).await? {
        let (tag, id): (String, i64) = (row.try_get("k")?, row.try_get("id")?);
        let Some(value) = row.try_get::<Option<String>, _>("v")? else {
            continue;
        };
        match tag.as_str() {
            "e" => m.add(Kind::Email, value, id),
            "p" => m.add(Kind::Phone, digits_of(&value), id),
            "w" => m.add(Kind::Website, value, id),
            "r" => m.add(Kind::OrderReference, value.to_uppercase(), id),
            "m" => {
                if let Some(key) = name_key(&value, full_lower) {
                    m.add(Kind::Name, key, id);
                }
            }
            "h" => {
                let network: String = row.try_get("n")?;
                m.add(Kind::ContactHandle, format!("{network}\n{value}"), id);
            }
            "s" if row.try_get::<String, _>("st")? == Status::Confirmed.as_str() => m
                .same_handle
                .entry(value)
                .or_default()
                .push((id, row.try_get("x")?, row.try_get("n")?)),
            _ => {}
        }
    }
    Ok(m)
}

/// The candidates of one identity from its probes and what they matched.
fn candidates(subject: &Subject, probes: &[Probe], m: &Matches) -> Vec<Candidate> {
    let mut out = Vec::new();
    for p in probes {
        // (contact, source) pairs this probe points at.
        let found: Vec<(i64, String)> = match p.kind {
            Kind::SameHandle => {
                let mut seen = BTreeMap::new();
                for (contact, identity, network) in m.same_handle.get(&p.key).into_iter().flatten() {
                    if *network != subject.network && *identity != subject.id {
                        seen.entry(*contact).or_insert_with(|| format!("identity:{identity}"));
                    }
                }
                seen.into_iter().collect()
            }
            kind => {
                let key = match kind {
                    Kind::Phone => digits_of(&p.key),
                    Kind::OrderReference => p.key.to_uppercase(),
                    Kind::ContactHandle => format!("{}\n{}", subject.network, p.key),
                    _ => p.key.clone(),
                };
                m.by_kind
                    .get(&(kind, key))
                    .into_iter()
                    .flatten()
                    .map(|c| (*c, p.source.clone()))
                    .collect()
            }
        };
        let k = found.len();
        if k == 0 || k > MAX_MATCHES {
            continue;
        }
        for (contact_id, source) in found {
            let evidence = Evidence {
                kind: p.kind.as_str().to_string(),
                value: p.shown.clone(),
                source,
                weight: p.weight,
                ambiguous: false,
                matches: None,
            };
            let (evidence, verified) = match (p.verified, k) {
                (true, 1) => (evidence, true),
                (true, _) => (ambiguous(evidence, weight::AMBIGUOUS, k), false),
                (false, 1) => (evidence, false),
                (false, _) => (ambiguous(evidence, p.weight, k), false),
            };
            out.push(Candidate {
                contact_id,
                evidence,
                verified,
            });
        }
    }
    out
}

/// Links the authors of the posts `post_ids` to contacts: confirmed on
/// verified evidence, proposed otherwise (see the module documentation).
/// Called after each committed page with its new posts; calling it again on
/// the same posts changes nothing.
pub async fn resolve(db: &Db, post_ids: &[i64]) -> Result<ResolveReport, IdentityError> {
    let mut report = ResolveReport::default();
    if post_ids.is_empty() {
        return Ok(report);
    }
    let mut post_ids = post_ids.to_vec();
    post_ids.sort_unstable();
    post_ids.dedup();
    let ((subjects, posts), version) = tokio::try_join!(load_subjects(db, &post_ids), crm_version(db))?;
    report.posts = posts;
    resolve_subjects(db, subjects, version, report).await
}

/// [`resolve`] for the authors of posts just committed, as the commit knew
/// them: nothing is read back but what `resolved` does not know of them.
pub async fn resolve_new(
    db: &Db,
    authors: Vec<NewAuthor>,
    resolved: &Resolved,
) -> Result<ResolveReport, IdentityError> {
    let mut report = ResolveReport::default();
    // One subject per identity: its last profile, all its posts.
    let mut subjects: BTreeMap<i64, Subject> = BTreeMap::new();
    for author in authors {
        report.posts += author.posts.len();
        let mut subject = Subject::from(author);
        if let Some(earlier) = subjects.remove(&subject.id) {
            let mut posts = earlier.posts;
            posts.append(&mut subject.posts);
            subject.posts = posts;
        }
        subjects.insert(subject.id, subject);
    }
    if subjects.is_empty() {
        return Ok(report);
    }
    let mut unknown = Vec::new();
    for subject in subjects.values_mut() {
        match resolved.get(subject.id) {
            Some((fingerprint, version)) => {
                subject.stored_fingerprint = Some(fingerprint);
                subject.stored_version = Some(version);
            }
            None => unknown.push(subject.id),
        }
    }
    let (stored, version) = tokio::try_join!(stored_resolutions(db, &unknown), crm_version(db))?;
    for (id, fingerprint, stored_version) in stored {
        if let Some(subject) = subjects.get_mut(&id) {
            subject.stored_fingerprint = Some(fingerprint);
            subject.stored_version = Some(stored_version);
        }
    }
    let subjects: Vec<Subject> = subjects.into_values().collect();
    // Once resolved, every subject's profile is resolved at `version`.
    let fingerprints = subjects.iter().map(|s| (s.id, s.fingerprint())).collect();
    let report = resolve_subjects(db, subjects, version, report).await?;
    resolved.record(fingerprints, version);
    Ok(report)
}

/// What was last resolved of `identities`: (identity, fingerprint, CRM version).
async fn stored_resolutions(db: &Db, identities: &[i64]) -> Result<Vec<(i64, String, i64)>, sqlx::Error> {
    let mut out = Vec::with_capacity(identities.len());
    for chunk in identities.chunks(CHUNK) {
        let sql = format!(
            "SELECT identity_id, fingerprint, crm_version FROM identity_resolution WHERE identity_id IN ({})",
            params(1, chunk.len())
        );
        let mut query = sqlx::query(db.backend().sql(sql)).persistent(keep_prepared(db));
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(db.pool()).await? {
            out.push((
                row.try_get("identity_id")?,
                row.try_get("fingerprint")?,
                row.try_get("crm_version")?,
            ));
        }
    }
    Ok(out)
}

/// Resolves `subjects` (with what was last resolved of them) against the
/// CRM at `version`.
async fn resolve_subjects(
    db: &Db,
    subjects: Vec<Subject>,
    version: i64,
    mut report: ResolveReport,
) -> Result<ResolveReport, IdentityError> {
    report.identities = subjects.len();

    let mut work = Vec::new();
    for subject in subjects {
        let fingerprint = subject.fingerprint();
        let changed =
            subject.stored_fingerprint.as_ref() != Some(&fingerprint) || subject.stored_version != Some(version);
        let mut probes = Vec::new();
        if changed {
            subject.profile_probes(&mut probes);
        }
        for (post_id, text) in &subject.posts {
            text_probes(text, &format!("post:{post_id}"), true, &mut probes);
        }
        if !changed && probes.is_empty() {
            report.skipped += 1;
            continue;
        }
        // The fingerprint is recorded again only where it changed: an author
        // posting again is not rewritten.
        work.push((subject, changed.then_some(fingerprint), probes));
    }
    if work.is_empty() {
        return Ok(report);
    }

    // Without contacts and transactions (version 0) nothing can match; the
    // fingerprints are still written, and an import changes the version.
    let matches = if version == 0 {
        Matches::default()
    } else {
        look_up(db, &work).await?
    };
    let found: Vec<(i64, Vec<Candidate>)> = work
        .iter()
        .map(|(subject, _, probes)| (subject.id, candidates(subject, probes, &matches)))
        .filter(|(_, c)| !c.is_empty())
        .collect();
    let resolved: Vec<_> = work
        .iter()
        .filter_map(|(subject, fingerprint, _)| Some((subject, fingerprint.as_ref()?)))
        .collect();
    if resolved.is_empty() && found.is_empty() {
        return Ok(report);
    }

    let mut tx = db.begin().await?;
    // Written first: on SQLite this takes the write lock before anything is read.
    let now = now_ms();
    for chunk in resolved.chunks(CHUNK / 6) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|r| format!("({})", params(r * 6 + 1, 6)))
            .collect();
        let sql = format!(
            "INSERT INTO identity_resolution (identity_id, fingerprint, network, handle_key, crm_version, \
             resolved_at) VALUES {} ON CONFLICT (identity_id) DO UPDATE SET fingerprint = excluded.fingerprint, \
             network = excluded.network, handle_key = excluded.handle_key, crm_version = excluded.crm_version, \
             resolved_at = excluded.resolved_at",
            rows.join(", ")
        );
        let mut query = sqlx::query(db.backend().sql(sql)).persistent(keep_prepared(db));
        for (subject, fingerprint) in chunk {
            query = query
                .bind(subject.id)
                .bind(fingerprint.as_str())
                .bind(subject.network.as_str())
                .bind(handle_key(&subject.handle))
                .bind(version)
                .bind(now);
        }
        query.execute(&mut *tx).await?;
    }
    if !found.is_empty() {
        let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
        let mut existing = existing_links(&mut tx, db.backend(), &ids).await?;
        for (identity_id, candidates) in found {
            let links = existing.remove(&identity_id).unwrap_or_default();
            for p in plan(&links, candidates) {
                apply(&mut tx, identity_id, &p, now, &mut report).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(report)
}

/// Identities re-resolved per round of [`catch_up`].
const CATCH_UP_BATCH: usize = 500;

/// Resolves again every identity last resolved against an older state of the
/// CRM (or never): after an import, authors seen before it are linked without
/// waiting for their next post. Walks identities in id order, so it ends.
pub async fn catch_up(db: &Db) -> Result<ResolveReport, IdentityError> {
    let version = crm_version(db).await?;
    let mut total = ResolveReport::default();
    let mut after = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT i.id FROM identities i LEFT JOIN identity_resolution r ON r.identity_id = i.id \
             WHERE i.id > $1 AND (r.identity_id IS NULL OR r.crm_version < $2) ORDER BY i.id LIMIT $3",
        )
        .bind(after)
        .bind(version)
        .bind(CATCH_UP_BATCH as i64)
        .fetch_all(db.pool())
        .await?;
        let Some(last) = rows.last() else {
            return Ok(total);
        };
        after = last.try_get("id")?;
        let ids = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("id"))
            .collect::<Result<Vec<_>, _>>()?;
        let sql = format!("SELECT id FROM posts WHERE identity_id IN ({})", params(1, ids.len()));
        let mut query = sqlx::query(db.backend().sql(sql));
        for id in &ids {
            query = query.bind(*id);
        }
        let posts = query
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| r.try_get::<i64, _>("id"))
            .collect::<Result<Vec<_>, _>>()?;
        let report = resolve(db, &posts).await?;
        total.posts += report.posts;
        total.identities += report.identities;
        total.skipped += report.skipped;
        total.confirmed += report.confirmed;
        total.proposed += report.proposed;
        total.updated += report.updated;
    }
}

/// The links of `identities`, by identity.
async fn existing_links(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    identities: &[i64],
) -> Result<HashMap<i64, Vec<Existing>>, sqlx::Error> {
    let mut out: HashMap<i64, Vec<Existing>> = HashMap::new();
    for chunk in identities.chunks(CHUNK) {
        let columns = "id, identity_id, contact_id, status, evidence";
        let sql = lookup_sql(backend, columns, "identity_links", "identity_id", 1, chunk.len(), "");
        let mut query = sqlx::query(backend.sql(sql)).persistent(backend == Backend::Sqlite);
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut **tx).await? {
            let Some(status) = Status::parse(&row.try_get::<String, _>("status")?) else {
                continue;
            };
            out.entry(row.try_get("identity_id")?).or_default().push(Existing {
                id: row.try_get("id")?,
                contact_id: row.try_get("contact_id")?,
                status,
                evidence: parse_evidence(&row.try_get::<String, _>("evidence")?),
            });
        }
    }
    Ok(out)
}

fn parse_evidence(json: &str) -> Vec<Evidence> {
    serde_json::from_str(json).unwrap_or_default()
}

fn evidence_json(evidence: &[Evidence]) -> String {
    serde_json::to_string(evidence).unwrap_or_else(|_| "[]".into())
}

fn subject(link_id: i64) -> String {
    format!("identity_link:{link_id}")
}

/// Writes one planned change and its audit entry. A row another resolver
/// wrote or changed meanwhile is left to it.
async fn apply(
    tx: &mut Transaction<'static, Any>,
    identity_id: i64,
    plan: &Plan,
    now: i64,
    report: &mut ResolveReport,
) -> Result<(), sqlx::Error> {
    match plan {
        Plan::Insert {
            contact_id,
            status,
            method,
            confidence,
            evidence,
        } => {
            let decided = *status == Status::Confirmed;
            let row = sqlx::query(
                "INSERT INTO identity_links (identity_id, contact_id, method, confidence, evidence, status, \
                 decided_by, decided_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (identity_id, contact_id) DO NOTHING RETURNING id",
            )
            .bind(identity_id)
            .bind(*contact_id)
            .bind(method.as_str())
            .bind(*confidence)
            .bind(evidence_json(evidence))
            .bind(status.as_str())
            .bind(decided.then_some(RESOLVER))
            .bind(decided.then_some(now))
            .bind(now)
            .bind(now)
            .fetch_optional(&mut **tx)
            .await?;
            let Some(row) = row else {
                return Ok(());
            };
            let id: i64 = row.try_get("id")?;
            let action = if decided {
                report.confirmed += 1;
                "identity.auto-confirm"
            } else {
                report.proposed += 1;
                "identity.propose"
            };
            let details = json!({
                "identity_id": identity_id, "contact_id": contact_id, "to": status.as_str(),
                "method": method, "confidence": confidence, "evidence": evidence,
            });
            audit(&mut **tx, RESOLVER, action, &subject(id), &details).await?;
        }
        Plan::Update {
            link_id,
            contact_id,
            from,
            to,
            method,
            confidence,
            evidence,
        } => {
            let decided = *to == Status::Confirmed;
            let done = sqlx::query(
                "UPDATE identity_links SET status = $1, method = $2, confidence = $3, evidence = $4, \
                 decided_by = CASE WHEN $5 = 1 THEN $6 ELSE decided_by END, \
                 decided_at = CASE WHEN $7 = 1 THEN $8 ELSE decided_at END, updated_at = $9 \
                 WHERE id = $10 AND status = $11",
            )
            .bind(to.as_str())
            .bind(method.as_str())
            .bind(*confidence)
            .bind(evidence_json(evidence))
            .bind(i64::from(decided))
            .bind(RESOLVER)
            .bind(i64::from(decided))
            .bind(now)
            .bind(now)
            .bind(*link_id)
            .bind(from.as_str())
            .execute(&mut **tx)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(());
            }
            let action = match (from, to) {
                (_, Status::Confirmed) => {
                    report.confirmed += 1;
                    "identity.auto-confirm"
                }
                (Status::Rejected, _) => {
                    report.proposed += 1;
                    "identity.propose"
                }
                _ => {
                    report.updated += 1;
                    "identity.evidence"
                }
            };
            let details = json!({
                "identity_id": identity_id, "contact_id": contact_id, "from": from.as_str(), "to": to.as_str(),
                "method": method, "confidence": confidence, "evidence": evidence,
            });
            audit(&mut **tx, RESOLVER, action, &subject(*link_id), &details).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, value: &str, weight: f64) -> Evidence {
        Evidence {
            kind: kind.into(),
            value: value.into(),
            source: "bio".into(),
            weight,
            ambiguous: false,
            matches: None,
        }
    }

    fn cand(contact_id: i64, e: Evidence, verified: bool) -> Candidate {
        Candidate {
            contact_id,
            evidence: e,
            verified,
        }
    }

    #[test]
    fn scores_as_noisy_or() {
        assert_eq!(proposal_confidence(&[ev("name", "a", 0.5)]), 0.5);
        assert_eq!(
            proposal_confidence(&[ev("name", "a", 0.5), ev("same-handle", "a", 0.5)]),
            0.75
        );
        assert_eq!(proposal_confidence(&[ev("email", "a", 1.0)]), weight::MAX_PROPOSAL);
        assert_eq!(
            method_of(&[ev("name", "a", 0.2), ev("same-handle", "a", 0.5)]),
            "same-handle"
        );
    }

    #[test]
    fn plans_follow_the_rules() {
        // One verified contact: confirmed.
        let plans = plan(&[], vec![cand(1, ev("email", "a@x.example", 1.0), true)]);
        assert!(matches!(
            &plans[..],
            [Plan::Insert {
                contact_id: 1,
                status: Status::Confirmed,
                ..
            }]
        ));

        // Two contacts by verified evidence: a proposal for each, ambiguous.
        let plans = plan(
            &[],
            vec![
                cand(1, ev("email", "a@x.example", 1.0), true),
                cand(2, ev("order-reference", "A-1", 1.0), true),
            ],
        );
        assert_eq!(plans.len(), 2);
        for p in &plans {
            let Plan::Insert {
                status,
                evidence,
                confidence,
                ..
            } = p
            else {
                panic!("an insert");
            };
            assert_eq!(*status, Status::Proposed);
            assert!(evidence[0].ambiguous);
            assert_eq!(*confidence, 0.45);
        }

        // Confirmed elsewhere: weaker evidence is dropped.
        let confirmed = Existing {
            id: 9,
            contact_id: 1,
            status: Status::Confirmed,
            evidence: vec![],
        };
        assert!(
            plan(
                std::slice::from_ref(&confirmed),
                vec![cand(2, ev("name", "A B", 0.5), false)]
            )
            .is_empty()
        );
        // ...but verified evidence for another contact is a proposal.
        let plans = plan(&[confirmed], vec![cand(2, ev("email", "b@x.example", 1.0), true)]);
        assert!(matches!(
            &plans[..],
            [Plan::Insert {
                contact_id: 2,
                status: Status::Proposed,
                ..
            }]
        ));

        // Rejected: the same evidence does nothing; new evidence re-proposes, never confirms.
        let rejected = Existing {
            id: 5,
            contact_id: 1,
            status: Status::Rejected,
            evidence: vec![ev("email", "a@x.example", 1.0)],
        };
        assert!(
            plan(
                std::slice::from_ref(&rejected),
                vec![cand(1, ev("email", "a@x.example", 1.0), true)]
            )
            .is_empty()
        );
        let plans = plan(&[rejected], vec![cand(1, ev("phone", "+15550102030", 1.0), true)]);
        assert!(matches!(
            &plans[..],
            [Plan::Update {
                link_id: 5,
                from: Status::Rejected,
                to: Status::Proposed,
                ..
            }]
        ));

        // A proposal confirmed when verified evidence arrives.
        let proposed = Existing {
            id: 6,
            contact_id: 1,
            status: Status::Proposed,
            evidence: vec![ev("name", "A B", 0.5)],
        };
        let plans = plan(&[proposed], vec![cand(1, ev("email", "a@x.example", 1.0), true)]);
        let [
            Plan::Update {
                to: Status::Confirmed,
                evidence,
                method,
                ..
            },
        ] = &plans[..]
        else {
            panic!("a confirmation: {plans:?}");
        };
        assert_eq!((evidence.len(), method.as_str()), (2, "email"));
    }
}
