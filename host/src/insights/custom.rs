//! Custom signals and the taxonomy (docs/insights.md, "Custom signals" and
//! "Aspects"). An analyzer that exports `signals` declares the signals it
//! produces beyond the built-in ones (a score in a range, a label of a set,
//! labels of a set) and, given the brand's taxonomy (products, features and
//! aspects with their synonyms, kept by admins), reports the entries each
//! post mentions with their sentiment. Both are kept on the analysis and as
//! per-post rows the inbox filters on (`store::insights::custom`).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::runtime::AnalyzerPlugin;
use crate::runtime::types::{EntryKind, SignalKind, TaxonomyEntry};
use crate::store::insights::custom::{self as store, EntryRow, SignalRow};
use crate::store::{Db, audit, now_ms};

#[derive(Debug, thiserror::Error)]
pub enum CustomError {
    #[error("the analyzer's custom signals could not be read: {0}")]
    Call(String),
    #[error("taxonomy entry: {0}")]
    Invalid(String),
    #[error("no taxonomy entry `{0}`")]
    NoEntry(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// A custom signal as the API lists it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CustomSignal {
    pub name: String,
    pub display_name: String,
    /// `{"score": {"min", "max"}}`, `{"label": [...]}` or `{"labels": [...]}`.
    #[schema(value_type = Object)]
    pub kind: Value,
    /// The analyzer that declares it.
    pub analyzer: String,
}

/// Reads what `analyzer` declares and stores it, replacing what it declared
/// before; nothing for an analyzer without `signals`.
pub async fn register(db: &Db, analyzer: &AnalyzerPlugin) -> Result<usize, CustomError> {
    if !analyzer.has_signals() {
        return Ok(0);
    }
    let plugin = analyzer.clone();
    let specs = tokio::task::spawn_blocking(move || plugin.custom_signals())
        .await
        .map_err(|e| CustomError::Call(e.to_string()))?
        .map_err(|e| CustomError::Call(e.to_string()))?
        .value;
    let rows: Vec<SignalRow> = specs
        .iter()
        .map(|s| SignalRow {
            name: s.name.clone(),
            plugin: analyzer.meta().spec.name.clone(),
            display_name: s.display_name.clone(),
            kind: match &s.kind {
                SignalKind::Score(r) => json!({"score": {"min": r.min, "max": r.max}}),
                SignalKind::Label(set) => json!({ "label": set }),
                SignalKind::Labels(set) => json!({ "labels": set }),
            }
            .to_string(),
        })
        .collect();
    store::declare(db, &analyzer.meta().spec.name, &rows, now_ms()).await?;
    Ok(rows.len())
}

/// Every declared custom signal.
pub async fn signals(db: &Db) -> Result<Vec<CustomSignal>, CustomError> {
    Ok(store::signals(db)
        .await?
        .into_iter()
        .map(|s| CustomSignal {
            kind: serde_json::from_str(&s.kind).unwrap_or(Value::Null),
            name: s.name,
            display_name: s.display_name,
            analyzer: s.plugin,
        })
        .collect())
}

/// A taxonomy entry as admins read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = TaxonomyEntry)]
pub struct Entry {
    /// 1 to 64 of a-z, 0-9 and `-`, e.g. `battery`.
    pub id: String,
    /// `product`, `feature` or `aspect`.
    pub kind: String,
    /// How people name it, e.g. `Battery`.
    pub name: String,
    /// Other ways it is written, e.g. `range`, `charge`.
    #[serde(default)]
    pub synonyms: Vec<String>,
}

/// What a taxonomy entry is, as admins write it (the id is the path's).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewTaxonomyEntry)]
pub struct EntryBody {
    pub kind: EntryKindName,
    /// How people name it, e.g. `Battery`.
    #[schema(value_type = crate::server::openapi::ShortName)]
    pub name: String,
    /// Other ways it is written, e.g. `range`, `charge`.
    #[serde(default)]
    #[schema(value_type = Vec<crate::server::openapi::ShortName>, max_items = 50)]
    pub synonyms: Vec<String>,
}

/// What a taxonomy entry names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = TaxonomyKind)]
pub enum EntryKindName {
    Product,
    Feature,
    Aspect,
}

impl EntryBody {
    /// The entry `id` with this body.
    pub fn entry(self, id: String) -> Entry {
        Entry {
            id,
            kind: match self.kind {
                EntryKindName::Product => "product",
                EntryKindName::Feature => "feature",
                EntryKindName::Aspect => "aspect",
            }
            .into(),
            name: self.name,
            synonyms: self.synonyms,
        }
    }
}

/// Synonyms per entry, and their length, at most.
const MAX_SYNONYMS: usize = 50;
const MAX_TEXT: usize = 100;

fn kind(text: &str) -> Option<EntryKind> {
    match text {
        "product" => Some(EntryKind::Product),
        "feature" => Some(EntryKind::Feature),
        "aspect" => Some(EntryKind::Aspect),
        _ => None,
    }
}

impl Entry {
    fn validate(&self) -> Result<(), CustomError> {
        let bad = |why: String| Err(CustomError::Invalid(why));
        let id_ok = (1..=64).contains(&self.id.len())
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return bad(format!("id `{}` must be 1 to 64 of a-z, 0-9 and `-`", self.id));
        }
        if kind(&self.kind).is_none() {
            return bad(format!("kind `{}` is not product, feature or aspect", self.kind));
        }
        let texts = std::iter::once(&self.name).chain(&self.synonyms);
        if texts
            .into_iter()
            .any(|t| t.trim().is_empty() || t.chars().count() > MAX_TEXT)
        {
            return bad(format!("names and synonyms are 1 to {MAX_TEXT} characters"));
        }
        if self.synonyms.len() > MAX_SYNONYMS {
            return bad(format!("at most {MAX_SYNONYMS} synonyms"));
        }
        Ok(())
    }
}

