//! The plugin author's commands: `plugin new` and `plugin test`.

use std::process::ExitCode;

use clap::Subcommand;

use super::Global;

#[derive(Subcommand)]
pub enum DevCommand {
    /// Run the conformance suite against a plugin.
    Test {
        /// The plugin: a `.wasm` with `plugin.toml` beside it, or a directory.
        plugin: String,
    },
}

pub fn run(_global: &Global, command: DevCommand) -> anyhow::Result<ExitCode> {
    match command {
        DevCommand::Test { plugin } => anyhow::bail!("the conformance suite is not available yet ({plugin})"),
    }
}
