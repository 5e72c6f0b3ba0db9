//! Handshakes in memory between a rustls server and clients configured by
//! this crate: what each trust setting accepts, what it refuses, and the
//! fingerprint reported when it refuses.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};
use tls_trust::{
    Fingerprint, Rejection, Trust, TrustError, UntrustedCertificate, client_config_pinned,
    client_config_with_ca_file,
};

fn path(name: &str) -> String {
    format!("{}/tests/certs/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn cert(name: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(path(name)).unwrap()
}

fn key(name: &str) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(path(name)).unwrap()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server presenting `cert` and signing with `key`, which need not
/// belong together (rustls's own builder would refuse that).
fn server(
    cert: &str,
    key: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ServerConfig> {
    #[derive(Debug)]
    struct Fixed(Arc<CertifiedKey>);
    impl ResolvesServerCert for Fixed {
        fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
            Some(Arc::clone(&self.0))
        }
    }
    let provider = provider();
    let signing = provider
        .key_provider
        .load_private_key(self::key(key))
        .unwrap();
    let certified = CertifiedKey::new(vec![self::cert(cert)], signing);
    Arc::new(
        ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Fixed(Arc::new(certified)))),
    )
}

fn selfsigned() -> Arc<ServerConfig> {
    server("selfsigned.pem", "selfsigned.key", rustls::ALL_VERSIONS)
}

fn leaf() -> Arc<ServerConfig> {
    server("leaf.pem", "leaf.key", rustls::ALL_VERSIONS)
}

/// Runs the handshake in memory; the client's error if it fails.
fn handshake(
    client: ClientConfig,
    server: Arc<ServerConfig>,
    name: &str,
) -> Result<(), rustls::Error> {
    let name = name.to_owned().try_into().unwrap();
    let mut client = ClientConnection::new(Arc::new(client), name)?;
    let mut server = ServerConnection::new(server)?;
    for _ in 0..10 {
        let mut bytes = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut bytes).unwrap();
        }
        let mut unread = &bytes[..];
        while !unread.is_empty() {
            server.read_tls(&mut unread).unwrap();
        }
        // The server fails only after the client did, with the client's alert.
        if server.process_new_packets().is_err() {
            break;
        }
        let mut bytes = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut bytes).unwrap();
        }
        let mut unread = &bytes[..];
        while !unread.is_empty() {
            client.read_tls(&mut unread).unwrap();
        }
        client.process_new_packets()?;
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(());
        }
    }
    panic!("the handshake neither ended nor failed");
}

fn rejected(error: &rustls::Error) -> &UntrustedCertificate {
    UntrustedCertificate::find(error).unwrap_or_else(|| panic!("no fingerprint in {error}"))
}

#[test]
fn a_pin_accepts_its_certificate_only() {
    let selfsigned_fp = Fingerprint::of(&cert("selfsigned.pem"));
    let leaf_fp = Fingerprint::of(&cert("leaf.pem"));
    handshake(
        client_config_pinned(selfsigned_fp).unwrap(),
        selfsigned(),
        "localhost",
    )
    .unwrap();
    handshake(client_config_pinned(leaf_fp).unwrap(), leaf(), "localhost").unwrap();

    let error = handshake(
        client_config_pinned(leaf_fp).unwrap(),
        selfsigned(),
        "localhost",
    )
    .unwrap_err();
    let untrusted = rejected(&error);
    assert_eq!(untrusted.fingerprint(), selfsigned_fp);
    assert!(matches!(untrusted.reason(), Rejection::NotPinned));
    assert!(matches!(
        error,
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(_))
    ));
}

#[test]
fn a_pin_ignores_the_name_and_the_issuer() {
    let pin = Fingerprint::of(&cert("leaf.pem"));
    // The leaf is for localhost and 127.0.0.1, and its CA is trusted by no one.
    handshake(
        client_config_pinned(pin).unwrap(),
        leaf(),
        "elsewhere.example",
    )
    .unwrap();
}

/// The pinned certificate without its private key is not enough: the
/// handshake signature is checked with the pinned certificate's key, in
/// TLS 1.3 and in TLS 1.2.
#[test]
fn a_pin_still_checks_the_handshake_signature() {
    let pin = Fingerprint::of(&cert("selfsigned.pem"));
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let stolen = server("selfsigned.pem", "leaf.key", &[version]);
        let error = handshake(client_config_pinned(pin).unwrap(), stolen, "localhost").unwrap_err();
        assert!(
            UntrustedCertificate::find(&error).is_none(),
            "{version:?}: the certificate itself is the pinned one: {error}"
        );
        assert!(
            matches!(
                error,
                rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature)
                    | rustls::Error::PeerMisbehaved(_)
            ),
            "{version:?}: {error:?}"
        );
        let honest = server("selfsigned.pem", "selfsigned.key", &[version]);
        handshake(client_config_pinned(pin).unwrap(), honest, "localhost").unwrap();
    }
}

