//! Analysis: analyzer plugins score a polled page before it is committed
//! (its analyses go into the page's transaction), and catch up on stored
//! posts an analyzer has not seen (one that failed, or was added). One row per
//! post and analyzer version, so a re-run changes nothing.

use std::sync::Arc;

use crate::runtime::types::AnalysisInput;
use crate::runtime::types::{Analysis, Post, TaxonomyEntry};
use crate::runtime::{AnalyzerPlugin, CallError};
use crate::store::{Db, network_changes, posts};

/// Posts per analyzer call.
pub const BATCH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("the analyzer did not finish: {0}")]
    Join(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// Analyzes every stored post `analyzer` has not seen in any version, e.g.
/// after a crash between commit and analysis or when an analyzer is added
/// (history seen by an earlier version is a re-analysis job's, see
/// `crate::reanalysis`). A batch the analyzer fails on is logged and skipped,
/// so one bad post cannot stall the rest. Returns the analyses stored and
/// the ids of the posts analysed.
pub async fn catch_up(db: &Db, analyzer: &AnalyzerPlugin) -> Result<(usize, Vec<i64>), AnalyzeError> {
    let spec = &analyzer.meta().spec;
    let taxonomy = taxonomy(db).await;
    let (mut after, mut stored, mut ids) = (0i64, 0, Vec::new());
    loop {
        let posts = posts::unanalysed(db, &spec.name, after, BATCH as i64).await?;
        let Some((last, _)) = posts.last() else {
            return Ok((stored, ids));
        };
        after = *last;
        match analyze_batch(db, analyzer, &posts, &taxonomy).await {
            Ok(n) => {
                stored += n;
                ids.extend(posts.iter().map(|(id, _)| *id));
            }
            Err(AnalyzeError::Call(e)) => tracing::warn!(error = %e, "analysis catch-up skipped a batch"),
            Err(e) => return Err(e),
        }
    }
}

/// Analyses posts `ids` again with every analyzer (their text changed and
/// their analyses were deleted in the same transaction).
pub(crate) async fn reanalyse(db: &Db, analyzers: &[AnalyzerPlugin], ids: &[i64]) -> Result<(), AnalyzeError> {
    let posts = network_changes::analysis_inputs(db, ids).await?;
    let taxonomy = taxonomy(db).await;
    for analyzer in analyzers {
        for batch in posts.chunks(BATCH) {
            analyze_batch(db, analyzer, batch, &taxonomy).await?;
        }
    }
    Ok(())
}

/// The brand's taxonomy as analyzers are given it; empty (and said) when it
/// cannot be read, so analysis goes on without aspects.
pub(crate) async fn taxonomy(db: &Db) -> Arc<[TaxonomyEntry]> {
    match crate::insights::custom::for_analyzers(db).await {
        Ok(entries) => entries.into(),
        Err(e) => {
            tracing::warn!(error = %e, "the taxonomy could not be read; analysing without it");
            Arc::from(Vec::new())
        }
    }
}

async fn analyze_batch(
    db: &Db,
    analyzer: &AnalyzerPlugin,
    posts: &[(i64, AnalysisInput)],
    taxonomy: &Arc<[TaxonomyEntry]>,
) -> Result<usize, AnalyzeError> {
    if posts.is_empty() {
        return Ok(0);
    }
    let analyses = call(analyzer, posts, taxonomy).await?;
    let spec = &analyzer.meta().spec;
    let version = spec.version.clone();
    let rows: Vec<(i64, &Analysis)> = posts.iter().map(|(id, _)| *id).zip(&analyses).collect();
    Ok(posts::insert_analyses(db.pool(), db.backend(), &spec.name, &version, &rows).await?)
}

/// One analyzer's analyses of a polled page, in page order.
#[derive(Clone, Debug)]
pub struct PageAnalyses {
    pub plugin: String,
    pub version: String,
    pub analyses: Vec<Analysis>,
}

/// Every analyzer over a polled page (on the blocking thread that polled
/// it), so the analyses are committed with the posts. An analyzer that fails
/// is logged and left out: the page is still stored and the catch-up
/// analyses its posts later.
pub fn analyze_page(analyzers: &[AnalyzerPlugin], posts: &[Post], taxonomy: &[TaxonomyEntry]) -> Vec<PageAnalyses> {
    if posts.is_empty() {
        return Vec::new();
    }
    let inputs: Vec<AnalysisInput> = posts.iter().map(AnalysisInput::from).collect();
    let mut out = Vec::with_capacity(analyzers.len());
    'analyzers: for analyzer in analyzers {
        let spec = &analyzer.meta().spec;
        let mut analyses = Vec::with_capacity(posts.len());
        for batch in inputs.chunks(BATCH) {
            match analyzer.analyze_rich(batch, taxonomy) {
                Ok(call) => analyses.extend(call.value),
                Err(e) => {
                    tracing::warn!(plugin = %spec.name, error = %e, "analysis of a page failed; the catch-up will retry");
                    continue 'analyzers;
                }
            }
        }
        out.push(PageAnalyses {
            plugin: spec.name.clone(),
            version: spec.version.clone(),
            analyses,
        });
    }
    out
}

/// One analyzer call over `posts`, on a blocking thread.
pub(crate) async fn call(
    analyzer: &AnalyzerPlugin,
    posts: &[(i64, AnalysisInput)],
    taxonomy: &Arc<[TaxonomyEntry]>,
) -> Result<Vec<Analysis>, AnalyzeError> {
    let inputs: Vec<AnalysisInput> = posts.iter().map(|(_, i)| i.clone()).collect();
    let (plugin, taxonomy) = (analyzer.clone(), taxonomy.clone());
    Ok(
        tokio::task::spawn_blocking(move || plugin.analyze_rich(&inputs, &taxonomy))
            .await
            .map_err(|e| AnalyzeError::Join(e.to_string()))??
            .value,
    )
}
