//! `socialcrm plugin ...`: the admin's lifecycle commands and the plugin
//! author's toolchain.

use std::process::ExitCode;

use clap::Subcommand;

use super::{Global, plugin_dev};

/// Install, inspect and manage plugins; scaffold, test and package your own.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: PluginCommand,
}

#[derive(Subcommand)]
enum PluginCommand {
    #[command(flatten)]
    Dev(plugin_dev::DevCommand),
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        PluginCommand::Dev(command) => plugin_dev::run(global, command),
    }
}
