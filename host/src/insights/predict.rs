//! Predictions from scorer plugins (docs/scorers.md): the scorer bound to a
//! prediction scores contacts in batches from the features the host builds,
//! and nothing else. It sees the features its manifest declares (granted
//! with the plugin's other permissions), never a name, email or handle, and
//! each batch runs with the analyzer's fuel and time budget.
//!
//! The bundled `churn` scorer is the default model of `churn-risk`; a
//! vendor's replaces it through [`bind`] and the next [`rescore`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;
use serde_json::json;

use super::churn::Factor;
use crate::crm::currency;
use crate::plugins::{Manifest, PluginKind, registry};
use crate::runtime::types::{Feature, Prediction, ScoreRequest, Subject};
use crate::runtime::{Runtime, RuntimeOptions, ScorerPlugin, sha256_hex};
use crate::store::insights::bindings as stored;
use crate::store::insights::predictions::{self as store, FeatureRow, Scored};
use crate::store::{Db, audit, now_ms};

/// The predictions a scorer can be bound to.
pub const PREDICTIONS: [&str; 1] = ["churn-risk"];
/// The scorer a fresh install binds.
const BUNDLED: &str = "churn";
/// Contacts per `score` call.
pub const BATCH: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error("`{0}` is not a prediction: {preds}", preds = PREDICTIONS.join(", "))]
    Prediction(String),
    #[error("no scorer `{name}`: {why}")]
    Scorer { name: String, why: String },
    #[error("`{0}` is not a scorer plugin")]
    NotScorer(String),
    #[error("scorer `{name}` does not predict {prediction} (it predicts {predicts})")]
    DoesNotPredict {
        name: String,
        prediction: String,
        predicts: String,
    },
    #[error("scorer `{name}` failed: {why}")]
    Call { name: String, why: String },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// A prediction's binding, as the CLI and the API show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PredictionBinding {
    pub prediction: String,
    pub scorer: String,
    /// Who bound it (`install` for a fresh install's), and when (Unix ms).
    pub bound_by: String,
    pub bound_at: i64,
}

/// Every prediction's binding.
pub async fn bindings(db: &Db) -> Result<Vec<PredictionBinding>, PredictError> {
    let stored = stored::all(db).await?;
    Ok(PREDICTIONS
        .iter()
        .map(|p| match stored.iter().find(|b| b.signal == *p && b.scope.is_empty()) {
            Some(b) => PredictionBinding {
                prediction: p.to_string(),
                scorer: b.analyzer.clone(),
                bound_by: b.bound_by.clone(),
                bound_at: b.bound_at,
            },
            None => PredictionBinding {
                prediction: p.to_string(),
                scorer: BUNDLED.into(),
                bound_by: "install".into(),
                bound_at: 0,
            },
        })
        .collect())
}

/// Binds `prediction` to the scorer `name` (installed or bundled), audited,
/// after checking it loads and predicts it. The next [`rescore`] uses it.
pub async fn bind(db: &Db, prediction: &str, name: &str, actor: &str) -> Result<PredictionBinding, PredictError> {
    let prediction = PREDICTIONS
        .into_iter()
        .find(|p| *p == prediction)
        .ok_or_else(|| PredictError::Prediction(prediction.to_string()))?;
    let before = bound(db, prediction).await?;
    load(db, name, prediction).await?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    let row = stored::Stored {
        signal: prediction.to_string(),
        scope: String::new(),
        analyzer: name.to_string(),
        bound_by: actor.to_string(),
        bound_at: now,
    };
    stored::set(&mut tx, &row).await?;
    audit(
        &mut *tx,
        actor,
        "scorer.bind",
        prediction,
        &json!({"from": before, "to": name}),
    )
    .await?;
    tx.commit().await?;
    Ok(PredictionBinding {
        prediction: prediction.to_string(),
        scorer: name.to_string(),
        bound_by: actor.to_string(),
        bound_at: now,
    })
}

async fn bound(db: &Db, prediction: &str) -> Result<String, PredictError> {
    Ok(bindings(db)
        .await?
        .into_iter()
        .find(|b| b.prediction == prediction)
        .map_or_else(|| BUNDLED.to_string(), |b| b.scorer))
}

/// A scorer ready to call, with what it may read.
#[derive(Clone)]
struct Loaded {
    plugin: ScorerPlugin,
    manifest: Arc<Manifest>,
}

impl Loaded {
    /// `name version`, as stored with each score.
    fn id(&self) -> String {
        format!("{} {}", self.manifest.name, self.manifest.version)
    }
}

