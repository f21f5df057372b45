//! OpenPGP identities for worker admission: load armored keys (as `gpg --export --armor` and
//! `gpg --export-secret-keys --armor` write them), sign and verify the admission proofs of
//! PROTOCOL.md §10, and generate ed25519 keys for new workers.

use std::io::Cursor;

use pgp::composed::{
    ArmorOptions, Deserializable, DetachedSignature, KeyType, SecretKeyParamsBuilder,
    SignedPublicKey, SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, Password, SigningKey};

use crate::key_validity::{self, primary_state, subkey_state, Unusable};

/// Signed by the master: `MASTER_PROOF_CONTEXT ‖ uuid ‖ workerNonce`.
pub const MASTER_PROOF_CONTEXT: &[u8] = b"papertrader-master-proof-v1";
/// Signed by the worker: `WORKER_PROOF_CONTEXT ‖ uuid ‖ masterNonce`.
pub const WORKER_PROOF_CONTEXT: &[u8] = b"papertrader-worker-proof-v1";

/// The bytes the master signs to prove its key to a worker.
pub fn master_proof(uuid: &[u8; 16], worker_nonce: &[u8; 32]) -> Vec<u8> {
    [MASTER_PROOF_CONTEXT, uuid, worker_nonce].concat()
}

/// The bytes a worker signs to answer the master's challenge.
pub fn worker_proof(uuid: &[u8; 16], master_nonce: &[u8; 32]) -> Vec<u8> {
    [WORKER_PROOF_CONTEXT, uuid, master_nonce].concat()
}

/// Why a key or signature was refused.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The armored text is not a usable key.
    #[error("not a usable OpenPGP {what}: {reason}")]
    BadKey {
        /// "public key" or "secret key".
        what: &'static str,
        /// The parser's words.
        reason: String,
    },
    /// Signing failed (for example a wrong passphrase).
    #[error("cannot sign: {0}")]
    Sign(String),
    /// The signature is malformed or does not verify with the key.
    #[error("signature does not verify: {0}")]
    BadSignature(String),
    /// The key is genuine but may not sign now (expired, revoked, or no signing key).
    #[error("the key may not sign now: {0}")]
    NotValid(String),
}

impl IdentityError {
    /// True for [`IdentityError::NotValid`]: the key is expired, revoked or cannot sign.
    pub fn is_not_valid(&self) -> bool {
        matches!(self, Self::NotValid(_))
    }
}

/// Which keys of a certificate may sign now: the primary (when flagged for signing) and every
/// signing subkey that is neither revoked nor expired. An expired or revoked primary key
/// makes the whole certificate unusable.
fn usable_signers(
    details: &pgp::composed::SignedKeyDetails,
    primary_created: pgp::types::Timestamp,
    subkeys: impl Iterator<Item = (usize, pgp::types::Timestamp, Vec<pgp::packet::Signature>)>,
    now: u32,
) -> Result<(bool, Vec<usize>), IdentityError> {
    let primary = primary_state(details, primary_created);
    if let Some(why @ (Unusable::Revoked | Unusable::Expired { .. })) = primary.refusal(now) {
        return Err(IdentityError::NotValid(format!("the primary key: {why}")));
    }
    let mut reasons = Vec::new();
    let subkeys: Vec<usize> = subkeys
        .filter_map(|(i, created, signatures)| {
            match subkey_state(&signatures, created).refusal(now) {
                None => Some(i),
                Some(Unusable::CannotSign) => None,
                Some(why) => {
                    reasons.push(format!("signing subkey {}: {why}", i + 1));
                    None
                }
            }
        })
        .collect();
    if !primary.can_sign && subkeys.is_empty() {
        let detail = if reasons.is_empty() {
            "no key or subkey is flagged for signing".to_owned()
        } else {
            reasons.join("; ")
        };
        return Err(IdentityError::NotValid(detail));
    }
    Ok((primary.can_sign, subkeys))
}

/// A secret key that signs. Shared behind an `Arc` where several tasks need it.
pub struct SigningIdentity {
    key: SignedSecretKey,
    passphrase: Password,
}

impl std::fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningIdentity").finish_non_exhaustive()
    }
}

impl SigningIdentity {
    /// Parses an ASCII-armored secret key; `passphrase` unlocks it (empty for none).
    pub fn from_armored(text: &str, passphrase: &str) -> Result<Self, IdentityError> {
        let bad = |e: pgp::errors::Error| IdentityError::BadKey {
            what: "secret key",
            reason: e.to_string(),
        };
        let (key, _) =
            SignedSecretKey::from_armor_single(Cursor::new(text.as_bytes())).map_err(bad)?;
        key.verify_bindings().map_err(bad)?;
        let identity = Self {
            key,
            passphrase: Password::from(passphrase),
        };
        // Fail now, not at the first handshake, if the passphrase is wrong.
        identity.sign(b"papertrader-self-test")?;
        Ok(identity)
    }

