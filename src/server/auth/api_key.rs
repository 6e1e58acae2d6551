//! The API key format: `gk_live_` + 43 base62 characters (256 random bits) + a 6-character base62
//! CRC32 of everything before it. The fixed prefix lets secret scanners recognise leaked keys; the
//! checksum refuses typos and junk without a database lookup. Hand-written because the format is
//! ours: no crate encodes fixed-width base62 with a checksum.
use rand::Rng;

pub const PREFIX: &str = "gk_live_";
const BODY_LEN: usize = 43;
const CHECKSUM_LEN: usize = 6;
pub const KEY_LEN: usize = PREFIX.len() + BODY_LEN + CHECKSUM_LEN;
/// How much of a key is stored in clear and shown in lists.
const DISPLAY_LEN: usize = PREFIX.len() + 4;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A freshly generated key: `secret` is given to the caller once; `hash` and `display_prefix`
/// are what is stored.
pub struct NewSecret {
    pub secret: String,
    pub hash: String,
    pub display_prefix: String,
}

pub fn generate() -> NewSecret {
    let mut rng = rand::rngs::OsRng;
    let mut secret = String::with_capacity(KEY_LEN);
    secret.push_str(PREFIX);
    secret.extend((0..BODY_LEN).map(|_| BASE62[rng.gen_range(0..62)] as char));
    let checksum = checksum(&secret);
    secret.push_str(&checksum);
    NewSecret { hash: super::token::hash(&secret), display_prefix: secret[..DISPLAY_LEN].to_owned(), secret }
}

fn checksum(head: &str) -> String {
    let mut n = crc32fast::hash(head.as_bytes());
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// True when `raw` has the shape of a key and its checksum matches: only then is it looked up.
pub fn well_formed(raw: &str) -> bool {
    raw.len() == KEY_LEN
        && raw.starts_with(PREFIX)
        && raw[PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric())
        && checksum(&raw[..KEY_LEN - CHECKSUM_LEN]) == raw[KEY_LEN - CHECKSUM_LEN..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_and_distinct() {
        let a = generate();
        let b = generate();
        assert_eq!(a.secret.len(), KEY_LEN);
        assert!(a.secret.starts_with("gk_live_"));
        assert!(well_formed(&a.secret), "{}", a.secret);
        assert_ne!(a.secret, b.secret);
        assert_ne!(a.hash, b.hash);
        assert_eq!(a.display_prefix, &a.secret[..12]);
        assert!(!a.hash.contains(&a.secret[8..20]));
    }

    #[test]
    fn checksum_refuses_changed_or_malformed_keys() {
        let key = generate().secret;
        // Every single-character change in the body is caught.
        for i in PREFIX.len()..KEY_LEN {
            let mut bytes = key.clone().into_bytes();
            bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            let changed = String::from_utf8(bytes).unwrap();
            assert!(!well_formed(&changed), "change at {i} not caught");
        }
        assert!(!well_formed(""));
        assert!(!well_formed(&key[..KEY_LEN - 1]));
        assert!(!well_formed(&format!("{key}x")));
        assert!(!well_formed(&key.replacen("gk_live_", "gk_test_", 1)));
        assert!(!well_formed(&format!("gk_live_a{}", "é".repeat(24)))); // non-ASCII of the right byte length
    }

    #[test]
    fn checksum_is_fixed_width_base62() {
        assert_eq!(checksum("gk_live_"), checksum("gk_live_"));
        assert_eq!(checksum("").len(), 6); // crc32("") = 0 → "000000"
        assert_eq!(checksum(""), "000000");
    }
}
