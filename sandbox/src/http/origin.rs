//! Allowed origins (scheme, host, port) and the public-address check.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One origin a plugin may call: exact scheme and port, exact host or a
/// `*.` wildcard suffix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedOrigin {
    scheme: String,
    host: String,
    wildcard: bool,
    port: u16,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OriginError {
    #[error("allowed host `{pattern}` uses config field `{field}`, which is not set")]
    MissingField { pattern: String, field: String },
    #[error("allowed host `{pattern}` is not a URL of the form scheme://host[:port]: {why}")]
    Invalid { pattern: String, why: String },
}

impl AllowedOrigin {
    /// Parses `pattern` after replacing each `{field}` with the account's config
    /// value. A value without a scheme means `https://`.
    pub fn expand(pattern: &str, config: &BTreeMap<String, String>) -> Result<Self, OriginError> {
        let mut expanded = String::new();
        let mut rest = pattern;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .ok_or_else(|| OriginError::Invalid {
                    pattern: pattern.into(),
                    why: "unclosed `{`".into(),
                })?;
            let field = &rest[open + 1..close];
            let value = config
                .get(field)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| OriginError::MissingField {
                    pattern: pattern.into(),
                    field: field.into(),
                })?;
            // A value that is only part of the pattern is a host name (or a
            // port): `evil.example#`, `/`, `@` or `:` would move the origin.
            let whole = open == 0 && close + 1 == rest.len() && expanded.is_empty();
            if !whole
                && !value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            {
                return Err(OriginError::Invalid {
                    pattern: pattern.into(),
                    why: format!("config field `{field}` must be a host name here, not `{value}`"),
                });
            }
            expanded.push_str(&rest[..open]);
            expanded.push_str(value.trim_end_matches('/'));
            rest = &rest[close + 1..];
        }
        expanded.push_str(rest);
        Self::parse(&expanded).map_err(|why| OriginError::Invalid {
            pattern: pattern.into(),
            why,
        })
    }

    fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text.split_once("://").unwrap_or(("https", text));
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            other => return Err(format!("scheme `{other}` is not http or https")),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err("user info is not allowed".into());
        }
        let (host, port) = split_port(authority)?;
        let port = port.unwrap_or(default_port);
        let (wildcard, host) = match host.strip_prefix("*.") {
            Some(suffix) => (true, suffix),
            None => (false, host),
        };
        if host.is_empty() || host.contains(['*', ' ']) {
            return Err(format!("bad host `{host}`"));
        }
        Ok(AllowedOrigin {
            scheme,
            host: host.to_ascii_lowercase(),
            wildcard,
            port,
        })
    }

    /// Whether a request to `scheme://host:port` is allowed.
    pub fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let host_ok = if self.wildcard {
            host.strip_suffix(&self.host)
                .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1)
        } else {
            host == self.host
        };
        host_ok && self.port == port && self.scheme.eq_ignore_ascii_case(scheme)
    }
}

impl std::fmt::Display for AllowedOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let star = if self.wildcard { "*." } else { "" };
        write!(f, "{}://{star}{}:{}", self.scheme, self.host, self.port)
    }
}

fn split_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    // IPv6 literals are bracketed: [::1]:8080
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed `[`")?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| format!("bad port `{p}`"))?),
            None if after.is_empty() => None,
            None => return Err(format!("unexpected `{after}`")),
        };
        return Ok((host, port));
    }
    match authority.rsplit_once(':') {
        Some((host, p)) => Ok((host, Some(p.parse().map_err(|_| format!("bad port `{p}`"))?))),
        None => Ok((authority, None)),
    }
}

/// Whether `ip` is a public unicast address (not loopback, private, link-local,
/// carrier-grade NAT, multicast, documentation or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let first = segments[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || segments[..6].iter().all(|s| *s == 0) // IPv4-compatible `::a.b.c.d` (deprecated)
        || first == 0x2002 // 6to4: a relay reaches the embedded IPv4 address, private or not
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated, still routed on some networks)
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64 can reach private v4
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn expands_config_fields_and_defaults() {
        let o = AllowedOrigin::expand("{instance}", &config(&[("instance", "https://mastodon.social/")])).unwrap();
        assert!(o.matches("https", "mastodon.social", 443));
        assert!(!o.matches("http", "mastodon.social", 80));
        assert!(!o.matches("https", "mastodon.social", 8443));
        assert!(!o.matches("https", "evil.social", 443));
        let bare = AllowedOrigin::expand("{instance}", &config(&[("instance", "example.org")])).unwrap();
        assert!(bare.matches("https", "EXAMPLE.org", 443));
        let local = AllowedOrigin::expand("http://127.0.0.1:{port}", &config(&[("port", "8080")])).unwrap();
        assert!(local.matches("http", "127.0.0.1", 8080));
    }

    #[test]
    fn a_value_inside_a_pattern_cannot_move_the_origin() {
        for trick in [
            "evil.example#",
            "evil.example/",
            "user@evil.example",
            "evil.example:8443",
            "a b",
        ] {
            let err = AllowedOrigin::expand("https://{tenant}.api.example.com", &config(&[("tenant", trick)]));
            assert!(
                matches!(&err, Err(OriginError::Invalid { why, .. }) if why.contains("must be a host name here")),
                "{trick}: {err:?}"
            );
        }
        let ok = AllowedOrigin::expand("https://{tenant}.api.example.com", &config(&[("tenant", "acme-eu")])).unwrap();
        assert!(ok.matches("https", "acme-eu.api.example.com", 443));
        // A whole-origin field is a URL by design.
        let whole = AllowedOrigin::expand("{instance}", &config(&[("instance", "https://m.example:8443/")])).unwrap();
        assert!(whole.matches("https", "m.example", 8443));
    }

    #[test]
    fn wildcard_matches_subdomains_only() {
        let o = AllowedOrigin::expand("https://*.reddit.com", &BTreeMap::new()).unwrap();
        assert!(o.matches("https", "oauth.reddit.com", 443));
        assert!(!o.matches("https", "reddit.com", 443));
        assert!(!o.matches("https", "evilreddit.com", 443));
    }

    #[test]
    fn refuses_bad_patterns() {
        assert_eq!(
            AllowedOrigin::expand("{instance}", &BTreeMap::new()),
            Err(OriginError::MissingField {
                pattern: "{instance}".into(),
                field: "instance".into()
            })
        );
        assert!(AllowedOrigin::expand("ftp://x.org", &BTreeMap::new()).is_err());
        assert!(AllowedOrigin::expand("https://u@x.org", &BTreeMap::new()).is_err());
        assert!(AllowedOrigin::expand("https://x.org:99999", &BTreeMap::new()).is_err());
        assert!(AllowedOrigin::expand("https://{x", &BTreeMap::new()).is_err());
    }

    #[test]
    fn classifies_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "::127.0.0.1",
            "::10.0.0.1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "fec0::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["1.1.1.1", "151.101.1.140", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
