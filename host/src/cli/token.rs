//! `socialcrm token create|revoke|list`.

use std::process::ExitCode;

use super::Global;
use crate::tokens::{self, Role};

/// API bearer tokens. Each has a role: viewer reads, agent also works the
/// inbox, admin also manages plugins, channels, imports and tokens. The secret
/// is printed once; only its hash is stored.
///
/// Examples:
///   socialcrm token create --role agent --name alice
///   socialcrm token list
///   socialcrm token revoke alice
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Create a token and print its secret (shown this once).
    Create {
        /// viewer, agent or admin.
        #[arg(long)]
        role: Role,
        /// Unique; names the actor in the audit log.
        #[arg(long)]
        name: String,
    },
    /// Revoke a token: requests with it are refused from now on.
    Revoke { name: String },
    /// Every token with its role and last use (never the secrets).
    List,
}

impl clap::ValueEnum for Role {
    fn value_variants<'a>() -> &'a [Self] {
        &[Role::Viewer, Role::Agent, Role::Admin]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        let actor = super::actor();
        match args.action {
            Action::Create { role, name } => {
                let token = tokens::create(&db, &name, role, &actor).await?;
                eprintln!("token `{name}` ({role}) created; it is shown only now:");
                println!("{token}");
            }
            Action::Revoke { name } => {
                tokens::revoke(&db, &name, &actor).await?;
                println!("token `{name}` revoked");
            }
            Action::List => {
                println!("{:<24} {:<7} {:<16} last used", "name", "role", "created by");
                for t in tokens::list(&db).await? {
                    let used = t
                        .last_used_at
                        .map(crate::insights::date)
                        .unwrap_or_else(|| "never".into());
                    println!("{:<24} {:<7} {:<16} {used}", t.name, t.role, t.created_by);
                }
            }
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
