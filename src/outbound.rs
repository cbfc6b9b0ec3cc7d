//! Outbound HTTP to subscribers' webhook endpoints: bounded in time, no
//! redirects followed, and never to this network's own hosts.
//!
//! A target URL is checked when an endpoint is created or changed and again
//! before every send: `https` (unless `WEBHOOK_ALLOW_HTTP`), no user name or
//! password, and a host that is — or resolves only to — public addresses:
//! never loopback, private, shared, link-local, unique-local, multicast,
//! documentation, benchmarking or unspecified ones, nor names such as
//! `localhost` or `*.internal` (cloud metadata). The client's own resolver
//! applies the same rule when it connects, so a name that resolves to a
//! public address at the check and to a private one at the connection (DNS
//! rebinding) is refused too. `WEBHOOK_ALLOW_PRIVATE_TARGETS` lifts the
//! address rule for local development.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// What a target may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Accept `http://` (development only).
    pub allow_http: bool,
    /// Accept loopback and private addresses (development only).
    pub allow_private: bool,
}

/// Why a target URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("is not a valid URL")]
    Invalid,
    #[error(
        "must be an https:// URL (set WEBHOOK_ALLOW_HTTP=true to allow http:// in development)"
    )]
    Scheme,
    #[error("must not contain a user name or password")]
    Credentials,
    #[error("must name a public host: {0}")]
    NotPublic(String),
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 into IPv4
                || (s[0] == 0x2002) // 6to4 tunnels into IPv4
                || (s[0] == 0x2001 && s[1] == 0x0000)) // Teredo
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16: cloud metadata lives here
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

/// Host names that are never public, whatever they resolve to.
fn is_local_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.ends_with(".internal")
        || host.ends_with(".local")
        || host == "metadata"
}

/// Checks a target's form (scheme, credentials, literal addresses, local
/// names) without resolving it.
pub fn check_form(raw: &str, policy: TargetPolicy) -> Result<Url, TargetError> {
    let url = Url::parse(raw).map_err(|_| TargetError::Invalid)?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        _ => return Err(TargetError::Scheme),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Credentials);
    }
    if policy.allow_private {
        return Ok(url);
    }
    match url.host() {
        None => Err(TargetError::Invalid),
        Some(url::Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => {
            Err(TargetError::NotPublic(ip.to_string()))
        }
        Some(url::Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => {
            Err(TargetError::NotPublic(ip.to_string()))
        }
        Some(url::Host::Domain(name)) if is_local_name(name) => {
            Err(TargetError::NotPublic(name.to_owned()))
        }
        Some(_) => Ok(url),
    }
}

/// Checks a target fully: its form, then every address its host resolves
/// to now. A name that does not resolve (yet) passes: it is judged again,
/// address by address, when a delivery connects.
pub async fn check_target(raw: &str, policy: TargetPolicy) -> Result<Url, TargetError> {
    let url = check_form(raw, policy)?;
    if policy.allow_private {
        return Ok(url);
    }
    if let Some(url::Host::Domain(name)) = url.host() {
        let port = url.port_or_known_default().unwrap_or(443);
        let looked_up = tokio::net::lookup_host((name, port)).await;
        let addrs: Vec<SocketAddr> = match looked_up {
            Ok(found) => found.collect(),
            Err(_) => Vec::new(),
        };
        if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
            return Err(TargetError::NotPublic(format!(
                "{name} resolves to {}",
                bad.ip()
            )));
        }
    }
    Ok(url)
}

/// Resolves names for the client, keeping public addresses only.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            if is_local_name(name.as_str()) {
                return Err("refused: a local host name".into());
            }
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err("refused: no public address".into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client for deliveries.
pub fn client(timeout: Duration, policy: TargetPolicy) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("clinic-api-webhooks/1");
    if !policy.allow_private {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    builder.build().expect("the webhook client builds")
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: TargetPolicy = TargetPolicy {
        allow_http: false,
        allow_private: false,
    };

    #[test]
    fn private_and_special_targets_are_refused() {
        for bad in [
            "https://169.254.169.254/latest/meta-data/",
            "https://10.0.0.1/",
            "https://192.168.1.10/",
            "https://172.16.5.4/",
            "https://100.64.0.1/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://0.0.0.0/",
            "https://2130706433/",
            "https://0x7f000001/",
            "https://0177.0.0.1/",
            "https://127.1/",
            "https://224.0.0.1/",
            "https://localhost/",
            "https://api.localhost/",
            "https://metadata.google.internal/computeMetadata/v1/",
        ] {
            assert!(
                matches!(check_form(bad, STRICT), Err(TargetError::NotPublic(_))),
                "{bad}: {:?}",
                check_form(bad, STRICT)
            );
        }
    }

    #[test]
    fn forms_are_checked() {
        assert_eq!(
            check_form("https://user:pw@partner.example/hook", STRICT),
            Err(TargetError::Credentials)
        );
        assert_eq!(
            check_form("http://partner.example/hook", STRICT),
            Err(TargetError::Scheme)
        );
        assert_eq!(
            check_form("ftp://x.example/", STRICT),
            Err(TargetError::Scheme)
        );
        assert!(check_form("https://partner.example/hooks/clinic", STRICT).is_ok());
        assert!(check_form("https://93.184.215.14/hook", STRICT).is_ok());
        let dev = TargetPolicy {
            allow_http: true,
            allow_private: true,
        };
        assert!(check_form("http://127.0.0.1:9000/hook", dev).is_ok());
        assert_eq!(
            check_form("http://u:p@127.0.0.1/", dev),
            Err(TargetError::Credentials)
        );
    }

    #[test]
    fn public_addresses_pass() {
        for ok in ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(ok.parse().unwrap()), "{ok}");
        }
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        assert!(matches!(
            check_target("https://localhost:9/", STRICT).await,
            Err(TargetError::NotPublic(_))
        ));
    }
}
