//! Provider addresses docsync may call: public internet addresses only.
//!
//! A provider URL comes from a user (Hudu's `baseUrl`). If it named, or resolved to, a loopback,
//! private, link-local or other non-global address, docsync would send requests (with the
//! account's API key) into the operator's own network: server-side request forgery. The check
//! here refuses such URLs when they are saved; `DOCSYNC_ALLOW_PRIVATE_PROVIDER_URLS` skips it
//! for the sandbox and tests.

use crate::url::BaseUrl;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// How long a host name may take to resolve before the URL is refused.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why `ip` is not a public internet address (None when it is one).
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("the unspecified address (0.0.0.0/8)")
    } else if ip.is_loopback() {
        Some("a loopback address (127.0.0.0/8)")
    } else if ip.is_private() {
        Some("a private network address (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)")
    } else if ip.is_link_local() {
        Some("a link-local address (169.254.0.0/16, where cloud metadata services answer)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT address (100.64.0.0/10)")
    } else if a == 192 && b == 0 && c == 0 {
        Some("an IETF protocol address (192.0.0.0/24)")
    } else if ip.is_documentation() {
        Some("a documentation address (192.0.2.0/24, 198.51.100.0/24 or 203.0.113.0/24)")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("a benchmarking address (198.18.0.0/15)")
    } else if ip.is_multicast() {
        Some("a multicast address (224.0.0.0/4)")
    } else if ip.is_broadcast() || a >= 240 {
        Some("a reserved address (240.0.0.0/4)")
    } else {
        None
    }
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        // ::ffff:a.b.c.d reaches the IPv4 address itself.
        return v4_reason(v4);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return v4_reason(Ipv4Addr::new(a, b, c, d));
    }
    if ip.is_unspecified() {
        return Some("the unspecified address (::)");
    }
    if ip.is_loopback() {
        return Some("a loopback address (::1)");
    }
    match s[0] {
        x if x & 0xfe00 == 0xfc00 => Some("a private network address (fc00::/7)"),
        x if x & 0xffc0 == 0xfe80 => Some("a link-local address (fe80::/10)"),
        x if x & 0xffc0 == 0xfec0 => Some("a site-local address (fec0::/10)"),
        x if x & 0xff00 == 0xff00 => Some("a multicast address (ff00::/8)"),
        0x2001 if s[1] == 0x0db8 => Some("a documentation address (2001:db8::/32)"),
        0x2001 if s[1] == 0 => Some("a Teredo tunnel address (2001::/32)"),
        0x2002 => {
            // 6to4 (2002::/16) reaches the IPv4 address in its next 32 bits.
            let [a, b] = s[1].to_be_bytes();
            let [c, d] = s[2].to_be_bytes();
            v4_reason(Ipv4Addr::new(a, b, c, d))
        }
        // Global unicast is 2000::/3; everything else is reserved or special.
        x if x & 0xe000 == 0x2000 => None,
        _ => Some("a reserved IPv6 address (outside 2000::/3)"),
    }
}

/// Refuses `url` unless its host is, or resolves only to, public internet addresses. The
/// message names `field`, the address and why it is refused, or says that the host name
/// could not be resolved.
pub async fn check_public_host(field: &str, url: &BaseUrl) -> Result<(), String> {
    let parsed = url::Url::parse(url.as_str())
        .map_err(|_| format!("{field} must be a URL such as https://it.yourmsp.com"))?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    let refuse = |shown: String, ip: IpAddr, reason: &str| {
        format!(
            "{field} {shown}{ip}, {reason}: docsync only calls providers on public internet \
             addresses (use the provider's public host name)"
        )
    };
    let name = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => {
            return match non_public_reason(IpAddr::V4(ip)) {
                Some(reason) => Err(refuse("points at ".into(), IpAddr::V4(ip), reason)),
                None => Ok(()),
            }
        }
        Some(url::Host::Ipv6(ip)) => {
            return match non_public_reason(IpAddr::V6(ip)) {
                Some(reason) => Err(refuse("points at ".into(), IpAddr::V6(ip), reason)),
                None => Ok(()),
            }
        }
        Some(url::Host::Domain(name)) => name.to_owned(),
        None => return Err(format!("{field} has no host name")),
    };
    let could_not = |why: String| {
        format!("{field} host {name} could not be resolved ({why}): check the host name")
    };
    let addrs = match tokio::time::timeout(
        RESOLVE_TIMEOUT,
        tokio::net::lookup_host((name.as_str(), port)),
    )
    .await
    {
        Err(_) => {
            return Err(could_not(format!(
                "no answer in {} s",
                RESOLVE_TIMEOUT.as_secs()
            )))
        }
        Ok(Err(e)) => return Err(could_not(e.to_string())),
        Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect::<Vec<_>>(),
    };
    if addrs.is_empty() {
        return Err(could_not("no addresses".into()));
    }
    // Every address must be public: the HTTP client may connect to any of them.
    for ip in addrs {
        if let Some(reason) = non_public_reason(ip) {
            return Err(refuse(format!("host {name} resolves to "), ip, reason));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(raw: &str) -> BaseUrl {
        BaseUrl::parse("baseUrl", raw, false).unwrap().url
    }

    #[test]
    fn non_global_addresses_are_named() {
        let cases = [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.5.4", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.254", "carrier-grade NAT"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("198.18.0.1", "benchmarking"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", "private"),
            ("fd12:3456::1", "private"),
            ("fe80::1", "link-local"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::a00:1", "private"),
            ("2002:a00:1::1", "private"),
            ("2001:db8::1", "documentation"),
            ("ff02::1", "multicast"),
        ];
        for (ip, why) in cases {
            let reason = non_public_reason(ip.parse().unwrap());
            assert!(
                reason.is_some_and(|r| r.contains(why)),
                "{ip}: {reason:?} should mention {why}"
            );
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert_eq!(non_public_reason(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[tokio::test]
    async fn private_literals_and_names_are_refused_with_the_reason() {
        let cases = [
            ("https://127.0.0.1", "points at 127.0.0.1, a loopback"),
            ("https://10.0.0.1:8443", "points at 10.0.0.1, a private"),
            (
                "https://169.254.169.254",
                "points at 169.254.169.254, a link-local",
            ),
            ("https://[::1]", "points at ::1, a loopback"),
            ("https://2130706433", "points at 127.0.0.1, a loopback"),
            ("https://localhost", "host localhost resolves to"),
        ];
        for (raw, expected) in cases {
            let err = check_public_host("baseUrl", &url(raw)).await.unwrap_err();
            assert!(err.starts_with("baseUrl "), "{raw}: {err}");
            assert!(err.contains(expected), "{raw}: {err}");
            assert!(err.contains("public internet"), "{raw}: {err}");
        }
    }

    #[tokio::test]
    async fn unresolvable_names_say_so() {
        let err = check_public_host("baseUrl", &url("https://no-such-host.invalid"))
            .await
            .unwrap_err();
        assert!(err.contains("could not be resolved"), "{err}");
        assert!(err.contains("no-such-host.invalid"), "{err}");
    }

    #[tokio::test]
    async fn public_literals_pass() {
        check_public_host("baseUrl", &url("https://1.1.1.1"))
            .await
            .unwrap();
        check_public_host("baseUrl", &url("https://[2606:4700:4700::1111]"))
            .await
            .unwrap();
    }
}