/// The taxonomy, by kind and id.
pub async fn taxonomy(db: &Db) -> Result<Vec<Entry>, CustomError> {
    Ok(store::taxonomy(db)
        .await?
        .into_iter()
        .map(|e| Entry {
            synonyms: serde_json::from_str(&e.synonyms).unwrap_or_default(),
            id: e.id,
            kind: e.kind,
            name: e.name,
        })
        .collect())
}

/// The taxonomy as analyzers are given it.
pub async fn for_analyzers(db: &Db) -> Result<Vec<TaxonomyEntry>, CustomError> {
    Ok(taxonomy(db)
        .await?
        .into_iter()
        .filter_map(|e| {
            Some(TaxonomyEntry {
                kind: kind(&e.kind)?,
                id: e.id,
                name: e.name,
                synonyms: e.synonyms,
            })
        })
        .collect())
}

/// Adds or replaces an entry, audited. Posts analysed from now on are
/// matched against it; `analyzer reanalyze` matches past ones.
pub async fn put(db: &Db, entry: &Entry, actor: &str) -> Result<(), CustomError> {
    entry.validate()?;
    let row = EntryRow {
        id: entry.id.clone(),
        kind: entry.kind.clone(),
        name: entry.name.trim().to_string(),
        synonyms: json!(entry.synonyms.iter().map(|s| s.trim()).collect::<Vec<_>>()).to_string(),
    };
    let mut tx = db.begin().await?;
    store::put_entry(&mut tx, &row, now_ms()).await?;
    audit(&mut *tx, actor, "taxonomy.put", &entry.id, &json!(entry)).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes entry `id`, audited.
pub async fn remove(db: &Db, id: &str, actor: &str) -> Result<(), CustomError> {
    let mut tx = db.begin().await?;
    if !store::remove_entry(&mut tx, id).await? {
        return Err(CustomError::NoEntry(id.to_string()));
    }
    audit(&mut *tx, actor, "taxonomy.remove", id, &json!({})).await?;
    tx.commit().await?;
    Ok(())
}
