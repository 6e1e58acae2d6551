//! One-time secrets mailed to people: 256 random bits, base64url; only their SHA-256 is stored,
//! so a database leak reveals no usable link.
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Lookup key for a token. Comparing hashes by equality in SQL is safe: the attacker does not
/// control the hash prefix, so timing reveals nothing about the secret.
pub fn hash(token: &str) -> String {
    hex(&Sha256::digest(token.trim().as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let a = super::generate();
        assert_eq!(a.len(), 43);
        assert_ne!(a, super::generate());
        assert_eq!(super::hash(&a), super::hash(&format!(" {a}\n")));
        assert_eq!(super::hash(&a).len(), 64);
    }
}
