//! Plugin versions as the admin changes them: the registry's rules, with what
//! an activation also needs done in the same transaction (an upgraded
//! analyzer's history queued for re-analysis).

use super::App;
use crate::plugins::Package;
use crate::plugins::registry::{self, Allow, Installed, RegistryError};
use crate::reanalysis::QueueOnUpgrade;

impl App {
    /// Installs a new plugin (`allow`: what the admin allows beyond the defaults).
    pub async fn install_plugin(
        &self,
        package: &Package,
        allow: Allow,
        actor: &str,
    ) -> Result<Installed, RegistryError> {
        registry::install_allowing(self.db(), self.runtime(), package, allow, actor).await
    }

    /// Installs a newer version; it becomes active (its re-analysis queued in
    /// the same transaction) or waits for approval of what it widens.
    pub async fn upgrade_plugin(&self, package: &Package, actor: &str) -> Result<Installed, RegistryError> {
        registry::upgrade(
            self.db(),
            self.runtime(),
            self.secret_box(),
            package,
            actor,
            &QueueOnUpgrade,
        )
        .await
    }

    /// Approves a version awaiting approval and activates it (re-analysis queued with it).
    pub async fn approve_plugin(&self, name: &str, version: &str, actor: &str) -> Result<Installed, RegistryError> {
        registry::approve(
            self.db(),
            self.runtime(),
            self.secret_box(),
            name,
            version,
            actor,
            &QueueOnUpgrade,
        )
        .await
    }
}
