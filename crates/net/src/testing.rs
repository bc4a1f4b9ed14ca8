//! Test fixtures for TLS with a private CA (feature `test-tls`; tests only, never in a daemon):
//! a throwaway certificate authority, a `localhost` certificate it signs, and a TLS-terminating
//! proxy that puts any local plain-HTTP server (a simulated subnet, a webhook receiver, an axum
//! router) behind `https://localhost:PORT`. A client trusts it only with the CA's PEM
//! ([`TestCa::write_pem`], what `--tls.ca-file` reads).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A private CA and a server certificate for `localhost` and `127.0.0.1` signed by it.
#[derive(Clone)]
pub struct TestCa {
    /// The CA certificate (PEM): what clients must be given to trust the server.
    pub ca_pem: String,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestCa")
    }
}

impl TestCa {
    /// A fresh CA and server certificate. Panics on failure (tests only).
    pub fn new() -> TestCa {
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "orchestra test CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_cert = ca.self_signed(&ca_key).expect("ca cert");

        let key = KeyPair::generate().expect("key");
        let mut p = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        p.subject_alt_names.push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
        p.distinguished_name.push(DnType::CommonName, "localhost");
        let cert = p.signed_by(&key, &ca_cert, &ca_key).expect("cert");

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("server config");
        TestCa { ca_pem: ca_cert.pem(), acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(cfg)) }
    }

    /// Write the CA certificate to `dir/ca.pem` and return its path.
    pub fn write_pem(&self, dir: &Path) -> PathBuf {
        let p = dir.join("ca.pem");
        std::fs::write(&p, &self.ca_pem).expect("write the CA file");
        p
    }

    /// Serve `https://localhost:PORT` in front of the plain-HTTP server at `upstream`: every
    /// accepted TLS connection is forwarded byte for byte to a new connection to `upstream`.
    /// Returns the proxy's address (on 127.0.0.1).
    pub async fn proxy(&self, upstream: SocketAddr) -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        let acceptor = self.acceptor.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = l.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                });
            }
        });
        addr
    }

    /// Serve `app` over https (a plain server on loopback behind [`TestCa::proxy`]).
    pub async fn serve(&self, app: axum::Router) -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let plain = l.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        self.proxy(plain).await
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}
