//! Which column of a file fills which field: a mapping from target fields to
//! source columns, with the options a few transforms need (the date order,
//! a default currency and kind). socialcrm's own column names are the mapping
//! used when none is given; presets (`presets.rs`) name the columns of CRM
//! exports, and mappings an admin writes are saved by name (`saved.rs`).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::ImportError;
use super::dates::DateOrder;
use crate::crm::contact::NETWORKS;

/// What a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ImportKind)]
pub enum Kind {
    Contacts,
    Transactions,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Contacts => "contacts",
            Kind::Transactions => "transactions",
        }
    }

    /// The fields a mapping can fill.
    pub fn targets(self) -> Vec<&'static str> {
        match self {
            Kind::Contacts => ["id", "name", "email", "phone", "website", "company"]
                .into_iter()
                .chain(NETWORKS)
                .collect(),
            Kind::Transactions => TRANSACTION_TARGETS.to_vec(),
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "contacts" => Ok(Kind::Contacts),
            "transactions" => Ok(Kind::Transactions),
            _ => Err(format!("`{s}` is neither `contacts` nor `transactions`")),
        }
    }
}

const TRANSACTION_TARGETS: [&str; 10] = [
    "id",
    "contact_id",
    "contact_email",
    "kind",
    "amount",
    "currency",
    "occurred_at",
    "reference",
    "product",
    "refunded",
];

/// Target fields and the source columns that fill them, with the options of
/// their transforms.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ImportMapping)]
pub struct Mapping {
    /// Target field → source columns (matched without regard to case). Several
    /// columns are joined with a space: `["First Name", "Last Name"]` → `name`.
    pub fields: BTreeMap<String, Vec<String>>,
    /// Targets whose columns may be missing from the file (a preset names
    /// every column an export can have; a view exports some). Any other
    /// column the mapping names must be in the file.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub optional: BTreeSet<String>,
    /// How `03/04/2024` reads; unset, such a date must be unambiguous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dates: Option<DateOrder>,
    /// The currency (ISO 4217) of transactions whose row gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The kind of transactions whose row gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl Mapping {
    /// socialcrm's own columns: each field from the column of its name, where there is one.
    pub fn own(kind: Kind) -> Mapping {
        let targets = kind.targets();
        Mapping {
            fields: targets.iter().map(|t| (t.to_string(), vec![t.to_string()])).collect(),
            optional: targets.iter().map(|t| t.to_string()).collect(),
            ..Mapping::default()
        }
    }

    /// `SOURCE=TARGET` pairs (`First Name+Last Name=name` joins two columns),
    /// checked against `kind`'s targets.
    pub fn from_pairs(kind: Kind, pairs: &[String]) -> Result<Mapping, ImportError> {
        let mut mapping = Mapping::default();
        for pair in pairs {
            let Some((source, target)) = pair.rsplit_once('=') else {
                return Err(ImportError::Mapping(format!(
                    "`{pair}` is not SOURCE=TARGET (e.g. `Record ID=id`)"
                )));
            };
            let sources: Vec<String> = source.split('+').map(|s| s.trim().to_string()).collect();
            if sources.iter().any(String::is_empty) {
                return Err(ImportError::Mapping(format!("`{pair}` names an empty column")));
            }
            mapping.fields.insert(target.trim().to_string(), sources);
        }
        mapping.check(kind)?;
        Ok(mapping)
    }

    /// Every target is one of `kind`'s, and the options are valid.
    pub fn check(&self, kind: Kind) -> Result<(), ImportError> {
        let targets = kind.targets();
        for (target, sources) in &self.fields {
            if !targets.contains(&target.as_str()) {
                return Err(ImportError::Mapping(format!(
                    "`{target}` is not a field of {} (they are: {})",
                    kind.name(),
                    targets.join(", ")
                )));
            }
            if sources.is_empty() || sources.iter().any(|s| s.trim().is_empty()) {
                return Err(ImportError::Mapping(format!(
                    "`{target}` is mapped from an empty column"
                )));
            }
        }
        if let Some(currency) = &self.currency {
            self::currency(currency)?;
        }
        if let Some(k) = &self.kind {
            transaction_kind(k)?;
        }
        Ok(())
    }

    /// `other` over `self`: its fields replace these (and must be in the
    /// file), its options replace those it sets.
    pub fn overlay(&mut self, other: Mapping) {
        for (target, sources) in other.fields {
            self.optional.remove(&target);
            self.fields.insert(target, sources);
        }
        self.optional.extend(other.optional);
        self.dates = other.dates.or(self.dates);
        self.currency = other.currency.or(self.currency.take());
        self.kind = other.kind.or(self.kind.take());
    }

