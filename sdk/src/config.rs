//! Reading an account's configuration.

use crate::types::{ConfigEntry, PluginError};

/// Lookups on the configuration a call receives.
pub trait ConfigExt {
    /// The value of `name`, when set and not blank.
    fn get(&self, name: &str) -> Option<&str>;

    /// The value of `name`, or an `invalid-config` error naming it.
    fn require(&self, name: &str) -> Result<&str, PluginError> {
        self.get(name)
            .ok_or_else(|| PluginError::InvalidConfig(format!("config field `{name}` is required")))
    }
}

impl ConfigExt for [ConfigEntry] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|e| e.name == name)
            .map(|e| e.value.trim())
            .filter(|v| !v.is_empty())
    }
}
