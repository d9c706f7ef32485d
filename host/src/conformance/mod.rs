//! The conformance suite behind `socialcrm plugin test`: a plugin runs in the
//! real host runtime against a scripted network (every request answered in
//! one mode, or from the author's recorded responses), and each check is
//! reported as passed, failed (with why) or skipped (with why).

pub mod analyzer;
pub mod channel;
pub mod format;
pub mod record;

use std::fmt;
use std::sync::Arc;

pub use crate::runtime::fixtures::{FILE as FIXTURES_FILE, FixtureError, Fixtures, RecordedPage};
pub use crate::runtime::replay::Recorded;

use crate::plugins::Manifest;
use crate::runtime::replay::Replay;
use crate::runtime::types::LogLine;
use crate::runtime::{LoadError, Plugin, Runtime, RuntimeOptions};

/// The first check of every run.
pub const LOADS: &str = "loads in the host";
/// A source's `describe` answers.
pub const DESCRIBES: &str = "describes itself";

/// How one check ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Passed, with an optional note on what was seen.
    Pass(Option<String>),
    /// Failed, and why.
    Fail(String),
    /// Not run, and why (never counted as passed).
    Skip(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
}

impl Check {
    fn new(name: &'static str, result: Result<Option<String>, String>) -> Check {
        let outcome = match result {
            Ok(note) => Outcome::Pass(note),
            Err(why) => Outcome::Fail(why),
        };
        Check { name, outcome }
    }

    fn skip(name: &'static str, why: impl Into<String>) -> Check {
        Check {
            name,
            outcome: Outcome::Skip(why.into()),
        }
    }
}

/// Every check of one run, in the order they ran.
#[derive(Clone, Debug)]
pub struct Report {
    /// `name version (kind)`.
    pub plugin: String,
    pub checks: Vec<Check>,
}

impl Report {
    /// The check called `name`, when it ran.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.checks.iter().filter(|c| f(&c.outcome)).count()
    }

    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Pass(_)))
    }

    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Fail(_)))
    }

    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skip(_)))
    }

    /// Nothing failed; with `strict`, nothing was skipped either.
    pub fn ok(&self, strict: bool) -> bool {
        self.failed() == 0 && (!strict || self.skipped() == 0)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "conformance of {}", self.plugin)?;
        for check in &self.checks {
            match &check.outcome {
                Outcome::Pass(None) => writeln!(f, "PASS  {}", check.name)?,
                Outcome::Pass(Some(note)) => writeln!(f, "PASS  {} ({note})", check.name)?,
                Outcome::Fail(why) => writeln!(f, "FAIL  {}: {why}", check.name)?,
                Outcome::Skip(why) => writeln!(f, "SKIP  {}: {why}", check.name)?,
            }
        }
        write!(
            f,
            "{} checks: {} passed, {} failed, {} skipped",
            self.checks.len(),
            self.passed(),
            self.failed(),
            self.skipped()
        )
    }
}

/// Runs the suite of the plugin's kind. Fails only when the runtime cannot
/// start; a plugin that does not load is a failed [`LOADS`] check.
pub fn run(manifest: Manifest, wasm: &[u8], fixtures: &Fixtures) -> Result<Report, LoadError> {
    let network = Arc::new(Replay::default());
    let runtime = Runtime::new(RuntimeOptions {
        transport: network.clone(),
        // Repeated runs (an author's, the tests') compile each component once.
        cache_dir: crate::runtime::private_dir(std::env::temp_dir().join("socialcrm-conformance-cache")),
        ..RuntimeOptions::default()
    })?;
    let kind = manifest.kind.name();
    let plugin = format!("{} {} ({kind})", manifest.name, manifest.version);
    let loaded = Check::new(LOADS, Ok(None));
    let checks = match crate::plugins::load(&runtime, &manifest, wasm) {
        Err(e) => vec![Check::new(LOADS, Err(e.to_string()))],
        Ok(Plugin::Analyzer(p)) => std::iter::once(loaded).chain(analyzer::run(&p, fixtures)).collect(),
        // Sources and scorers have no fixtures yet: they load and describe themselves.
        Ok(Plugin::Source(p)) => vec![
            loaded,
            Check::new(DESCRIBES, p.describe().map(|_| None).map_err(|e| failure(&e))),
        ],
        Ok(Plugin::Scorer(p)) => vec![
            loaded,
            Check::new(DESCRIBES, p.describe().map(|_| None).map_err(|e| failure(&e))),
        ],
        Ok(Plugin::Channel(p)) => std::iter::once(loaded)
            .chain(channel::run(&p, &manifest, &network, fixtures))
            .collect(),
    };
    Ok(Report { plugin, checks })
}

/// Why a call failed, with the last lines the plugin logged before it did.
fn failure(e: &crate::runtime::CallError) -> String {
    with_logs(e.reason.to_string(), &e.logs)
}

/// `why`, followed by the last lines the plugin logged.
fn with_logs(mut why: String, logs: &[LogLine]) -> String {
    const SHOWN: usize = 10;
    for line in &logs[logs.len().saturating_sub(SHOWN)..] {
        let level = format!("{:?}", line.level).to_lowercase();
        why.push_str(&format!("\n      plugin log, {level}: {}", line.message));
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::types::{LogLevel, LogLine, PluginError};
    use crate::runtime::{CallError, FailReason};

    #[test]
    fn a_failure_shows_the_last_ten_lines_the_plugin_logged() {
        let logs = (1..=12)
            .map(|i| LogLine {
                level: if i == 12 { LogLevel::Warn } else { LogLevel::Info },
                message: format!("step {i}"),
            })
            .collect();
        let e = CallError {
            plugin: "p".into(),
            function: "poll",
            reason: FailReason::Plugin(PluginError::Transient("HTTP 502".into())),
            logs,
        };
        let why = failure(&e);
        let lines: Vec<&str> = why.lines().collect();
        assert_eq!(lines[0], "transient error: HTTP 502");
        assert_eq!(lines.len(), 11, "{why}");
        assert_eq!(lines[1].trim(), "plugin log, info: step 3");
        assert_eq!(lines[10].trim(), "plugin log, warn: step 12");
        let quiet = CallError { logs: Vec::new(), ..e };
        assert_eq!(failure(&quiet), "transient error: HTTP 502");
    }
}
