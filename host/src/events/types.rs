//! The event types, what each carries for the subscription filters, and an
//! event as its producer hands it to the outbox.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What happened. The bit of each type is its position here: stored masks
/// depend on it, so new types are added at the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventType {
    /// A post was stored (polled or pushed), once per post.
    #[serde(rename = "post.received")]
    PostReceived,
    /// A stored post was analysed and scored: sentiment, intent, priority.
    #[serde(rename = "post.analyzed")]
    PostAnalyzed,
    #[serde(rename = "identity_link.proposed")]
    IdentityLinkProposed,
    #[serde(rename = "identity_link.confirmed")]
    IdentityLinkConfirmed,
    /// Rejected by a person, or unlinked after being confirmed.
    #[serde(rename = "identity_link.rejected")]
    IdentityLinkRejected,
    /// A new spike alert (once per alert; recomputing it adds none).
    #[serde(rename = "alert.raised")]
    AlertRaised,
    /// A message of the brand (a reply, a response's reply or broadcast) was sent.
    #[serde(rename = "response.sent")]
    ResponseSent,
    /// Sending such a message failed.
    #[serde(rename = "response.failed")]
    ResponseFailed,
    #[serde(rename = "plugin.installed")]
    PluginInstalled,
    /// A newer version was stored: active, or awaiting an admin's approval.
    #[serde(rename = "plugin.upgraded")]
    PluginUpgraded,
    /// A version awaiting approval was approved and made active.
    #[serde(rename = "plugin.approved")]
    PluginApproved,
    /// A person's data was erased (no producer yet).
    #[serde(rename = "subject.erased")]
    SubjectErased,
}

/// An attribute the subscription filters compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attribute {
    Channel,
    Intent,
    Priority,
}

/// Where one event's delivery to one subscription stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// To be tried at `next_attempt_at`.
    Pending,
    Delivered,
    /// Gave up; replay to try again.
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 3] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Delivered,
        DeliveryStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl EventType {
    pub const ALL: [EventType; 12] = [
        EventType::PostReceived,
        EventType::PostAnalyzed,
        EventType::IdentityLinkProposed,
        EventType::IdentityLinkConfirmed,
        EventType::IdentityLinkRejected,
        EventType::AlertRaised,
        EventType::ResponseSent,
        EventType::ResponseFailed,
        EventType::PluginInstalled,
        EventType::PluginUpgraded,
        EventType::PluginApproved,
        EventType::SubjectErased,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PostReceived => "post.received",
            EventType::PostAnalyzed => "post.analyzed",
            EventType::IdentityLinkProposed => "identity_link.proposed",
            EventType::IdentityLinkConfirmed => "identity_link.confirmed",
            EventType::IdentityLinkRejected => "identity_link.rejected",
            EventType::AlertRaised => "alert.raised",
            EventType::ResponseSent => "response.sent",
            EventType::ResponseFailed => "response.failed",
            EventType::PluginInstalled => "plugin.installed",
            EventType::PluginUpgraded => "plugin.upgraded",
            EventType::PluginApproved => "plugin.approved",
            EventType::SubjectErased => "subject.erased",
        }
    }

    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// This type's bit in a mask of wanted types.
    pub fn bit(self) -> i64 {
        1 << (self as u32)
    }

    /// The mask of `types`.
    pub fn mask(types: &[EventType]) -> i64 {
        types.iter().fold(0, |mask, t| mask | t.bit())
    }

    /// The types in `mask`, in order.
    pub fn of_mask(mask: i64) -> Vec<EventType> {
        EventType::ALL.into_iter().filter(|t| mask & t.bit() != 0).collect()
    }

    /// Whether events of this type carry `attribute`: a filter on it applies
    /// to them (and an event without the value does not match), and passes
    /// every event of the other types.
    pub fn carries(self, attribute: Attribute) -> bool {
        use EventType::*;
        match attribute {
            Attribute::Channel => matches!(self, PostReceived | PostAnalyzed | ResponseSent | ResponseFailed),
            Attribute::Intent | Attribute::Priority => self == PostAnalyzed,
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event, as a producer hands it to [`super::Outbox::write`].
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub kind: EventType,
    /// The payload's `data`.
    pub data: Value,
    pub channel: Option<String>,
    pub intent: Option<String>,
    pub priority: Option<f64>,
}

impl Event {
    pub fn new(kind: EventType, data: Value) -> Event {
        Event {
            kind,
            data,
            channel: None,
            intent: None,
            priority: None,
        }
    }

    pub fn channel(mut self, channel: impl Into<String>) -> Event {
        self.channel = Some(channel.into());
        self
    }

    /// Adds the fields of the object `more` to `data` (an audit entry's details, say).
    pub fn with_fields(mut self, more: &Value) -> Event {
        if let (Some(data), Some(more)) = (self.data.as_object_mut(), more.as_object()) {
            data.extend(more.clone());
        }
        self
    }
}

/// What a subscription asks for, as the fan-out compares it with an event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    pub types_mask: i64,
    pub channel: Option<String>,
    pub intent: Option<String>,
    pub min_priority: Option<f64>,
}

impl Filter {
    /// Whether an event of `kind` with these attributes goes to the subscription.
    pub fn matches(&self, kind: EventType, channel: Option<&str>, intent: Option<&str>, priority: Option<f64>) -> bool {
        let applies = |attribute, set: bool| set && kind.carries(attribute);
        self.types_mask & kind.bit() != 0
            && (!applies(Attribute::Channel, self.channel.is_some()) || channel == self.channel.as_deref())
            && (!applies(Attribute::Intent, self.intent.is_some()) || intent == self.intent.as_deref())
            && (!applies(Attribute::Priority, self.min_priority.is_some())
                || priority.zip(self.min_priority).is_some_and(|(p, min)| p >= min))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bits_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            assert_eq!(EventType::of_mask(t.bit()), vec![t]);
        }
        let mask = EventType::mask(&EventType::ALL);
        assert_eq!(mask, (1 << 12) - 1);
        assert_eq!(EventType::parse("post.deleted"), None);
    }

    #[test]
    fn filters_apply_to_the_types_that_carry_their_attribute() {
        let filter = Filter {
            types_mask: EventType::mask(&[EventType::PostAnalyzed, EventType::PluginInstalled]),
            channel: Some("brand".into()),
            intent: Some("complaint".into()),
            min_priority: Some(40.0),
        };
        let analyzed = EventType::PostAnalyzed;
        assert!(filter.matches(analyzed, Some("brand"), Some("complaint"), Some(40.0)));
        assert!(!filter.matches(analyzed, Some("other"), Some("complaint"), Some(50.0)));
        assert!(!filter.matches(analyzed, Some("brand"), Some("praise"), Some(50.0)));
        assert!(!filter.matches(analyzed, Some("brand"), None, Some(50.0)));
        assert!(!filter.matches(analyzed, Some("brand"), Some("complaint"), Some(39.9)));
        assert!(!filter.matches(analyzed, Some("brand"), Some("complaint"), None));
        // A plugin event carries none of them: only its type counts.
        assert!(filter.matches(EventType::PluginInstalled, None, None, None));
        assert!(!filter.matches(EventType::PostReceived, Some("brand"), None, None));
        let received = Filter {
            types_mask: EventType::PostReceived.bit(),
            intent: Some("complaint".into()),
            ..Filter::default()
        };
        assert!(received.matches(EventType::PostReceived, Some("any"), None, None));
    }
}
