//! DNS for provider calls: the answer is checked when a connection is made, and the
//! connection is made to the addresses that were checked. A host name that resolves to any
//! loopback, private, link-local or otherwise non-public address is refused then, so a name
//! that passed the check when it was saved cannot be pointed at an internal address later (a
//! DNS change, or rebinding between check and call) and carry an API key there. URLs with an
//! address literal never reach a resolver; those are checked when they are saved.

use docsync_domain::address::non_public_reason;
use futures::future::BoxFuture;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// A name lookup: the addresses a host name resolves to.
pub type Lookup =
    Arc<dyn Fn(String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> + Send + Sync>;

/// A resolver that hands the HTTP client only public addresses.
#[derive(Clone)]
pub struct PublicOnly {
    lookup: Lookup,
}

impl PublicOnly {
    /// Over the system's resolver.
    pub fn system() -> Self {
        Self::with_lookup(Arc::new(|name: String| {
            Box::pin(async move {
                Ok(tokio::net::lookup_host((name.as_str(), 0))
                    .await?
                    .map(|a| a.ip())
                    .collect())
            })
        }))
    }

    /// Over another lookup (tests: one that answers public, then loopback).
    pub fn with_lookup(lookup: Lookup) -> Self {
        Self { lookup }
    }

    /// Resolves `name`, refusing the answer unless every address is public (the client may
    /// connect to any of them).
    pub async fn public_addresses(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        let ips = (self.lookup)(name.to_owned())
            .await
            .map_err(|e| format!("{name} could not be resolved: {e}"))?;
        if ips.is_empty() {
            return Err(format!("{name} resolves to no address"));
        }
        if let Some((ip, reason)) = ips
            .iter()
            .find_map(|ip| non_public_reason(*ip).map(|reason| (ip, reason)))
        {
            return Err(format!(
                "{name} now resolves to {ip}, {reason}: docsync only connects to providers on public internet addresses"
            ));
        }
        Ok(ips)
    }
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let ips = this.public_addresses(&name).await?;
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Answers a public address first, then loopback: a rebinding name.
    fn rebinding() -> (PublicOnly, Arc<AtomicUsize>) {
        let asked = Arc::new(AtomicUsize::new(0));
        let count = asked.clone();
        let lookup: Lookup = Arc::new(move |_name: String| {
            let n = count.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                Ok(vec![if n == 0 {
                    "93.184.215.14".parse().expect("ip")
                } else {
                    "127.0.0.1".parse().expect("ip")
                }])
            })
        });
        (PublicOnly::with_lookup(lookup), asked)
    }

    #[tokio::test]
    async fn a_name_that_turns_to_loopback_is_refused_when_it_does() {
        let (resolver, _) = rebinding();
        assert!(resolver.public_addresses("hudu.example.com").await.is_ok());
        let err = resolver
            .public_addresses("hudu.example.com")
            .await
            .unwrap_err();
        assert!(err.contains("127.0.0.1") && err.contains("public"), "{err}");
    }

    #[tokio::test]
    async fn the_client_never_connects_to_the_internal_address() {
        // A server on loopback, standing for an internal service.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let seen = accepted.clone();
        tokio::spawn(async move {
            while let Ok((_conn, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        });
        let (resolver, asked) = rebinding();
        // The first (public) answer is used up, as by the check when the URL was saved.
        assert!(resolver.public_addresses("it.rebind.example").await.is_ok());
        let client = crate::http::client_with(std::time::Duration::from_secs(5), Some(resolver))
            .unwrap_or_else(|e| panic!("{e}"));
        let err = client
            .get(format!("http://it.rebind.example:{port}/api/v1/companies"))
            .send()
            .await
            .expect_err("refused");
        assert!(
            err.is_connect() || err.to_string().contains("dns"),
            "{err:?}"
        );
        assert_eq!(
            asked.load(Ordering::SeqCst),
            2,
            "resolved again at the call"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            0,
            "nothing reached the internal address"
        );
    }
}
