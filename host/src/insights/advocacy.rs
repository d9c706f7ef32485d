//! Advocacy: events that earn points, the ledger that keeps them, and the
//! advocates ranking with the evidence behind every score.
//!
//! | event | points | when |
//! |---|---|---|
//! | `positive-mention` | 1 | an inbound post with sentiment ≥ 0.5 or a praise intent ≥ 0.6; at most one per identity and UTC day |
//! | `answered-question` | 3 | a reply to a question post (question intent ≥ 0.5) of another identity; once per question and answerer |
//! | `accepted-answer` | 5 | the asker replies to that answer with thanks (sentiment ≥ 0.3 or praise ≥ 0.5); once per question (the first thanked answer) |
//!
//! Staff never earn points nor count as askers: an identity is staff when it
//! authored an outbound post (the brand's own accounts). Each event has a key
//! (`positive-mention:IDENTITY:DAY`, `answered-question:QUESTION:IDENTITY`,
//! `accepted-answer:QUESTION`), so recording again adds nothing; the ledger
//! is append-only (an event stays earned if a later analysis changes its
//! post's scores). The ranking sums points per contact (across the contact's
//! confirmed identities, as linked now) or per unlinked identity.

use serde::Serialize;

use super::{InsightsError, plural};
use crate::store::insights::advocacy::Rules;
use crate::store::{self, Db};

pub use crate::store::insights::advocacy::AdvocacyEvent;

pub mod points {
    pub const POSITIVE_MENTION: i64 = 1;
    pub const ANSWERED_QUESTION: i64 = 3;
    pub const ACCEPTED_ANSWER: i64 = 5;
}

pub const POSITIVE_SENTIMENT: f64 = 0.5;
pub const PRAISE: f64 = 0.6;
pub const QUESTION: f64 = 0.5;
pub const THANKS_SENTIMENT: f64 = 0.3;
pub const THANKS_PRAISE: f64 = 0.5;

/// The table above, as the statements that record events take it.
pub(crate) const RULES: Rules = Rules {
    positive_sentiment: POSITIVE_SENTIMENT,
    praise: PRAISE,
    question: QUESTION,
    thanks_sentiment: THANKS_SENTIMENT,
    thanks_praise: THANKS_PRAISE,
    positive_mention: points::POSITIVE_MENTION,
    answered_question: points::ANSWERED_QUESTION,
    accepted_answer: points::ACCEPTED_ANSWER,
};

/// An advocate: a contact (all its confirmed identities) or an unlinked identity.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Advocate {
    pub rank: usize,
    pub contact_id: Option<i64>,
    /// The identity, when it is linked to no contact.
    pub identity_id: Option<i64>,
    pub name: String,
    pub points: i64,
    pub explanation: String,
    /// Every event behind the points, newest first.
    pub events: Vec<AdvocacyEvent>,
}

/// `2 accepted answers (+10), 3 answered questions (+9), 1 positive mention (+1)`.
pub fn explain(events: &[AdvocacyEvent]) -> String {
    let kinds = [
        ("accepted-answer", "accepted answer"),
        ("answered-question", "answered question"),
        ("positive-mention", "positive mention"),
    ];
    let parts: Vec<String> = kinds
        .iter()
        .filter_map(|(kind, label)| {
            let of_kind = events.iter().filter(|e| e.kind == *kind);
            let (n, pts) = of_kind.fold((0i64, 0i64), |(n, p), e| (n + 1, p + e.points));
            (n > 0).then(|| format!("{n} {label}{} (+{pts})", plural(n)))
        })
        .collect();
    parts.join(", ")
}

/// The `limit` advocates with the most points from events since `since`
/// (Unix ms), most first (ties: the most recent activity first).
pub async fn advocates(db: &Db, limit: i64, since: i64) -> Result<Vec<Advocate>, InsightsError> {
    let rows = store::insights::advocacy::advocates(db, limit, since).await?;
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| Advocate {
            rank: i + 1,
            contact_id: row.contact_id,
            identity_id: row.identity_id,
            name: row.name,
            points: row.points,
            explanation: explain(&row.events),
            events: row.events,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn event(kind: &str, points: i64) -> AdvocacyEvent {
        AdvocacyEvent {
            id: 1,
            kind: kind.into(),
            post_id: 1,
            identity_id: 1,
            network: "mastodon".into(),
            handle: "a".into(),
            points,
            evidence: Value::Null,
            occurred_at: 0,
        }
    }

    #[test]
    fn explains_points_by_kind() {
        let events = [
            event("positive-mention", points::POSITIVE_MENTION),
            event("answered-question", points::ANSWERED_QUESTION),
            event("accepted-answer", points::ACCEPTED_ANSWER),
            event("answered-question", points::ANSWERED_QUESTION),
        ];
        assert_eq!(
            explain(&events),
            "1 accepted answer (+5), 2 answered questions (+6), 1 positive mention (+1)"
        );
        assert_eq!(explain(&[]), "");
    }
}