#[test]
fn a_ca_file_verifies_a_chain_and_reports_the_fingerprint_of_what_it_refuses() {
    let ca = || client_config_with_ca_file(path("ca.pem")).unwrap();
    handshake(ca(), leaf(), "localhost").unwrap();
    handshake(ca(), leaf(), "127.0.0.1").unwrap();

    let error = handshake(ca(), leaf(), "elsewhere.example").unwrap_err();
    let untrusted = rejected(&error);
    assert_eq!(untrusted.fingerprint(), Fingerprint::of(&cert("leaf.pem")));
    assert!(
        untrusted
            .reason()
            .to_string()
            .contains("not valid for name"),
        "{}",
        untrusted.reason()
    );

    let error = handshake(ca(), selfsigned(), "localhost").unwrap_err();
    let untrusted = rejected(&error);
    assert_eq!(
        untrusted.fingerprint(),
        Fingerprint::of(&cert("selfsigned.pem"))
    );
    // WebPKI's reason: the self-signed certificate is marked CA:TRUE,
    // said in words.
    assert!(
        matches!(untrusted.reason(), Rejection::CaUsedAsEndEntity),
        "{:?}",
        untrusted.reason()
    );
    assert!(
        untrusted
            .reason()
            .to_string()
            .starts_with("it is a CA certificate (CA:TRUE"),
        "{}",
        untrusted.reason()
    );
    assert_eq!(
        untrusted.to_string(),
        format!(
            "untrusted server certificate (sha-256 fingerprint {})",
            untrusted.fingerprint()
        )
    );
}

/// `openssl req -x509` makes a self-signed certificate marked CA:TRUE;
/// given as the CA file, it is trusted as the server's own certificate,
/// for the names it carries.
#[test]
fn a_ca_file_holding_the_servers_own_self_signed_ca_certificate_is_a_pin_of_it() {
    let own = || client_config_with_ca_file(path("selfsigned.pem")).unwrap();
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let server = server("selfsigned.pem", "selfsigned.key", &[version]);
        handshake(own(), Arc::clone(&server), "localhost").unwrap();
        handshake(own(), Arc::clone(&server), "127.0.0.1").unwrap();

        let error = handshake(own(), Arc::clone(&server), "elsewhere.example").unwrap_err();
        assert!(
            rejected(&error)
                .reason()
                .to_string()
                .contains("not valid for name"),
            "{error}"
        );

        // Its key still has to sign the handshake.
        let stolen = self::server("selfsigned.pem", "leaf.key", &[version]);
        let error = handshake(own(), stolen, "localhost").unwrap_err();
        assert!(UntrustedCertificate::find(&error).is_none(), "{error}");
    }
    // It is no CA for anyone else's certificate.
    let error = handshake(own(), leaf(), "localhost").unwrap_err();
    assert_eq!(
        rejected(&error).fingerprint(),
        Fingerprint::of(&cert("leaf.pem"))
    );
}

/// The exception is for a certificate WebPKI refuses for being a CA's:
/// the server's own CA-signed certificate in the CA file verifies nothing
/// without its issuer.
#[test]
fn a_ca_file_holding_the_servers_own_ca_signed_certificate_does_not_verify_it() {
    let config = client_config_with_ca_file(path("leaf.pem")).unwrap();
    let error = handshake(config, leaf(), "localhost").unwrap_err();
    assert_eq!(
        rejected(&error).fingerprint(),
        Fingerprint::of(&cert("leaf.pem"))
    );
}

#[test]
fn trust_builds_each_kind_and_reports_bad_files() {
    let pin = Fingerprint::of(&cert("leaf.pem"));
    let config = Trust::Pinned(pin).client_config().unwrap();
    handshake((*config).clone(), leaf(), "localhost").unwrap();
    let config = Trust::CaFile(path("ca.pem").into())
        .client_config()
        .unwrap();
    handshake((*config).clone(), leaf(), "localhost").unwrap();
    let same = Trust::Config(Arc::clone(&config)).client_config().unwrap();
    assert!(Arc::ptr_eq(&same, &config));

    let dir = std::env::temp_dir().join(format!("tls-trust-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    assert!(matches!(
        client_config_with_ca_file(&empty),
        Err(TrustError::NoRoots)
    ));
    let garbage = dir.join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let error = client_config_with_ca_file(&garbage).unwrap_err();
    assert!(matches!(error, TrustError::CaFile { .. }), "{error:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "system-roots")]
#[test]
fn system_roots_are_the_default() {
    assert!(matches!(Trust::default(), Trust::System));
}
