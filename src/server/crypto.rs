//! Encryption at rest for secrets Gatehouse must be able to read back (webhook signing secrets,
//! later SSO client secrets): XChaCha20-Poly1305 with a random 192-bit nonce per value, so nonces
//! never repeat in practice. The key comes from `GATEHOUSE_SECRET_KEY` or, on the embedded
//! default, from `data/secret.key`, generated once with owner-only permissions.
use base64::{engine::general_purpose::STANDARD, Engine};
use chacha20poly1305::{
    aead::{Aead, AeadCore, KeyInit, OsRng},
    XChaCha20Poly1305, XNonce,
};
use sha2::{Digest, Sha256};
use std::{io::Write, path::Path};

const VERSION: &str = "v1:";
const NONCE_LEN: usize = 24;
const MIN_KEY_CHARS: usize = 32;

#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl SecretBox {
    /// Any string of at least 32 characters (e.g. `openssl rand -base64 32`); its SHA-256 is the key.
    pub fn from_passphrase(key: &str) -> anyhow::Result<SecretBox> {
        if key.chars().count() < MIN_KEY_CHARS {
            anyhow::bail!(
                "GATEHOUSE_SECRET_KEY must be at least {MIN_KEY_CHARS} characters (try `openssl rand -base64 32`)"
            );
        }
        let digest = Sha256::digest(key.as_bytes());
        Ok(SecretBox { cipher: XChaCha20Poly1305::new(&digest) })
    }

    /// Reads `path`, or creates it with a fresh random key readable only by this user.
    pub fn from_key_file(path: &Path) -> anyhow::Result<SecretBox> {
        if !path.exists() {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let key = STANDARD.encode(XChaCha20Poly1305::generate_key(&mut OsRng));
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(path) {
                Ok(mut file) => file.write_all(key.as_bytes())?,
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e.into()),
            }
        }
        let key = std::fs::read_to_string(path)?;
        Self::from_passphrase(key.trim())
    }

    pub fn seal(&self, plaintext: &str) -> String {
        format!("{VERSION}{}", STANDARD.encode(self.seal_bytes(plaintext.as_bytes())))
    }

    /// Fails when the value was sealed with another key or changed.
    pub fn open(&self, sealed: &str) -> anyhow::Result<String> {
        let encoded = sealed.strip_prefix(VERSION).ok_or_else(|| anyhow::anyhow!("unknown sealed format"))?;
        Ok(String::from_utf8(self.open_bytes(&STANDARD.decode(encoded)?)?)?)
    }

    /// Nonce followed by ciphertext, for binary columns (stored responses).
    pub fn seal_bytes(&self, plaintext: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self.cipher.encrypt(&nonce, plaintext).expect("encryption in memory cannot fail");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        bytes
    }

    pub fn open_bytes(&self, bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
        if bytes.len() < NONCE_LEN {
            anyhow::bail!("sealed value too short");
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| anyhow::anyhow!("cannot decrypt: wrong GATEHOUSE_SECRET_KEY or a changed value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_with_fresh_nonces() {
        let secrets = SecretBox::from_passphrase("0123456789abcdef0123456789abcdef").unwrap();
        let a = secrets.seal("whsec_abc");
        let b = secrets.seal("whsec_abc");
        assert_ne!(a, b, "each value gets its own nonce");
        assert!(!a.contains("whsec_abc"));
        assert_eq!(secrets.open(&a).unwrap(), "whsec_abc");
    }

    #[test]
    fn refuses_other_keys_tampering_and_short_keys() {
        let secrets = SecretBox::from_passphrase("0123456789abcdef0123456789abcdef").unwrap();
        let other = SecretBox::from_passphrase("fedcba9876543210fedcba9876543210").unwrap();
        let sealed = secrets.seal("whsec_abc");
        assert!(other.open(&sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(secrets.open(&tampered).is_err());
        assert!(SecretBox::from_passphrase("short").is_err());
    }

    #[test]
    fn key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let sealed = SecretBox::from_key_file(&path).unwrap().seal("x");
        assert_eq!(SecretBox::from_key_file(&path).unwrap().open(&sealed).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
