//! A throwaway PKI for TLS tests (rcgen): a CA, a server certificate for
//! 127.0.0.1/localhost, and client certificates for every case the
//! security tests need.

use std::path::{Path, PathBuf};

use rcgen::{
    date_time_ymd, BasicConstraints, Certificate, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use sha2::{Digest, Sha256};

/// Paths of a PEM certificate and its key.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Everything written into one directory.
#[derive(Debug)]
pub struct TestPki {
    pub ca: PathBuf,
    pub server: CertFiles,
    /// SAN admin.ops.test, signed by the CA.
    pub admin: CertFiles,
    /// SAN monitor.ops.test, signed by the CA.
    pub reader: CertFiles,
    /// SAN intruder.ops.test (mapped to no role), signed by the CA.
    pub wrong_san: CertFiles,
    /// SAN admin.ops.test, signed by the CA, expired in 2021.
    pub expired: CertFiles,
    /// SAN admin.ops.test, signed by another CA.
    pub unknown_ca: CertFiles,
    /// SAN nas.radsec.test, for client and server use: a RadSec peer
    /// (a NAS or proxy connects with it, and takes hang-ups with it).
    pub radsec_peer: CertFiles,
    /// A revocation list of the CA (PEM) listing the `admin` certificate.
    pub crl_revoking_admin: PathBuf,
    /// tokens file with `ci` (admin) and `mon` (reader).
    pub tokens: PathBuf,
    pub admin_token: String,
    pub reader_token: String,
}

pub const ADMIN_NAME: &str = "admin.ops.test";
pub const READER_NAME: &str = "monitor.ops.test";
pub const RADSEC_NAME: &str = "nas.radsec.test";

const CLIENT: &[ExtendedKeyUsagePurpose] = &[ExtendedKeyUsagePurpose::ClientAuth];
const BOTH: &[ExtendedKeyUsagePurpose] = &[ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];

fn ca(name: &str) -> (Certificate, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    let key = KeyPair::generate().expect("key");
    (params.self_signed(&key).expect("self-signed CA"), key)
}

fn leaf(
    dir: &Path,
    file: &str,
    sans: &[&str],
    usages: &[ExtendedKeyUsagePurpose],
    expired: bool,
    issuer: &(Certificate, KeyPair),
) -> CertFiles {
    let mut params = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("params");
    params.extended_key_usages = usages.to_vec();
    if expired {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2021, 1, 1);
    }
    // Distinct serial numbers, so a revocation list can name one.
    let serial = u64::from(NEXT_SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    params.serial_number = Some(rcgen::SerialNumber::from(serial));
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &issuer.0, &issuer.1).expect("sign");
    std::fs::write(dir.join(format!("{file}.serial")), serial.to_string()).expect("write serial");
    let files = CertFiles {
        cert: dir.join(format!("{file}.pem")),
        key: dir.join(format!("{file}.key")),
    };
    std::fs::write(&files.cert, cert.pem()).expect("write cert");
    crate::write_private(&files.key, key.serialize_pem());
    files
}

static NEXT_SERIAL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1000);

/// A CRL signed by `issuer` revoking the certificate whose serial is in `serial_file`.
fn crl_revoking(serial_file: &Path, issuer: &(Certificate, KeyPair), out: &Path) -> PathBuf {
    let serial: u64 = std::fs::read_to_string(serial_file)
        .expect("serial")
        .trim()
        .parse()
        .expect("serial number");
    let params = rcgen::CertificateRevocationListParams {
        this_update: date_time_ymd(2025, 1, 1),
        next_update: date_time_ymd(2099, 1, 1),
        crl_number: rcgen::SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![rcgen::RevokedCertParams {
            serial_number: rcgen::SerialNumber::from(serial),
            revocation_time: date_time_ymd(2025, 6, 1),
            reason_code: Some(rcgen::RevocationReason::KeyCompromise),
            invalidity_date: None,
        }],
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    };
    let crl = params.signed_by(&issuer.0, &issuer.1).expect("sign CRL");
    std::fs::write(out, crl.pem().expect("CRL PEM")).expect("write CRL");
    out.to_owned()
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl TestPki {
    /// Writes the whole PKI into `dir`.
    pub fn new(dir: &Path) -> Self {
        let authority = ca("openrras test CA");
        let rogue = ca("rogue CA");
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, authority.0.pem()).expect("write CA");
        let admin_token = "adm-7f3a9c2e41d84b0f".to_owned();
        let reader_token = "rd-51c0e8a9b2f64d17".to_owned();
        let tokens = dir.join("tokens");
        crate::write_private(
            &tokens,
            format!(
                "# NAME ROLE SHA256\nci admin {}\nmon reader {}\n",
                hash(&admin_token),
                hash(&reader_token)
            ),
        );
        let admin = leaf(dir, "admin", &[ADMIN_NAME], CLIENT, false, &authority);
        let crl_revoking_admin = crl_revoking(&dir.join("admin.serial"), &authority, &dir.join("revoked-admin.crl"));
        TestPki {
            crl_revoking_admin,
            // Both purposes: rrasd is a RadSec client too when it hangs up over TLS.
            server: leaf(dir, "server", &["127.0.0.1", "localhost"], BOTH, false, &authority),
            admin,
            reader: leaf(dir, "reader", &[READER_NAME], CLIENT, false, &authority),
            wrong_san: leaf(dir, "intruder", &["intruder.ops.test"], CLIENT, false, &authority),
            expired: leaf(dir, "expired", &[ADMIN_NAME], CLIENT, true, &authority),
            unknown_ca: leaf(dir, "rogue", &[ADMIN_NAME], CLIENT, false, &rogue),
            radsec_peer: leaf(dir, "radsec-peer", &[RADSEC_NAME], BOTH, false, &authority),
            ca: ca_path,
            tokens,
            admin_token,
            reader_token,
        }
    }

    /// rrasd flags for a TLS listener on `port` with this PKI.
    pub fn daemon_args(&self, port: u16) -> Vec<String> {
        let mut args = self.listener_args(port);
        args.extend([
            "--tls-admin-name".into(),
            ADMIN_NAME.into(),
            "--tls-reader-name".into(),
            READER_NAME.into(),
        ]);
        args
    }

    /// [`daemon_args`](Self::daemon_args) without the certificate names,
    /// for a test that sets them in a configuration file (flags would win
    /// over the file on reload).
    pub fn listener_args(&self, port: u16) -> Vec<String> {
        vec![
            "--admin-tcp".into(),
            format!("127.0.0.1:{port}"),
            "--tls-cert".into(),
            self.server.cert.display().to_string(),
            "--tls-key".into(),
            self.server.key.display().to_string(),
            "--tls-client-ca".into(),
            self.ca.display().to_string(),
            "--tokens-file".into(),
            self.tokens.display().to_string(),
        ]
    }
}
