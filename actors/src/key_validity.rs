//! Whether an OpenPGP key, or one of its subkeys, may sign now: not revoked, not expired, and
//! flagged for signing by its latest self-signature (RFC 9580 §5.2.3.x key flags and key
//! expiration time).
//!
//! rpgp checks that a key's signatures are genuine (`verify_bindings`) but leaves these
//! questions to the application; a worker whose key expired or was revoked must not be let in.

use pgp::packet::{Signature, SignatureType};
use pgp::types::Timestamp;

/// What one key or subkey's self-signatures say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentState {
    /// A revocation signature exists.
    pub revoked: bool,
    /// When it expires (seconds since the epoch), if ever.
    pub expires_at: Option<u32>,
    /// The latest self-signature allows signing (no key-flags subpacket counts as allowed,
    /// as for keys made before key flags existed).
    pub can_sign: bool,
}

impl ComponentState {
    /// Why it cannot sign at `now` (seconds since the epoch), if it cannot.
    pub fn refusal(&self, now: u32) -> Option<Unusable> {
        if self.revoked {
            return Some(Unusable::Revoked);
        }
        if let Some(at) = self.expires_at.filter(|at| *at <= now) {
            return Some(Unusable::Expired { at });
        }
        (!self.can_sign).then_some(Unusable::CannotSign)
    }
}

/// Why a key (or subkey) may not sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// It was revoked.
    Revoked,
    /// It expired at this time (seconds since the epoch).
    Expired {
        /// Expiry, seconds since the epoch.
        at: u32,
    },
    /// Its flags do not allow signing.
    CannotSign,
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Revoked => f.write_str("it is revoked"),
            Self::Expired { at } => {
                let when = chrono::DateTime::from_timestamp(i64::from(*at), 0)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| at.to_string());
                write!(f, "it expired at {when}")
            }
            Self::CannotSign => f.write_str("it is not flagged for signing"),
        }
    }
}

fn seconds(t: Option<Timestamp>) -> u32 {
    t.map(Timestamp::as_secs).unwrap_or(0)
}

/// The latest of `signatures` whose type is one of `kinds`.
fn latest<'a>(
    signatures: impl Iterator<Item = &'a Signature>,
    kinds: &[SignatureType],
) -> Option<&'a Signature> {
    signatures
        .filter(|s| s.typ().is_some_and(|t| kinds.contains(&t)))
        .max_by_key(|s| seconds(s.created()))
}

fn state_from(created: Timestamp, binding: Option<&Signature>, revoked: bool) -> ComponentState {
    let expires_at = binding
        .and_then(Signature::key_expiration_time)
        .map(|d| d.as_secs())
        .filter(|secs| *secs > 0)
        .map(|secs| created.as_secs().saturating_add(secs));
    let can_sign = binding.is_some_and(|s| {
        let has_flags = s.config().is_some_and(|c| {
            c.hashed_subpackets()
                .any(|p| matches!(p.data, pgp::packet::SubpacketData::KeyFlags(_)))
        });
        !has_flags || s.key_flags().sign()
    });
    ComponentState {
        revoked,
        expires_at,
        can_sign,
    }
}

/// The primary key's state: revoked by any key revocation signature, expiry and flags from
/// its latest certification or direct-key self-signature.
pub fn primary_state(
    details: &pgp::composed::SignedKeyDetails,
    created: Timestamp,
) -> ComponentState {
    const SELF: &[SignatureType] = &[
        SignatureType::CertGeneric,
        SignatureType::CertPersona,
        SignatureType::CertCasual,
        SignatureType::CertPositive,
        SignatureType::Key,
    ];
    let signatures = details
        .users
        .iter()
        .flat_map(|u| u.signatures.iter())
        .chain(details.direct_signatures.iter());
    state_from(
        created,
        latest(signatures, SELF),
        !details.revocation_signatures.is_empty(),
    )
}

/// A subkey's state: revoked by a subkey revocation signature, expiry and flags from its
/// latest binding signature.
pub fn subkey_state(signatures: &[Signature], created: Timestamp) -> ComponentState {
    let revoked = signatures
        .iter()
        .any(|s| s.typ() == Some(SignatureType::SubkeyRevocation));
    state_from(
        created,
        latest(signatures.iter(), &[SignatureType::SubkeyBinding]),
        revoked,
    )
}

/// Seconds since the epoch, now.
pub fn now() -> u32 {
    Timestamp::now().as_secs()
}