    /// Generates an ed25519 key (certify and sign) for `user_id`, without a passphrase.
    pub fn generate(user_id: &str) -> Result<Self, IdentityError> {
        let params = SecretKeyParamsBuilder::default()
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id(user_id.into())
            .build()
            .map_err(|e| IdentityError::Sign(e.to_string()))?;
        let key = params
            .generate(rand::thread_rng())
            .map_err(|e| IdentityError::Sign(e.to_string()))?;
        Ok(Self {
            key,
            passphrase: Password::empty(),
        })
    }

    /// A binary detached signature over `data`, made by the primary key when it may sign,
    /// else by the first signing subkey that is valid now.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, IdentityError> {
        let subkeys = self
            .key
            .secret_subkeys
            .iter()
            .enumerate()
            .map(|(i, sub)| (i, sub.key.created_at(), sub.signatures.clone()));
        let (primary, subkeys) = usable_signers(
            &self.key.details,
            self.key.primary_key.created_at(),
            subkeys,
            key_validity::now(),
        )?;
        let signature = if primary {
            self.sign_with(&self.key.primary_key, data)
        } else {
            let sub = &self.key.secret_subkeys[subkeys[0]];
            self.sign_with(&sub.key, data)
        }?;
        signature
            .to_bytes()
            .map_err(|e| IdentityError::Sign(e.to_string()))
    }

    fn sign_with(
        &self,
        key: &impl SigningKey,
        data: &[u8],
    ) -> Result<DetachedSignature, IdentityError> {
        DetachedSignature::sign_binary_data(
            rand::thread_rng(),
            key,
            &self.passphrase,
            HashAlgorithm::Sha256,
            data,
        )
        .map_err(|e| IdentityError::Sign(e.to_string()))
    }

    /// The matching public key.
    pub fn public(&self) -> VerifyingIdentity {
        VerifyingIdentity {
            key: SignedPublicKey::from(self.key.clone()),
        }
    }

    /// The secret key, ASCII-armored (to store in a 0600 file).
    pub fn secret_armored(&self) -> Result<String, IdentityError> {
        self.key
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| IdentityError::Sign(e.to_string()))
    }
}

/// A public key that verifies.
#[derive(Debug, Clone)]
pub struct VerifyingIdentity {
    key: SignedPublicKey,
}

impl VerifyingIdentity {
    /// Parses an ASCII-armored public key and checks its self-signatures.
    pub fn from_armored(text: &str) -> Result<Self, IdentityError> {
        let bad = |e: pgp::errors::Error| IdentityError::BadKey {
            what: "public key",
            reason: e.to_string(),
        };
        let (key, _) =
            SignedPublicKey::from_armor_single(Cursor::new(text.as_bytes())).map_err(bad)?;
        key.verify_bindings().map_err(bad)?;
        Ok(Self { key })
    }

