//! Lookups: what to look up for a batch of identities (one batched query,
//! `store::identity::look_up`), and the candidates each identity's probes found.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::contact::NETWORKS;
use super::extract::{ascii_lower, full_lower, name_key};
use super::plan::{Candidate, Status, ambiguous};
use super::probes::{Kind, Probe, Subject};
use super::{Evidence, MAX_MATCHES, weight};
use crate::store::Db;
use crate::store::identity::{self as store, Found, Lookup};

/// Contacts by lookup key, per kind; same-handle keys also carry the other identity.
#[derive(Default)]
pub(super) struct Matches {
    pub(super) by_kind: HashMap<(Kind, String), BTreeSet<i64>>,
    /// key → (contact, identity id, network) of confirmed links.
    pub(super) same_handle: HashMap<String, Vec<(i64, i64, String)>>,
}

impl Matches {
    fn add(&mut self, kind: Kind, key: String, contact: i64) {
        self.by_kind.entry((kind, key)).or_default().insert(contact);
    }
}

pub(super) fn digits_of(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// Looks every probe up in one query (a part per kind), all by indexed equality.
pub(super) async fn look_up(db: &Db, work: &[(Subject, Option<String>, Vec<Probe>)]) -> Result<Matches, sqlx::Error> {
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
    let mut take =
        |kind: Kind| -> Vec<String> { keys.remove(&kind).map(|v| v.into_iter().collect()).unwrap_or_default() };
    let lookup = Lookup {
        emails: take(Kind::Email),
        phones: take(Kind::Phone),
        websites: take(Kind::Website),
        order_references: take(Kind::OrderReference),
        names: take(Kind::Name),
        handles: handles.into_iter().map(|(n, v)| (n, v.into_iter().collect())).collect(),
        handle_keys: take(Kind::SameHandle),
    };

    let mut m = Matches::default();
    for found in store::look_up(db, lookup).await? {
        let (id, value) = (found.contact_id, found.value);
        match found.found {
            Found::Email => m.add(Kind::Email, value, id),
            Found::Phone => m.add(Kind::Phone, digits_of(&value), id),
            Found::Website => m.add(Kind::Website, value, id),
            Found::OrderReference => m.add(Kind::OrderReference, value.to_uppercase(), id),
            Found::Name => {
                if let Some(key) = name_key(&value, full_lower) {
                    m.add(Kind::Name, key, id);
                }
            }
            Found::Handle { network } => m.add(Kind::ContactHandle, format!("{network}\n{value}"), id),
            Found::SameHandle {
                identity_id,
                network,
                status,
            } if status == Status::Confirmed.as_str() => {
                m.same_handle.entry(value).or_default().push((id, identity_id, network))
            }
            Found::SameHandle { .. } => {}
        }
    }
    Ok(m)
}

/// The candidates of one identity from its probes and what they matched.
pub(super) fn candidates(subject: &Subject, probes: &[Probe], m: &Matches) -> Vec<Candidate> {
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