    /// The mapping against the file's header: column indexes per target.
    pub fn resolve(&self, kind: Kind, headers: &csv::StringRecord) -> Result<Resolved, ImportError> {
        self.check(kind)?;
        let names: Vec<String> = headers.iter().map(|h| h.trim().to_lowercase()).collect();
        let index = |column: &str| names.iter().position(|n| *n == column.trim().to_lowercase());
        let mut by_target = BTreeMap::new();
        for (target, sources) in &self.fields {
            let found: Vec<Option<usize>> = sources.iter().map(|s| index(s)).collect();
            if let Some(missing) = found.iter().position(Option::is_none)
                && !self.optional.contains(target)
            {
                return Err(ImportError::NoSuchColumn {
                    column: sources[missing].clone(),
                    target: target.clone(),
                    columns: headers.iter().map(str::trim).collect::<Vec<_>>().join(", "),
                });
            }
            let found: Vec<usize> = found.into_iter().flatten().collect();
            if !found.is_empty() {
                by_target.insert(target.clone(), found);
            }
        }
        let used: BTreeSet<usize> = by_target.values().flatten().copied().collect();
        let ignored = names
            .iter()
            .enumerate()
            .filter(|(i, n)| !used.contains(i) && !n.is_empty())
            .map(|(_, n)| n.clone())
            .collect();
        let resolved = Resolved {
            columns_read: used.len(),
            by_target,
            ignored,
            dates: self.dates,
            currency: self.currency.clone(),
            kind: self.kind.clone(),
        };
        for target in required(kind) {
            if !resolved.has(target) {
                return Err(ImportError::Unmapped(target));
            }
        }
        if kind == Kind::Transactions {
            if !resolved.has("contact_id") && !resolved.has("contact_email") {
                return Err(ImportError::Unmapped("contact_id"));
            }
            if !resolved.has("kind") && resolved.kind.is_none() {
                return Err(ImportError::Unmapped("kind"));
            }
        }
        Ok(resolved)
    }
}

/// Targets every row needs a column for (beyond the choices `resolve` checks).
fn required(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Contacts => &["id"],
        Kind::Transactions => &["id", "occurred_at"],
    }
}

/// A mapping resolved against a header row.
#[derive(Debug)]
pub struct Resolved {
    by_target: BTreeMap<String, Vec<usize>>,
    /// Lower-cased columns no target reads.
    pub ignored: Vec<String>,
    /// How many of the file's columns a target reads.
    pub columns_read: usize,
    pub dates: Option<DateOrder>,
    pub currency: Option<String>,
    pub kind: Option<String>,
}

impl Resolved {
    /// The columns each target reads, as the header spells them, with the options.
    pub fn mapping(&self, headers: &csv::StringRecord) -> Mapping {
        let name = |i: &usize| headers.get(*i).unwrap_or_default().trim().to_string();
        Mapping {
            fields: self
                .by_target
                .iter()
                .map(|(t, columns)| (t.clone(), columns.iter().map(name).collect()))
                .collect(),
            optional: BTreeSet::new(),
            dates: self.dates,
            currency: self.currency.clone(),
            kind: self.kind.clone(),
        }
    }

    pub fn has(&self, target: &str) -> bool {
        self.by_target.contains_key(target)
    }

    /// The target's value in `record`, trimmed ("" when the row has none);
    /// several columns are joined with a space.
    pub fn get<'r>(&self, record: &'r csv::StringRecord, target: &str) -> Cow<'r, str> {
        let Some(columns) = self.by_target.get(target) else {
            return Cow::Borrowed("");
        };
        let mut values = columns
            .iter()
            .filter_map(|&i| record.get(i))
            .map(str::trim)
            .filter(|v| !v.is_empty());
        let first = values.next().unwrap_or_default();
        match values.next() {
            None => Cow::Borrowed(first),
            Some(second) => {
                let mut joined = format!("{first} {second}");
                for v in values {
                    joined.push(' ');
                    joined.push_str(v);
                }
                Cow::Owned(joined)
            }
        }
    }
}

/// An ISO 4217 code, upper-cased.
pub fn currency(raw: &str) -> Result<String, ImportError> {
    crate::crm::currency::code(raw).map_err(|e| ImportError::Mapping(format!("`currency` {e}")))
}

fn transaction_kind(raw: &str) -> Result<(), ImportError> {
    if super::TRANSACTION_KINDS.contains(&raw) {
        Ok(())
    } else {
        Err(ImportError::Mapping(format!(
            "`kind` `{raw}` is not one of {}",
            super::TRANSACTION_KINDS.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(names.to_vec())
    }

    #[test]
    fn pairs_join_columns_and_name_known_targets() {
        let m = Mapping::from_pairs(
            Kind::Contacts,
            &["Record ID=id".into(), "First Name + Last Name=name".into()],
        )
        .unwrap();
        let r = m
            .resolve(
                Kind::Contacts,
                &headers(&["record id", "First Name", "Last Name", "Notes"]),
            )
            .unwrap();
        let row = csv::StringRecord::from(vec!["7", " Ann ", "Lee", "x"]);
        assert_eq!((r.get(&row, "id"), r.get(&row, "name")), ("7".into(), "Ann Lee".into()));
        assert_eq!(r.ignored, ["notes"]);

        for bad in ["id", "=id", "x=shoe_size"] {
            assert!(matches!(
                Mapping::from_pairs(Kind::Contacts, &[bad.into()]),
                Err(ImportError::Mapping(_))
            ));
        }
    }

    #[test]
    fn a_missing_column_is_named() {
        let m = Mapping::from_pairs(Kind::Contacts, &["Record ID=id".into(), "Mail=email".into()]).unwrap();
        let e = m
            .resolve(Kind::Contacts, &headers(&["Record ID", "Email"]))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the mapping reads `Mail` for `email`, but the CSV has no such column (its columns: Record ID, Email)"
        );
        let e = Mapping::own(Kind::Contacts)
            .resolve(Kind::Contacts, &headers(&["name"]))
            .unwrap_err();
        assert!(matches!(e, ImportError::Unmapped("id")));
    }
}
