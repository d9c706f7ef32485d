//! Mappings saved by name (`socialcrm import mappings`, `/imports/mappings`),
//! and the mapping a name gives: a saved one, else a preset.

use serde::Serialize;
use serde_json::json;

use super::ImportError;
use super::mapping::{Kind, Mapping};
use super::presets;
use crate::store::import_mappings as store;
use crate::store::{Db, audit};

/// A saved mapping.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SavedMapping {
    pub name: String,
    pub kind: Kind,
    pub mapping: Mapping,
    pub created_by: String,
    /// Unix milliseconds.
    pub updated_at: i64,
}

/// Saves `mapping` as `name` for files of `kind`, replacing one of that name.
pub async fn save(
    db: &Db,
    name: &str,
    kind: Kind,
    mapping: &Mapping,
    actor: &str,
) -> Result<SavedMapping, ImportError> {
    let valid_name = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid_name {
        return Err(ImportError::Mapping(format!(
            "`{name}` is not a mapping name (1 to 64 letters, digits, `-`, `_` or `.`)"
        )));
    }
    if presets::NAMES.contains(&name) {
        return Err(ImportError::Mapping(format!(
            "`{name}` is a preset's name: save the mapping under another"
        )));
    }
    if mapping.fields.is_empty() {
        return Err(ImportError::Mapping(
            "the mapping names no column (give SOURCE=TARGET pairs)".into(),
        ));
    }
    mapping.check(kind)?;
    let text = serde_json::to_string(mapping).map_err(|e| ImportError::Mapping(e.to_string()))?;
    let mut tx = db.begin().await?;
    store::save(&mut tx, name, kind.name(), &text, actor).await?;
    audit(
        &mut *tx,
        actor,
        "import.mapping.save",
        &format!("import-mapping:{name}"),
        &json!({"kind": kind.name()}),
    )
    .await?;
    tx.commit().await?;
    get(db, name)
        .await?
        .ok_or_else(|| ImportError::NoMapping(name.to_string()))
}

/// Every saved mapping, by name.
pub async fn list(db: &Db) -> Result<Vec<SavedMapping>, ImportError> {
    store::all(db).await?.into_iter().map(saved).collect()
}

pub async fn get(db: &Db, name: &str) -> Result<Option<SavedMapping>, ImportError> {
    store::get(db, name).await?.map(saved).transpose()
}

/// Removes saved mapping `name`.
pub async fn remove(db: &Db, name: &str, actor: &str) -> Result<(), ImportError> {
    let mut tx = db.begin().await?;
    if !store::remove(&mut tx, name).await? {
        return Err(ImportError::NoMapping(name.to_string()));
    }
    audit(
        &mut *tx,
        actor,
        "import.mapping.remove",
        &format!("import-mapping:{name}"),
        &json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The mapping `name` gives for files of `kind`: a saved mapping, else a preset.
pub async fn named(db: &Db, name: &str, kind: Kind) -> Result<Mapping, ImportError> {
    if let Some(saved) = get(db, name).await? {
        if saved.kind != kind {
            return Err(ImportError::Mapping(format!(
                "mapping `{name}` is for {}, not {}",
                saved.kind.name(),
                kind.name()
            )));
        }
        return Ok(saved.mapping);
    }
    presets::preset(name, kind).ok_or_else(|| ImportError::NoMapping(name.to_string()))
}

fn saved(row: store::MappingRow) -> Result<SavedMapping, ImportError> {
    let name = row.name.clone();
    let corrupt = |e: String| ImportError::Mapping(format!("saved mapping `{name}` cannot be read: {e}"));
    Ok(SavedMapping {
        kind: row.kind.parse().map_err(corrupt)?,
        mapping: serde_json::from_str(&row.mapping).map_err(|e| corrupt(e.to_string()))?,
        name: row.name,
        created_by: row.created_by,
        updated_at: row.updated_at,
    })
}
