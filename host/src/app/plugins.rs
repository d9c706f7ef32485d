//! Plugin versions as the admin changes them: the registry's rules, with what
//! an activation also needs done in the same transaction (an upgraded
//! analyzer's history queued for re-analysis), and installs and upgrades
//! from plugin indexes, which end in the same calls as a package file's.

use super::App;
use crate::plugins::Package;
use crate::plugins::index::catalog::{self, Catalog};
use crate::plugins::index::{FetchLimits, IndexError, Offer, Spec};
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

/// Why an install or upgrade from an index did not happen.
#[derive(Debug, thiserror::Error)]
pub enum FromIndexError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

impl App {
    /// Installs the plugin `spec` names from the configured indexes (or only
    /// `index`): the index verified, the package downloaded and checked
    /// against its entry, then the same install as a package file's.
    pub async fn install_from_index(
        &self,
        spec: &Spec,
        index: Option<&str>,
        allow: Allow,
        limits: &FetchLimits,
        actor: &str,
    ) -> Result<(Offer, Installed), FromIndexError> {
        // Installed already: refused before anything is downloaded.
        if let Ok(existing) = registry::versions(self.db(), &spec.name).await {
            let active = existing.iter().find(|p| p.active).unwrap_or(&existing[0]);
            return Err(RegistryError::Installed {
                name: spec.name.clone(),
                active: active.manifest.version.clone(),
            }
            .into());
        }
        let offer = catalog::resolve(Catalog::fetch(self.db(), index, limits).await?, spec)?;
        let package = catalog::download(&offer, limits).await?;
        let installed = self.install_plugin(&package, allow, actor).await?;
        Ok((offer, installed))
    }

    /// Upgrades an installed plugin to the version `spec` names (or the newest
    /// for this host) from the configured indexes: a version not newer than
    /// the active one is refused before anything is downloaded (an old index
    /// served again cannot downgrade a plugin); then the same upgrade as a
    /// package file's.
    pub async fn upgrade_from_index(
        &self,
        spec: &Spec,
        index: Option<&str>,
        limits: &FetchLimits,
        actor: &str,
    ) -> Result<(Offer, Installed), FromIndexError> {
        let existing = registry::versions(self.db(), &spec.name).await?;
        let current = existing.iter().find(|p| p.active).unwrap_or(&existing[0]);
        let offer = catalog::resolve(Catalog::fetch(self.db(), index, limits).await?, spec)?;
        if offer.release.version <= current.manifest.version {
            return Err(RegistryError::NotNewer {
                name: spec.name.clone(),
                active: current.manifest.version.clone(),
                version: offer.release.version.clone(),
            }
            .into());
        }
        let package = catalog::download(&offer, limits).await?;
        let upgraded = self.upgrade_plugin(&package, actor).await?;
        Ok((offer, upgraded))
    }
}
