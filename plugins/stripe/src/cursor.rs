//! The cursor the host keeps between pulls: which pass and phase a sync is
//! in, the id to continue after (`starting_after`), and since when changes
//! are read.

use serde::{Deserialize, Serialize};
use socialcrm_sdk::PluginError;

/// Changes are read from this long before the previous pass started:
/// Stripe's clock and the host's differ, and a record read twice is harmless.
pub const OVERLAP_SECS: i64 = 300;
/// Stripe lists events of the last 30 days; a pass that would need older
/// ones reads everything instead (an hour of margin).
pub const EVENTS_KEPT_SECS: i64 = 30 * 86_400 - 3_600;

/// One pass reads customers, then payments, refunds, invoices, and (after
/// the first pass) deleted customers, each through its own list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    #[default]
    Customers,
    Payments,
    Refunds,
    Invoices,
    Deletions,
}

impl Phase {
    /// The phase after this one; `None` after the last.
    pub fn next(self, full: bool) -> Option<Phase> {
        match self {
            Phase::Customers => Some(Phase::Payments),
            Phase::Payments => Some(Phase::Refunds),
            Phase::Refunds => Some(Phase::Invoices),
            // A full pass has nothing deleted since it.
            Phase::Invoices if full => None,
            Phase::Invoices => Some(Phase::Deletions),
            Phase::Deletions => None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub phase: Phase,
    /// The id of the last object read in the phase's list (`starting_after`);
    /// `None` at a phase's start.
    #[serde(default)]
    pub after: Option<String>,
    /// Read what changed after this time (Unix seconds); `None`: everything
    /// (a full pass).
    #[serde(default)]
    pub since: Option<i64>,
    /// When this pass started (Unix seconds); 0 until it does.
    #[serde(default)]
    pub started: i64,
}

impl Cursor {
    /// The cursor the host committed (empty before the first pull); a pass
    /// that starts `now` is stamped with it, and becomes a full pass when the
    /// events it would read are no longer kept.
    pub fn parse(text: &str, now: i64) -> Result<Cursor, PluginError> {
        let mut cursor: Cursor = if text.is_empty() {
            Cursor::default()
        } else {
            serde_json::from_str(text)
                .map_err(|e| PluginError::Permanent(format!("unreadable cursor `{text}`: {e}")))?
        };
        if cursor.started == 0 {
            cursor.started = now;
            if cursor.since.is_some_and(|since| now - since > EVENTS_KEPT_SECS) {
                cursor.since = None;
            }
        }
        Ok(cursor)
    }

    pub fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn full(&self) -> bool {
        self.since.is_none()
    }

    /// Where the next pull goes when this phase's list is done: the next
    /// phase, or the next pass (changes since this one started).
    pub fn after_phase(&self) -> Cursor {
        match self.phase.next(self.full()) {
            Some(phase) => Cursor {
                phase,
                after: None,
                ..self.clone()
            },
            None => Cursor {
                phase: Phase::Customers,
                after: None,
                since: Some(self.started - OVERLAP_SECS),
                started: 0,
            },
        }
    }

    /// The same phase, after object `id`.
    pub fn after(&self, id: String) -> Cursor {
        Cursor {
            after: Some(id),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_pass_walks_the_phases_then_reads_changes_since_it_started() {
        let first = Cursor::parse("", 1_000_000).unwrap();
        assert_eq!(
            (first.phase, first.since, first.started),
            (Phase::Customers, None, 1_000_000)
        );
        let page = first.after("cus_1".into());
        assert_eq!(Cursor::parse(&page.text(), 2_000_000).unwrap(), page);
        let invoices = page.after_phase().after_phase().after_phase();
        assert_eq!((invoices.phase, invoices.after.as_deref()), (Phase::Invoices, None));
        // The full pass skips the deletions: the next pass starts.
        let next = Cursor::parse(&invoices.after_phase().text(), 1_000_600).unwrap();
        assert_eq!(next.phase, Phase::Customers);
        assert_eq!((next.since, next.started), (Some(1_000_000 - OVERLAP_SECS), 1_000_600));
        let deletions = next.after_phase().after_phase().after_phase().after_phase();
        assert_eq!(deletions.phase, Phase::Deletions);
        assert_eq!(deletions.after_phase().since, Some(1_000_600 - OVERLAP_SECS));
        assert!(Cursor::parse("{not json", 1).is_err());
    }

    #[test]
    fn a_pass_after_the_events_expired_reads_everything() {
        let stale = Cursor {
            since: Some(1_000),
            ..Cursor::default()
        };
        let pass = Cursor::parse(&stale.text(), 1_000 + EVENTS_KEPT_SECS + 1).unwrap();
        assert!(pass.full());
        let fresh = Cursor::parse(&stale.text(), 1_000 + EVENTS_KEPT_SECS).unwrap();
        assert_eq!(fresh.since, Some(1_000));
    }
}
