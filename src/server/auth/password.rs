//! Password hashing (argon2id, m=19456 KiB, t=2, p=1) on the blocking pool, and the strength rule.
use crate::server::error::internal;
use crate::shared::{error::AppError, values::check_password_length};
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use std::sync::OnceLock;

fn hasher() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Length 10–1024, and not guessable: zxcvbn's bundled dictionaries (common passwords, names,
/// words) plus the person's own email and name must not crack it within a million guesses.
pub fn check_strength(field: &str, password: &str, user_inputs: &[&str]) -> Result<(), AppError> {
    check_password_length(field, password)?;
    // zxcvbn's cost grows with length; past 100 characters only the length rule matters.
    let sample: String = password.chars().take(100).collect();
    let entropy = zxcvbn::zxcvbn(&sample, user_inputs);
    if entropy.score() < zxcvbn::Score::Two {
        let hint = entropy
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| format!(" ({})", w.to_string().trim_end_matches('.')))
            .unwrap_or_default();
        return Err(AppError::invalid_field(
            field,
            &format!("This password is too common or too easy to guess{hint}. Try a longer phrase of unrelated words."),
        ));
    }
    Ok(())
}

pub async fn hash(password: &str) -> Result<String, AppError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await
    .map_err(internal)?
    .map_err(internal)
}

/// Checks a password against a stored hash. With no hash (unknown email, SSO-only account) it
/// checks against a dummy hash so the answer takes as long either way.
pub async fn verify(password: &str, stored: Option<&str>) -> Result<bool, AppError> {
    let known = stored.is_some();
    let stored = match stored {
        Some(s) => s.to_owned(),
        None => dummy_hash().to_owned(),
    };
    let password = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored).map_err(|e| e.to_string())?;
        Ok::<_, String>(hasher().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(internal)?
    .map_err(internal)?;
    Ok(known && matches)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        hasher().hash_password(b"no account has this password", &salt).expect("hashing works").to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_and_personal_passwords_are_refused() {
        for weak in ["password123", "qwertyuiop", "1234567890", "iloveyou12"] {
            assert!(check_strength("password", weak, &[]).is_err(), "{weak}");
        }
        assert!(check_strength("password", "ada.lovelace@example.com", &["ada.lovelace@example.com"]).is_err());
        assert!(check_strength("password", "Tr0ub4dor&3-horse-staple", &[]).is_ok());
        assert_eq!(check_strength("new_password", "short", &[]).unwrap_err().field(), Some("new_password"));
    }

    #[tokio::test]
    async fn hashes_are_argon2id_with_the_required_cost_and_verify() {
        let hash = hash("Tr0ub4dor&3-horse-staple").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify("Tr0ub4dor&3-horse-staple", Some(&hash)).await.unwrap());
        assert!(!verify("wrong password here", Some(&hash)).await.unwrap());
        assert!(!verify("Tr0ub4dor&3-horse-staple", None).await.unwrap());
    }
}