/// Scorers run in a runtime of their own, started at the first load, and
/// are compiled once per wasm digest. It has the host's default maximum
/// limits, which a manifest can only lower.
#[derive(Default)]
struct Cache {
    runtime: Option<Runtime>,
    loaded: HashMap<String, ScorerPlugin>,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// Loads the scorer `name` and checks it predicts `prediction`.
async fn load(db: &Db, name: &str, prediction: &str) -> Result<Loaded, PredictError> {
    let unknown = |why: String| PredictError::Scorer {
        name: name.to_string(),
        why,
    };
    let found = registry::find(db, name).await.map_err(|e| unknown(e.to_string()))?;
    if found.manifest.kind != PluginKind::Scorer || found.manifest.name != name {
        return Err(PredictError::NotScorer(name.to_string()));
    }
    let manifest = Arc::new(found.manifest);
    let wasm = found.wasm;
    let spec = manifest.sandbox();
    let named = name.to_string();
    let plugin = tokio::task::spawn_blocking(move || {
        let digest = sha256_hex(&wasm);
        let mut cache = cache().lock().map_err(|_| "the scorer cache is poisoned".to_string())?;
        if let Some(plugin) = cache.loaded.get(&digest) {
            return Ok(plugin.clone());
        }
        let runtime = match cache.runtime.take() {
            Some(runtime) => runtime,
            None => Runtime::new(RuntimeOptions::default()).map_err(|e| e.to_string())?,
        };
        let loaded = runtime.load_scorer(spec, &wasm).map_err(|e| e.to_string());
        cache.runtime = Some(runtime);
        let plugin = loaded?;
        cache.loaded.insert(digest, plugin.clone());
        Ok::<_, String>(plugin)
    })
    .await
    .map_err(|e| unknown(e.to_string()))?
    .map_err(unknown)?;
    let describer = plugin.clone();
    let descriptor = tokio::task::spawn_blocking(move || describer.describe())
        .await
        .map_err(|e| unknown(e.to_string()))?
        .map_err(|e| PredictError::Call {
            name: named.clone(),
            why: e.to_string(),
        })?
        .value;
    if !descriptor.predicts.iter().any(|p| p == prediction) {
        return Err(PredictError::DoesNotPredict {
            name: name.to_string(),
            prediction: prediction.to_string(),
            predicts: descriptor.predicts.join(", "),
        });
    }
    Ok(Loaded { plugin, manifest })
}

/// The value of feature `name` of `row`; `None` when the host cannot know it
/// (no orders: no `days-since-order`), or for `tags` (given apart).
fn feature(row: &FeatureRow, name: &str) -> Option<f64> {
    Some(match name {
        "lifetime-value" => row.ltv,
        "value-percentile" => row.value_pct,
        "orders" => row.orders as f64,
        "orders-12m" => row.orders_year as f64,
        "orders-90d" => row.recent_orders as f64,
        "days-since-order" => row.days_since_order? as f64,
        "unconverted-transactions" => row.unconverted as f64,
        "negative-posts-7d" => row.negative_week as f64,
        "sentiment-30d" => row.recent_sentiment?,
        "sentiment-30-180d" => row.earlier_sentiment?,
        "churn-intent-30d" => row.churn_intent as f64,
        "posts-90d" => row.posts_90d as f64,
        _ => return None,
    })
}

/// The CRM tags of each contact: the `tags` field sources keep (`a, b`).
async fn tags(db: &Db, ids: &[i64]) -> Result<HashMap<i64, Vec<String>>, PredictError> {
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    for (contact, fields) in store::custom_fields(db, ids).await? {
        let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(&fields) else {
            continue;
        };
        if let Some(serde_json::Value::String(list)) = fields.get("tags") {
            let of = tags.entry(contact).or_default();
            for tag in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                if !of.iter().any(|t| t == tag) {
                    of.push(tag.to_string());
                }
            }
        }
    }
    Ok(tags)
}

/// What the scorer may see of `rows`: its granted features, and tags if granted.
async fn subjects(db: &Db, granted: &[String], rows: &[FeatureRow]) -> Result<Vec<Subject>, PredictError> {
    let mut tags = if granted.iter().any(|f| f == "tags") {
        let ids: Vec<i64> = rows.iter().map(|r| r.contact_id).collect();
        tags(db, &ids).await?
    } else {
        HashMap::new()
    };
    Ok(rows
        .iter()
        .map(|row| subject(row, granted, tags.remove(&row.contact_id).unwrap_or_default()))
        .collect())
}

/// One contact as the scorer sees it: the granted features the host knows,
/// nothing else.
fn subject(row: &FeatureRow, granted: &[String], tags: Vec<String>) -> Subject {
    Subject {
        features: granted
            .iter()
            .filter_map(|name| {
                feature(row, name).map(|value| Feature {
                    name: name.clone(),
                    value,
                })
            })
            .collect(),
        tags,
    }
}

/// What a [`rescore`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rescored {
    /// Contacts whose churn risk, factors or scorer changed.
    pub changed: Vec<i64>,
    pub scored: u64,
}

