//! Token files: scoped principals for `serve --token-file`, as an operator
//! writes them (the token's SHA-256 in hex).

use std::path::Path;

use sha2::{Digest, Sha256};

/// Writes `dir/principals.toml` with one principal per `(name, token,
/// scopes)`; returns its path.
pub fn principals_file(dir: &Path, principals: &[(&str, &str, &[&str])]) -> String {
    let text: String = principals
        .iter()
        .map(|(name, token, scopes)| {
            format!(
                "[[principal]]\nname = \"{name}\"\ntoken_sha256 = \"{}\"\nscopes = {}\n\n",
                hex::encode(Sha256::digest(token.as_bytes())),
                serde_json::json!(scopes)
            )
        })
        .collect();
    let path = dir.join("principals.toml");
    std::fs::write(&path, text).expect("principals file");
    path.to_str().expect("a UTF-8 path").to_owned()
}
