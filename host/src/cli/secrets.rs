//! `socialcrm secrets rotate-key`.

use std::process::ExitCode;

use super::Global;
use crate::secrets::SecretBox;

/// The key that seals channel secrets at rest.
///
/// Examples:
///   socialcrm secrets rotate-key
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Seal every channel account's secrets under a new key, in one
    /// transaction, then replace the key file (the new key waits in
    /// `secret.key.rotating` meanwhile). With `SOCIALCRM_SECRET_KEY`,
    /// the new key is printed instead: set it on every node before they
    /// restart (until then they cannot open the secrets).
    RotateKey,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let Action::RotateKey = args.action;
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        let old = global.secret_box()?;
        let key = SecretBox::new_key();
        let new = SecretBox::from_base64(&key)?;
        let from_env = std::env::var_os("SOCIALCRM_SECRET_KEY").is_some();
        let staged = if from_env {
            None
        } else {
            Some(SecretBox::stage_key(&global.data_dir, &key)?)
        };
        let n = crate::ingest::reseal_secrets(&db, &old, &new).await?;
        let details = serde_json::json!({ "accounts": n });
        crate::store::audit(db.pool(), &super::actor(), "secrets.rotate-key", "secrets", &details).await?;
        match staged {
            Some(staged) => {
                SecretBox::commit_key(&global.data_dir, &staged)?;
                println!(
                    "resealed the secrets of {n} account(s) under a new key in {}",
                    global.data_dir.display()
                );
            }
            None => println!("resealed the secrets of {n} account(s); the new SOCIALCRM_SECRET_KEY is:\n{key}"),
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
