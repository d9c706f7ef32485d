//! Mappings for the CSV exports of HubSpot, Salesforce and Shopify, from the
//! columns their documentation lists (tests/data/imports/README.md names the
//! pages; docs/imports.md has the table). Columns a view may leave out are
//! optional; the id, and a transaction's contact, amount and time, are not.

use serde::Serialize;

use super::mapping::{Kind, Mapping};

struct Preset {
    name: &'static str,
    kind: Kind,
    /// (target, source columns, optional)
    fields: &'static [(&'static str, &'static [&'static str], bool)],
    kind_default: Option<&'static str>,
}

const PRESETS: &[Preset] = &[
    Preset {
        name: "hubspot",
        kind: Kind::Contacts,
        fields: &[
            ("id", &["Record ID"], false),
            ("name", &["First Name", "Last Name"], true),
            ("email", &["Email"], true),
            ("phone", &["Phone Number"], true),
            ("company", &["Company Name"], true),
            ("website", &["Website URL"], true),
        ],
        kind_default: None,
    },
    Preset {
        name: "salesforce",
        kind: Kind::Contacts,
        fields: &[
            ("id", &["Id"], false),
            ("name", &["FirstName", "LastName"], true),
            ("email", &["Email"], true),
            ("phone", &["Phone"], true),
            // A Data Loader export of `Account.Name`; the weekly Data Export has only `AccountId`.
            ("company", &["Account.Name"], true),
        ],
        kind_default: None,
    },
    Preset {
        name: "shopify",
        kind: Kind::Contacts,
        fields: &[
            ("id", &["Customer ID"], false),
            ("name", &["First Name", "Last Name"], true),
            ("email", &["Email"], true),
            ("phone", &["Phone"], true),
            ("company", &["Default Address Company"], true),
        ],
        kind_default: None,
    },
    Preset {
        name: "shopify",
        kind: Kind::Transactions,
        fields: &[
            // `#1001`: on every line of the order, unlike `Id`.
            ("id", &["Name"], false),
            ("reference", &["Name"], false),
            ("contact_email", &["Email"], false),
            ("amount", &["Total"], false),
            ("currency", &["Currency"], false),
            ("occurred_at", &["Created at"], false),
            ("product", &["Lineitem name"], true),
            ("refunded", &["Refunded Amount"], true),
        ],
        kind_default: Some("purchase"),
    },
];

/// The names of the presets.
pub const NAMES: [&str; 3] = ["hubspot", "salesforce", "shopify"];

impl Preset {
    fn mapping(&self) -> Mapping {
        Mapping {
            fields: self
                .fields
                .iter()
                .map(|(t, s, _)| (t.to_string(), s.iter().map(|c| c.to_string()).collect()))
                .collect(),
            optional: self
                .fields
                .iter()
                .filter(|(_, _, optional)| *optional)
                .map(|(t, _, _)| t.to_string())
                .collect(),
            kind: self.kind_default.map(str::to_string),
            ..Mapping::default()
        }
    }
}

/// The preset `name` for `kind`.
pub fn preset(name: &str, kind: Kind) -> Option<Mapping> {
    PRESETS
        .iter()
        .find(|p| p.name == name && p.kind == kind)
        .map(Preset::mapping)
}

/// Every preset: (name, kind, mapping).
pub fn all() -> impl Iterator<Item = (&'static str, Kind, Mapping)> {
    PRESETS.iter().map(|p| (p.name, p.kind, p.mapping()))
}

/// How well a mapping fits a file's header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = MappingFit)]
pub struct Fit {
    /// A preset's name, or `socialcrm` for socialcrm's own columns.
    pub name: String,
    /// The file's columns it reads.
    pub columns_read: usize,
}

/// The mapping that reads most of the header's columns among those that can
/// import it: socialcrm's own columns (which win a tie) and the presets, each
/// with `extra` laid over it.
pub fn best(kind: Kind, headers: &csv::StringRecord, extra: &Mapping) -> Option<(Fit, Mapping)> {
    let own = std::iter::once(("socialcrm", Mapping::own(kind)));
    let presets = PRESETS.iter().filter(|p| p.kind == kind).map(|p| (p.name, p.mapping()));
    own.chain(presets)
        .filter_map(|(name, mut mapping)| {
            mapping.overlay(extra.clone());
            let resolved = mapping.resolve(kind, headers).ok()?;
            Some((
                Fit {
                    name: name.to_string(),
                    columns_read: resolved.columns_read,
                },
                mapping,
            ))
        })
        .reduce(|best, next| {
            if next.0.columns_read > best.0.columns_read {
                next
            } else {
                best
            }
        })
}
