//! Probes: what to look up for one identity (its profile and new posts), and
//! where each was found.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::contact::{self, NETWORKS};
use super::extract::{
    extract_emails, extract_order_references, extract_phones, extract_websites, full_lower, handle_key, handle_name,
    name_key, profile_website, valid_host,
};
use super::{RULES_VERSION, weight};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Kind {
    Email,
    Phone,
    OrderReference,
    Website,
    ContactHandle,
    SameHandle,
    Name,
}

impl Kind {
    pub(super) fn as_str(self) -> &'static str {
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
pub(super) struct Probe {
    pub(super) kind: Kind,
    /// The lookup key (normalized).
    pub(super) key: String,
    /// The evidence value shown to a reviewer.
    pub(super) shown: String,
    pub(super) source: String,
    /// Verified: confirms when it matches one contact; otherwise its weight.
    pub(super) verified: bool,
    pub(super) weight: f64,
}

impl Probe {
    pub(super) fn strong(kind: Kind, key: String, source: &str) -> Probe {
        Probe {
            kind,
            shown: key.clone(),
            key,
            source: source.to_string(),
            verified: true,
            weight: 1.0,
        }
    }

    pub(super) fn weak(kind: Kind, key: String, shown: &str, source: &str, weight: f64) -> Probe {
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
pub(super) fn text_probes(text: &str, source: &str, in_post: bool, out: &mut Vec<Probe>) {
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
pub(super) struct Field {
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) value: String,
    /// The network verified it (WIT `verification`, since 1.2).
    #[serde(default)]
    pub(super) verified: bool,
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
pub(super) const RESOLVED_CAP: usize = 100_000;

/// What [`resolve_new`] resolved lately: identity → (profile fingerprint, CRM
/// version). That a profile was resolved against a version of the CRM stays
/// true whoever resolves it again later, so an author posting again is
/// skipped without reading its `identity_resolution` row.
#[derive(Debug, Default)]
pub struct Resolved(Mutex<HashMap<i64, (String, i64)>>);

impl Resolved {
    pub(super) fn get(&self, identity: i64) -> Option<(String, i64)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&identity).cloned()
    }

    pub(super) fn record(&self, entries: Vec<(i64, String)>, version: i64) {
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
pub(super) struct Subject {
    pub(super) id: i64,
    pub(super) network: String,
    pub(super) handle: String,
    pub(super) display_name: Option<String>,
    pub(super) profile_url: Option<String>,
    pub(super) bio: Option<String>,
    pub(super) fields: String,
    pub(super) stored_fingerprint: Option<String>,
    pub(super) stored_version: Option<i64>,
    /// (post id, text) of its new inbound posts.
    pub(super) posts: Vec<(i64, String)>,
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
    pub(super) fn fingerprint(&self) -> String {
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
    pub(super) fn profile_probes(&self, out: &mut Vec<Probe>) {
        if let Some(name) = &self.display_name {
            text_probes(name, "display_name", false, out);
        }
        if let Some(bio) = &self.bio {
            text_probes(bio, "bio", false, out);
        }
        for field in serde_json::from_str::<Vec<Field>>(&self.fields).unwrap_or_default() {
            text_probes(&field.value, &format!("field:{}", field.name), false, out);
            // Of a verified field only its website is proven (a link back to
            // the profile, a domain handle), or its phone number when the
            // field is the number the network knows the user by (WhatsApp's
            // sender); the rest of its text is a claim.
            if field.verified {
                let source = format!("verified-field:{}", field.name);
                for w in extract_websites(&field.value) {
                    out.push(Probe::strong(Kind::Website, w, &source));
                }
                if field.name == "phone" {
                    for phone in extract_phones(&field.value) {
                        out.push(Probe::strong(Kind::Phone, phone, &source));
                    }
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

pub(super) fn url_host(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    let rest = lower.split_once("://")?.1;
    let host = rest.split(['/', '?', '#', ':']).next()?;
    valid_host(host).then(|| host.to_string())
}
