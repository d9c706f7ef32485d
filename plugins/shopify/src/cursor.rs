//! The cursor the host keeps between pulls: which pass and phase a sync is
//! in, where in that phase's connection it stopped, and since when changes
//! are read.

use serde::{Deserialize, Serialize};
use socialcrm_sdk::PluginError;

/// One pass reads customers, then orders, then deleted customers, each
/// through its own connection's cursor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    #[default]
    Customers,
    Orders,
    Deletions,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub phase: Phase,
    /// The connection's `endCursor` to continue after; `None` at a phase's start.
    #[serde(default)]
    pub after: Option<String>,
    /// Read what changed at or after this time (RFC 3339); `None`: everything
    /// (the first pass).
    #[serde(default)]
    pub since: Option<String>,
    /// When this pass started: the next pass's `since`.
    #[serde(default)]
    pub started: String,
}

impl Cursor {
    /// The cursor the host committed (empty before the first pull); a pass
    /// that starts now is stamped `now`.
    pub fn parse(text: &str, now: &str) -> Result<Cursor, PluginError> {
        let mut cursor: Cursor = if text.is_empty() {
            Cursor::default()
        } else {
            serde_json::from_str(text)
                .map_err(|e| PluginError::Permanent(format!("unreadable cursor `{text}`: {e}")))?
        };
        if cursor.started.is_empty() {
            cursor.started = now.to_string();
        }
        Ok(cursor)
    }

    pub fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The next phase of this pass, from its start.
    pub fn next_phase(&self, phase: Phase) -> Cursor {
        Cursor {
            phase,
            after: None,
            ..self.clone()
        }
    }

    /// The next pass: changes since this one started.
    pub fn next_pass(&self) -> Cursor {
        Cursor {
            phase: Phase::Customers,
            after: None,
            since: Some(self.started.clone()),
            started: String::new(),
        }
    }

    /// The search query of a phase's connection: changes since `since`.
    pub fn search(&self, field: &str) -> Option<String> {
        self.since.as_ref().map(|s| format!("{field}:>='{s}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_walks_the_phases_then_reads_changes_since_it_started() {
        let first = Cursor::parse("", "2026-01-01T00:00:00Z").unwrap();
        assert_eq!((first.phase, first.since.as_deref()), (Phase::Customers, None));
        let orders = first.next_phase(Phase::Orders);
        let back = Cursor::parse(&orders.text(), "later").unwrap();
        assert_eq!(back, orders);
        let next = Cursor::parse(&back.next_pass().text(), "2026-01-02T00:00:00Z").unwrap();
        assert_eq!(next.started, "2026-01-02T00:00:00Z");
        assert_eq!(
            next.search("updated_at").as_deref(),
            Some("updated_at:>='2026-01-01T00:00:00Z'")
        );
        assert!(Cursor::parse("{not json", "x").is_err());
    }
}
