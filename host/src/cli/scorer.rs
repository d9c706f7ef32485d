//! `socialcrm scorer bindings|bind`.

use std::process::ExitCode;

use super::Global;
use super::analyzer::print;
use crate::insights::predict;

/// Predictive models as plugins (docs/scorers.md): which scorer makes each
/// prediction (`churn-risk`). A scorer reads only the contact features its
/// manifest declares, granted at `plugin install`; `insights recompute`
/// runs the bound one.
///
/// Examples:
///   socialcrm plugin install ./recency-scorer
///   socialcrm scorer bind churn-risk recency-scorer
///   socialcrm insights recompute
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Which scorer makes each prediction.
    Bindings,
    /// Bind a prediction to a scorer, installed or bundled, after checking it
    /// loads and makes that prediction. `insights recompute` uses it.
    ///
    /// Example: socialcrm scorer bind churn-risk recency-scorer
    #[command(verbatim_doc_comment)]
    Bind { prediction: String, scorer: String },
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let json = args.json;
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        match args.action {
            Action::Bindings => {
                let list = predict::bindings(&db).await?;
                print(json, &list, || {
                    for b in &list {
                        println!("{:<12} {:<20} bound by {}", b.prediction, b.scorer, b.bound_by);
                    }
                })
            }
            Action::Bind { prediction, scorer } => {
                let b = predict::bind(&db, &prediction, &scorer, &super::actor()).await?;
                print(json, &b, || {
                    println!(
                        "{} is made by {}: run `socialcrm insights recompute` to score every contact with it",
                        b.prediction, b.scorer
                    )
                })
            }
        }
    })
}
