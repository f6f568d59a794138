//! PostgreSQL over TLS, as `DOCSYNC_DATABASE_URL` asks with libpq's parameters: `sslmode`
//! `disable` (or absent: plain, as before), `prefer` and `require` (encrypted, the server's
//! certificate not checked), `verify-ca` (its chain checked against `sslrootcert`, or the
//! system's roots) and `verify-full` (the chain and the host name). Both parameters are taken
//! out of the URL before the driver reads it (it knows neither `verify-*` nor
//! `sslrootcert`); every connection of the store (the pool, the migrations on a pooled
//! connection, the creation of the database) uses the same connector.

use crate::StoreError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::str::FromStr;
use std::sync::Arc;
use tokio_postgres::config::SslMode;

/// How the store reaches PostgreSQL: the driver's config and, when TLS is asked for, its
/// connector.
#[derive(Clone)]
pub(crate) struct Target {
    pub config: tokio_postgres::Config,
    pub tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl Target {
    /// Parses `DOCSYNC_DATABASE_URL`.
    pub fn parse(database_url: &str) -> Result<Self, StoreError> {
        let (url, mode, root_cert) = take_tls_params(database_url)?;
        let mut config = tokio_postgres::Config::from_str(&url)
            .map_err(|e| StoreError::BadUrl(e.to_string()))?;
        let crypto = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ClientConfig::builder_with_provider(crypto.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::BadUrl(format!("TLS cannot be set up: {e}")))?;
        let roots = || -> Result<RootCertStore, StoreError> {
            let mut roots = RootCertStore::empty();
            match &root_cert {
                Some(path) => {
                    let certs = CertificateDer::pem_file_iter(path)
                        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                        .map_err(|e| {
                            StoreError::BadUrl(format!(
                                "sslrootcert {path:?} could not be read as PEM certificates: {e}"
                            ))
                        })?;
                    for cert in certs {
                        roots.add(cert).map_err(|e| {
                            StoreError::BadUrl(format!("sslrootcert {path:?}: {e}"))
                        })?;
                    }
                }
                None => {
                    for cert in rustls_native_certs::load_native_certs().certs {
                        let _ = roots.add(cert);
                    }
                }
            }
            if roots.is_empty() {
                return Err(StoreError::BadUrl(
                    "sslmode verify-ca/verify-full needs sslrootcert=<CA file> (no system roots were found)".into(),
                ));
            }
            Ok(roots)
        };
        let client = match mode.as_deref() {
            None | Some("disable") => None,
            Some("allow" | "prefer" | "require") if root_cert.is_none() => Some(
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(Unverified(crypto)))
                    .with_no_client_auth(),
            ),
            // With a root certificate, libpq's `require` checks the chain like verify-ca.
            Some("allow" | "prefer" | "require" | "verify-ca") => {
                let full = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots()?),
                    crypto,
                )
                .build()
                .map_err(|e| StoreError::BadUrl(format!("TLS cannot be set up: {e}")))?;
                Some(
                    builder
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(AnyHostName(full)))
                        .with_no_client_auth(),
                )
            }
            Some("verify-full") => Some(
                builder
                    .with_root_certificates(roots()?)
                    .with_no_client_auth(),
            ),
            Some(other) => {
                return Err(StoreError::BadUrl(format!(
                "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
            )))
            }
        };
        // Absent: the driver's default, which without a connector is plain.
        if let Some(mode) = mode.as_deref() {
            config.ssl_mode(match mode {
                "disable" => SslMode::Disable,
                "allow" | "prefer" => SslMode::Prefer,
                _ => SslMode::Require,
            });
        }
        Ok(Self {
            config,
            tls: client.map(tokio_postgres_rustls::MakeRustlsConnect::new),
        })
    }
}

/// The URL without `sslmode` and `sslrootcert` (in the query, or the key=value form), and
/// their values.
fn take_tls_params(raw: &str) -> Result<(String, Option<String>, Option<String>), StoreError> {
    let (mut mode, mut root) = (None, None);
    if raw.contains("://") {
        let Some((base, query)) = raw.split_once('?') else {
            return Ok((raw.to_owned(), None, None));
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("sslmode", v)) => mode = Some(v.to_ascii_lowercase()),
                Some(("sslrootcert", v)) => root = Some(decode(v)),
                _ => kept.push(pair),
            }
        }
        let url = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return Ok((url, mode, root));
    }
    let mut kept = Vec::new();
    for part in raw.split_whitespace() {
        match part.split_once('=') {
            Some(("sslmode", v)) => mode = Some(v.to_ascii_lowercase()),
            Some(("sslrootcert", v)) => root = Some(v.to_owned()),
            _ => kept.push(part),
        }
    }
    Ok((kept.join(" "), mode, root))
}

/// Percent-decoding of a query value (a path such as `%2Fetc%2Fssl%2Fca.pem`).
fn decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&v[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `require` without a root certificate: encrypted, the certificate taken as it comes (what
/// libpq does); the handshake's signatures are still checked.
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain checked against the roots, the host name not.
#[derive(Debug)]
struct AnyHostName(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_of_the_url() {
        let (url, mode, root) = take_tls_params(
            "postgres://u:p@db:5432/docsync?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=5",
        )
        .unwrap();
        assert_eq!(url, "postgres://u:p@db:5432/docsync?connect_timeout=5");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/etc/ca.pem"));
        let (url, mode, _) = take_tls_params("host=db user=u sslmode=require").unwrap();
        assert_eq!(
            (url.as_str(), mode.as_deref()),
            ("host=db user=u", Some("require"))
        );
        let (url, mode, _) = take_tls_params("postgres://postgres@127.0.0.1:5432/x").unwrap();
        assert_eq!(
            (url.as_str(), mode),
            ("postgres://postgres@127.0.0.1:5432/x", None)
        );
    }

    #[test]
    fn an_unknown_sslmode_is_named() {
        let err = Target::parse("postgres://u@db/x?sslmode=always")
            .err()
            .unwrap();
        assert!(err.to_string().contains("sslmode \"always\""), "{err}");
        let err =
            Target::parse("postgres://u@db/x?sslmode=verify-full&sslrootcert=/nonexistent.pem")
                .err()
                .unwrap();
        assert!(err.to_string().contains("sslrootcert"), "{err}");
    }
}
