//! `socialcrm analyze`: run an analyzer plugin over JSONL posts.

use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Map, Value, json};

use super::Global;
use crate::plugins::{self, PluginKind, registry};
use crate::runtime::types::AnalysisInput;
use crate::runtime::types::{Analysis, PostKind};
use crate::runtime::{AnalyzerPlugin, Runtime, RuntimeOptions};

/// Analyze posts with an analyzer plugin: one JSON line in, one JSON line out, in order.
///
/// Input lines are objects with at least "id" and "text" (optionally "language").
/// Output lines are {"id", "score", "label", ...}; a line that cannot be read or
/// analyzed gives {"line", "error"} and the exit code is 1 at the end.
///
/// Example: echo '{"id":1,"text":"I love it!"}' | socialcrm analyze --plugin sentiment
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// A bundled or installed plugin's name, a plugin directory, or a .wasm file.
    #[arg(long)]
    plugin: String,
    /// JSONL input; `-` or nothing reads standard input.
    file: Option<PathBuf>,
    /// Posts per plugin call.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    batch: u32,
}

/// One input line: its number, and its id and post or why it could not be read.
type Line = (usize, Result<(Value, AnalysisInput), String>);

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    // A path needs no database; a name is the installed version, else a bundled plugin.
    let (manifest, wasm) = if std::path::Path::new(&args.plugin).exists() {
        plugins::resolve(&args.plugin)?
    } else {
        let found = global
            .runtime()?
            .block_on(async { anyhow::Ok(registry::find(&global.db().await?, &args.plugin).await?) })?;
        (found.manifest, found.wasm)
    };
    if manifest.kind != PluginKind::Analyzer {
        anyhow::bail!("plugin {} is a channel plugin, not an analyzer", manifest.name);
    }
    let runtime = Runtime::new(RuntimeOptions::default())?;
    let plugin = runtime.load_analyzer(manifest.sandbox(), &wasm)?;

    let input: Box<dyn BufRead> = match &args.file {
        None => Box::new(std::io::stdin().lock()),
        Some(p) if p.as_os_str() == "-" => Box::new(std::io::stdin().lock()),
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
        )),
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut failures = 0usize;
    let mut batch: Vec<Line> = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let line = line.context("reading input")?;
        if line.trim().is_empty() {
            continue;
        }
        batch.push((index + 1, parse(&line)));
        if batch.len() == args.batch as usize {
            failures += flush(&plugin, &mut batch, &mut out)?;
        }
    }
    failures += flush(&plugin, &mut batch, &mut out)?;
    out.flush()?;
    if failures > 0 {
        eprintln!("{failures} line(s) could not be analyzed; see the \"error\" lines in the output");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn parse(line: &str) -> Result<(Value, AnalysisInput), String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let id = value
        .get("id")
        .cloned()
        .filter(|v| v.is_string() || v.is_number())
        .ok_or("missing \"id\" (a string or number)")?;
    let text = value
        .get("text")
        .and_then(Value::as_str)
        .ok_or("missing \"text\" (a string)")?;
    let input = AnalysisInput {
        text: text.to_string(),
        kind: PostKind::Post,
        language: value.get("language").and_then(Value::as_str).map(str::to_string),
    };
    Ok((id, input))
}

/// Analyzes the batch and writes its lines in input order. A failed batch is
/// retried post by post, so only the posts that fail are reported.
fn flush(plugin: &AnalyzerPlugin, batch: &mut Vec<Line>, out: &mut impl Write) -> anyhow::Result<usize> {
    let inputs: Vec<AnalysisInput> = batch
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok().map(|(_, p)| p.clone()))
        .collect();
    let mut results: Vec<Result<Analysis, String>> = match plugin.analyze(&inputs) {
        Ok(out) => out.value.into_iter().map(Ok).collect(),
        Err(_) if inputs.len() > 1 => inputs
            .iter()
            .map(|p| {
                plugin
                    .analyze(std::slice::from_ref(p))
                    .map_err(|e| e.to_string())
                    .and_then(|o| {
                        o.value
                            .into_iter()
                            .next()
                            .ok_or_else(|| "no analysis returned".to_string())
                    })
            })
            .collect(),
        Err(e) => vec![Err(e.to_string())],
    }
    .into_iter()
    .rev()
    .collect();
    let mut failures = 0;
    for (line, parsed) in batch.drain(..) {
        let record = match parsed {
            Err(e) => Err(e),
            Ok((id, _)) => match results.pop() {
                Some(Ok(analysis)) => Ok(render(id, analysis)),
                Some(Err(e)) => Err(e),
                None => Err("no analysis returned".into()),
            },
        };
        let value = record.unwrap_or_else(|e| {
            failures += 1;
            json!({"line": line, "error": e})
        });
        serde_json::to_writer(&mut *out, &value)?;
        out.write_all(b"\n")?;
    }
    Ok(failures)
}

fn render(id: Value, a: Analysis) -> Value {
    let mut map = Map::new();
    map.insert("id".into(), id);
    if let Some(s) = a.sentiment {
        map.insert("score".into(), json!((f64::from(s) * 10_000.0).round() / 10_000.0));
    }
    if let Some(label) = a.label {
        map.insert("label".into(), json!(label));
    }
    if !a.intents.is_empty() {
        let intents: Map<String, Value> = a.intents.into_iter().map(|l| (l.name, json!(l.confidence))).collect();
        map.insert("intents".into(), Value::Object(intents));
    }
    if !a.topics.is_empty() {
        map.insert("topics".into(), json!(a.topics));
    }
    if let Some(language) = a.language {
        map.insert("language".into(), json!(language));
    }
    Value::Object(map)
}
