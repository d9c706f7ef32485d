//! The decision, pure: from the links an identity has and the candidates its
//! evidence found, what to insert or change (the rules are in `mod.rs`).

use std::collections::{BTreeMap, BTreeSet};

use super::{Evidence, weight};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Status {
    Proposed,
    Confirmed,
    Rejected,
}

impl Status {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Status::Proposed => "proposed",
            Status::Confirmed => "confirmed",
            Status::Rejected => "rejected",
        }
    }

    pub(super) fn parse(s: &str) -> Option<Status> {
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
pub(super) struct Existing {
    pub(super) id: i64,
    pub(super) contact_id: i64,
    pub(super) status: Status,
    pub(super) evidence: Vec<Evidence>,
}

/// Evidence for one contact.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Candidate {
    pub(super) contact_id: i64,
    pub(super) evidence: Evidence,
    /// Verified and matching this contact only.
    pub(super) verified: bool,
}

/// A change to make.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Plan {
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
pub(super) fn proposal_confidence(evidence: &[Evidence]) -> f64 {
    let miss: f64 = evidence.iter().map(|e| 1.0 - e.weight.clamp(0.0, 1.0)).product();
    let c = (1.0 - miss).clamp(weight::MIN_PROPOSAL, weight::MAX_PROPOSAL);
    (c * 1000.0).round() / 1000.0
}

/// The method of a link: the kind of its strongest evidence (the first on a tie).
pub(super) fn method_of(evidence: &[Evidence]) -> String {
    evidence
        .iter()
        .fold(None::<&Evidence>, |best, e| match best {
            Some(b) if b.weight >= e.weight => Some(b),
            _ => Some(e),
        })
        .map_or_else(|| "manual".to_string(), |e| e.kind.clone())
}

/// `stored` with `new` added; a new piece with the key of a stored one replaces it.
pub(super) fn merge(stored: &[Evidence], new: &[Evidence]) -> Vec<Evidence> {
    let mut merged: Vec<Evidence> = stored
        .iter()
        .filter(|s| !new.iter().any(|n| n.key() == s.key()))
        .cloned()
        .collect();
    merged.extend(new.iter().cloned());
    merged
}

pub(super) fn ambiguous(mut e: Evidence, w: f64, k: usize) -> Evidence {
    e.weight = (w / k.max(2) as f64 * 1000.0).round() / 1000.0;
    e.ambiguous = true;
    e.matches = Some(k.max(2));
    e
}

/// What to change for one identity.
pub(super) fn plan(existing: &[Existing], candidates: Vec<Candidate>) -> Vec<Plan> {
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