/// Scores the churn risk of every scored contact, or of `contacts`, with the
/// bound scorer, in batches of [`BATCH`]; writes the scores that changed.
/// A failing batch stops the pass with the scorer's error: the batches
/// before it are kept.
pub async fn rescore(db: &Db, contacts: Option<&[i64]>) -> Result<Rescored, PredictError> {
    let prediction = PREDICTIONS[0];
    let name = bound(db, prediction).await?;
    let scorer = load(db, &name, prediction).await?;
    let value_currency = currency::reporting(db)
        .await
        .map_err(|e| PredictError::Scorer {
            name: name.clone(),
            why: e.to_string(),
        })?
        .map(|r| r.currency);
    let scorer_id = scorer.id();
    let mut done = Rescored::default();
    let mut after = i64::MIN;
    let mut ids = contacts.map(|c| c.chunks(BATCH));
    loop {
        let rows = match ids.as_mut() {
            Some(chunks) => match chunks.next() {
                Some(chunk) => store::of_contacts(db, chunk).await?,
                None => break,
            },
            None => store::page(db, after, BATCH as i64).await?,
        };
        let Some(last) = rows.last() else {
            if ids.is_some() {
                continue;
            }
            break;
        };
        after = last.contact_id;
        let request = ScoreRequest {
            prediction: prediction.to_string(),
            value_currency: value_currency.clone(),
            subjects: subjects(db, &scorer.manifest.scorer.features, &rows).await?,
        };
        let plugin = scorer.plugin.clone();
        let predictions = tokio::task::spawn_blocking(move || plugin.score(&request))
            .await
            .map_err(|e| PredictError::Call {
                name: name.clone(),
                why: e.to_string(),
            })?
            .map_err(|e| PredictError::Call {
                name: name.clone(),
                why: e.to_string(),
            })?
            .value;
        let scored: Vec<Scored> = rows
            .iter()
            .zip(predictions)
            .map(|(row, p)| stored_score(row, p, &scorer_id))
            .collect();
        done.scored += scored.len() as u64;
        let changed: Vec<i64> = rows
            .iter()
            .zip(&scored)
            .filter(|(row, s)| {
                row.churn != s.churn || row.churn_factors != s.factors || row.churn_scorer.as_deref() != Some(&s.scorer)
            })
            .map(|(row, _)| row.contact_id)
            .collect();
        store::write(db, &scored).await?;
        done.changed.extend(changed);
    }
    Ok(done)
}

/// A checked prediction as stored: the score rounded like the features, the
/// factors as JSON.
fn stored_score(row: &FeatureRow, p: Prediction, scorer: &str) -> Scored {
    let factors: Vec<Factor> = p
        .factors
        .into_iter()
        .map(|f| Factor {
            feature: f.feature,
            contribution: (f.contribution * 1e6).round() / 1e6,
            note: f.note,
        })
        .collect();
    Scored {
        contact_id: row.contact_id,
        churn: (p.score * 1e6).round() / 1e6,
        factors: serde_json::to_string(&factors).unwrap_or_else(|_| "[]".into()),
        scorer: scorer.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> FeatureRow {
        FeatureRow {
            contact_id: 7,
            ltv: 80.0,
            value_pct: 0.5,
            orders: 1,
            orders_year: 1,
            recent_orders: 0,
            days_since_order: None,
            unconverted: 0,
            negative_week: 3,
            recent_sentiment: Some(-0.6),
            earlier_sentiment: None,
            churn_intent: 1,
            posts_90d: 4,
            churn: 0.0,
            churn_factors: "[]".into(),
            churn_scorer: None,
        }
    }

    #[test]
    fn a_scorer_sees_only_what_it_was_granted_and_the_host_knows() {
        let granted: Vec<String> = [
            "negative-posts-7d",
            "days-since-order",
            "sentiment-30-180d",
            "posts-90d",
        ]
        .map(String::from)
        .to_vec();
        let s = subject(&row(), &granted, Vec::new());
        let names: Vec<(&str, f64)> = s.features.iter().map(|f| (f.name.as_str(), f.value)).collect();
        // Unknown ones (no order yet, no earlier posts) are left out, not made up.
        assert_eq!(names, [("negative-posts-7d", 3.0), ("posts-90d", 4.0)]);
        assert!(s.tags.is_empty());
        // Nothing granted: nothing given, however much the host knows.
        assert!(subject(&row(), &[], Vec::new()).features.is_empty());
    }

    #[test]
    fn every_catalogue_feature_but_tags_has_a_value() {
        let full = FeatureRow {
            days_since_order: Some(10),
            earlier_sentiment: Some(0.1),
            ..row()
        };
        for (name, _) in crate::runtime::manifest::FEATURES {
            assert_eq!(feature(&full, name).is_some(), name != "tags", "{name}");
        }
    }
}