    /// The key, ASCII-armored.
    pub fn armored(&self) -> Result<String, IdentityError> {
        self.key
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| IdentityError::BadKey {
                what: "public key",
                reason: e.to_string(),
            })
    }

    /// Checks that the key may sign now (see [`IdentityError::NotValid`]).
    pub fn check_valid(&self) -> Result<(), IdentityError> {
        self.signers(key_validity::now()).map(|_| ())
    }

    fn signers(&self, now: u32) -> Result<(bool, Vec<usize>), IdentityError> {
        let subkeys = self
            .key
            .public_subkeys
            .iter()
            .enumerate()
            .map(|(i, sub)| (i, sub.key.created_at(), sub.signatures.clone()));
        usable_signers(
            &self.key.details,
            self.key.primary_key.created_at(),
            subkeys,
            now,
        )
    }

    /// Checks a binary detached signature over `data` made by a key of this certificate
    /// that may sign now: the primary key or a valid signing subkey. A signature by an
    /// expired or revoked key, or by a key not flagged for signing, does not verify.
    pub fn verify(&self, data: &[u8], signature: &[u8]) -> Result<(), IdentityError> {
        let (primary, subkeys) = self.signers(key_validity::now())?;
        let signature = DetachedSignature::from_bytes(signature)
            .map_err(|e| IdentityError::BadSignature(e.to_string()))?;
        let mut last = None;
        if primary {
            match signature.verify(&self.key.primary_key, data) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e.to_string()),
            }
        }
        for i in subkeys {
            match signature.verify(&self.key.public_subkeys[i].key, data) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e.to_string()),
            }
        }
        Err(IdentityError::BadSignature(
            last.unwrap_or_else(|| "no key may sign".to_owned()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_verify_and_survive_armoring() {
        let worker = SigningIdentity::generate("worker-a").unwrap();
        let other = SigningIdentity::generate("worker-b").unwrap();
        let proof = worker_proof(&[1; 16], &[2; 32]);
        let sig = worker.sign(&proof).unwrap();
        let public = VerifyingIdentity::from_armored(&worker.public().armored().unwrap()).unwrap();
        public.verify(&proof, &sig).unwrap();
        assert!(
            public
                .verify(&worker_proof(&[1; 16], &[3; 32]), &sig)
                .is_err(),
            "other nonce"
        );
        assert!(
            public
                .verify(&master_proof(&[1; 16], &[2; 32]), &sig)
                .is_err(),
            "other context"
        );
        assert!(other.public().verify(&proof, &sig).is_err(), "other key");
        assert!(public.verify(&proof, b"garbage").is_err());
        let reloaded =
            SigningIdentity::from_armored(&worker.secret_armored().unwrap(), "").unwrap();
        public
            .verify(&proof, &reloaded.sign(&proof).unwrap())
            .unwrap();
        assert!(VerifyingIdentity::from_armored("not a key").is_err());
    }

    fn fixture(name: &str) -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/keys/");
        std::fs::read_to_string(format!("{path}{name}")).expect("fixture")
    }

    #[test]
    fn keys_and_signatures_made_by_gpg_work() {
        let worker = SigningIdentity::from_armored(&fixture("worker.sec.asc"), "").unwrap();
        let worker_public = VerifyingIdentity::from_armored(&fixture("worker.pub.asc")).unwrap();
        let data = worker_proof(&[7; 16], &[9; 32]);
        worker_public
            .verify(&data, &worker.sign(&data).unwrap())
            .unwrap();

        // A detached signature written by gpg itself.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/keys/");
        let signed = std::fs::read(format!("{dir}gpg-signed.txt")).unwrap();
        let gpg_sig = std::fs::read(format!("{dir}gpg-signed.txt.sig")).unwrap();
        worker_public.verify(&signed, &gpg_sig).unwrap();
        assert!(worker_public.verify(b"tampered", &gpg_sig).is_err());

        // Passphrase-protected secret key: right passphrase works, wrong one is refused up front.
        let master =
            SigningIdentity::from_armored(&fixture("master.sec.asc"), "fixture-passphrase")
                .unwrap();
        let master_public = VerifyingIdentity::from_armored(&fixture("master.pub.asc")).unwrap();
        master_public
            .verify(&data, &master.sign(&data).unwrap())
            .unwrap();
        assert!(SigningIdentity::from_armored(&fixture("master.sec.asc"), "wrong").is_err());
        assert!(worker_public
            .verify(&data, &master.sign(&data).unwrap())
            .is_err());
    }

    #[test]
    fn expired_and_revoked_keys_and_keys_that_cannot_sign_are_not_valid() {
        let not_valid = |name: &str| {
            let key = VerifyingIdentity::from_armored(&fixture(name)).expect("parses");
            let error = key.check_valid().expect_err(name);
            assert!(error.is_not_valid(), "{name}: {error}");
            error.to_string()
        };
        assert!(not_valid("expired.pub.asc").contains("expired at 2020-01-03"));
        assert!(not_valid("revoked.pub.asc").contains("revoked"));
        // A certify-only primary whose signing subkeys expired has nothing left to sign with.
        assert!(not_valid("subexpired.pub.asc").contains("signing subkey 1: it expired"));
        // Their secret halves cannot sign either: a worker holding one fails at start.
        for name in ["expired.sec.asc", "revoked.sec.asc", "subexpired.sec.asc"] {
            let error = SigningIdentity::from_armored(&fixture(name), "").expect_err(name);
            assert!(error.is_not_valid(), "{name}: {error}");
        }
        // The gpg-made keys of the other tests are valid.
        for name in ["worker.pub.asc", "master.pub.asc", "subsign.pub.asc"] {
            VerifyingIdentity::from_armored(&fixture(name))
                .unwrap()
                .check_valid()
                .expect(name);
        }
    }

    #[test]
    fn a_signing_subkey_signs_and_a_certify_only_primary_does_not() {
        let secret = SigningIdentity::from_armored(&fixture("subsign.sec.asc"), "").unwrap();
        let public = VerifyingIdentity::from_armored(&fixture("subsign.pub.asc")).unwrap();
        let data = worker_proof(&[3; 16], &[4; 32]);
        public.verify(&data, &secret.sign(&data).unwrap()).unwrap();
        // A signature by the certify-only primary key is genuine but not accepted.
        let by_primary = DetachedSignature::sign_binary_data(
            rand::thread_rng(),
            &secret.key.primary_key,
            &Password::empty(),
            HashAlgorithm::Sha256,
            &data[..],
        )
        .unwrap()
        .to_bytes()
        .unwrap();
        assert!(public.verify(&data, &by_primary).is_err());
        // And a signature by an expired key does not verify, even though its maths does.
        let expired = VerifyingIdentity::from_armored(&fixture("expired.pub.asc")).unwrap();
        assert!(expired
            .verify(&data, &by_primary)
            .unwrap_err()
            .is_not_valid());
    }
}
