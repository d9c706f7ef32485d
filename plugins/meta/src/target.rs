//! Post ids name where a post lives, so a reply knows which Graph edge to use:
//! `facebook:<comment id>`, `instagram:<comment id>`, `messenger:<message id>`.
//! Facebook and Instagram ids come from separate spaces; the prefix also keeps
//! them apart within one account.

use socialcrm_sdk::PluginError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Facebook(String),
    Instagram(String),
    Messenger(String),
}

impl Target {
    pub fn encode(&self) -> String {
        match self {
            Target::Facebook(id) => format!("facebook:{id}"),
            Target::Instagram(id) => format!("instagram:{id}"),
            Target::Messenger(id) => format!("messenger:{id}"),
        }
    }

    pub fn parse(external_id: &str) -> Result<Target, PluginError> {
        let target = match external_id.split_once(':') {
            Some(("facebook", id)) => Target::Facebook(id.to_string()),
            Some(("instagram", id)) => Target::Instagram(id.to_string()),
            Some(("messenger", id)) => Target::Messenger(id.to_string()),
            _ => {
                return Err(PluginError::Permanent(format!(
                    "`{external_id}` is not a post of this channel (facebook:, instagram: or messenger: id)"
                )));
            }
        };
        let id = match &target {
            Target::Facebook(id) | Target::Instagram(id) | Target::Messenger(id) => id,
        };
        // The id becomes a path segment of the Graph URL.
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(PluginError::Permanent(format!("`{external_id}` has a malformed id")));
        }
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_strangers() {
        for t in [
            Target::Facebook("388222313622361_388224366955489".into()),
            Target::Instagram("17865799348089039".into()),
            Target::Messenger("m_AG5Hz2Uq7tuw-NEh.X".into()),
        ] {
            assert_eq!(Target::parse(&t.encode()).unwrap(), t);
        }
        for bad in [
            "388222313622361",
            "twitter:1",
            "facebook:",
            "facebook:1/../me",
            "instagram:1?x=2",
        ] {
            assert!(matches!(Target::parse(bad), Err(PluginError::Permanent(_))), "{bad}");
        }
    }
}
