//! SHA-256 fingerprints of certificates, as OpenSSL prints them.

use std::fmt;
use std::str::FromStr;

use ring::digest::{SHA256, digest};
use subtle::ConstantTimeEq;

/// The SHA-256 digest of a certificate's DER encoding: what
/// `openssl x509 -noout -fingerprint -sha256 -in cert.pem` prints, and
/// what pins a certificate.
///
/// It parses from 64 hex digits, with or without colons, in either case,
/// and with or without OpenSSL's `sha256 Fingerprint=` prefix; it displays
/// as OpenSSL prints it (upper case, colon-separated).
///
/// ```
/// use tls_trust::Fingerprint;
///
/// let printed = "sha256 Fingerprint=73:EB:49:89:D8:37:5B:B5:F3:D0:B6:B7:6E:C4:AE:4C:\
///                D7:77:60:93:A0:EA:C2:70:A4:02:2E:29:53:CF:F8:01";
/// let pin: Fingerprint = printed.parse()?;
/// let bare: Fingerprint = "73eb4989d8375bb5f3d0b6b76ec4ae4cd7776093a0eac270a4022e2953cff801".parse()?;
/// assert_eq!(pin, bare);
/// assert_eq!(pin.to_string(), printed.trim_start_matches("sha256 Fingerprint="));
///
/// // The digest of some DER bytes.
/// let of_empty = Fingerprint::of(b"");
/// assert!(of_empty.to_string().starts_with("E3:B0:C4:42"));
/// # Ok::<(), tls_trust::FingerprintError>(())
/// ```
// Eq compares in constant time (see `PartialEq`); Hash is not needed.
#[derive(Clone, Copy)]
pub struct Fingerprint([u8; 32]);

/// Why a fingerprint did not parse.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    /// Something other than a hex digit or a colon.
    #[error("{0:?} is not a hex digit")]
    Character(char),
    /// Not 64 hex digits.
    #[error("a sha-256 fingerprint has 64 hex digits, not {0}")]
    Length(usize),
}

impl Fingerprint {
    /// The fingerprint of a certificate, given its DER encoding (a
    /// `CertificateDer` dereferences to it).
    pub fn of(der: &[u8]) -> Self {
        let mut bytes = [0; 32];
        bytes.copy_from_slice(digest(&SHA256, der).as_ref());
        Self(bytes)
    }

    /// Whether `der` is the certificate this fingerprint pins. The digests
    /// are compared in constant time.
    pub fn matches(&self, der: &[u8]) -> bool {
        *self == Self::of(der)
    }
}

impl PartialEq for Fingerprint {
    fn eq(&self, other: &Self) -> bool {
        // A pin is no secret, but comparing in constant time costs nothing
        // and leaves nothing to argue about.
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Fingerprint {}

impl FromStr for Fingerprint {
    type Err = FingerprintError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        // OpenSSL 3 prints `sha256 Fingerprint=`, OpenSSL 1.1 `SHA256 ...`.
        let prefix = "sha256 fingerprint=";
        let text = match text.get(..prefix.len()) {
            Some(head) if head.eq_ignore_ascii_case(prefix) => &text[prefix.len()..],
            _ => text,
        };
        let mut bytes = [0; 32];
        let mut digits = 0;
        for c in text.chars().filter(|&c| c != ':') {
            let value = c.to_digit(16).ok_or(FingerprintError::Character(c))?;
            if let Some(byte) = bytes.get_mut(digits / 2) {
                // `value` is below 16.
                *byte = (*byte << 4) | value as u8;
            }
            digits += 1;
        }
        if digits != 64 {
            return Err(FingerprintError::Length(digits));
        }
        Ok(Self(bytes))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "73eb4989d8375bb5f3d0b6b76ec4ae4cd7776093a0eac270a4022e2953cff801";

    #[test]
    fn parses_every_spelling_and_prints_openssls() {
        let bare: Fingerprint = HEX.parse().unwrap();
        let upper: Fingerprint = HEX.to_uppercase().parse().unwrap();
        let colons = bare.to_string();
        assert_eq!(colons.len(), 95);
        assert_eq!(&colons[..6], "73:EB:");
        assert_eq!(bare, upper);
        assert_eq!(colons.parse::<Fingerprint>().unwrap(), bare);
        assert_eq!(
            format!("SHA256 Fingerprint={colons}\n")
                .parse::<Fingerprint>()
                .unwrap(),
            bare
        );
        assert_eq!(format!("{bare:?}"), format!("Fingerprint({colons})"));
    }

    #[test]
    fn refuses_what_is_not_a_sha256_fingerprint() {
        assert_eq!(
            HEX[..62].parse::<Fingerprint>(),
            Err(FingerprintError::Length(62))
        );
        assert_eq!(
            format!("{HEX}00").parse::<Fingerprint>(),
            Err(FingerprintError::Length(66))
        );
        assert_eq!(
            format!("{}g", &HEX[..63]).parse::<Fingerprint>(),
            Err(FingerprintError::Character('g'))
        );
        assert_eq!(
            "sha1 Fingerprint=AA".parse::<Fingerprint>(),
            Err(FingerprintError::Character('s'))
        );
        assert_eq!("".parse::<Fingerprint>(), Err(FingerprintError::Length(0)));
        let one_bit_off = format!("{}0", &HEX[..63]);
        assert_ne!(
            one_bit_off.parse::<Fingerprint>().unwrap(),
            HEX.parse().unwrap()
        );
    }

    #[test]
    fn of_is_sha256() {
        // SHA-256("abc"), FIPS 180-2's example.
        let expected: Fingerprint =
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
                .parse()
                .unwrap();
        assert_eq!(Fingerprint::of(b"abc"), expected);
        assert!(expected.matches(b"abc"));
        assert!(!expected.matches(b"abd"));
    }
}
