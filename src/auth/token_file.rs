//! The token file (`--token-file`): principals in TOML, each with a name,
//! scopes, and either a token's SHA-256 (never the token) or a client
//! certificate's subject alternative name.
//!
//! ```toml
//! [[principal]]
//! name = "ci"
//! token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! scopes = ["read", "run"]
//!
//! [[principal]]
//! name = "fleet"
//! san = "agent-7.fleet.example"
//! scopes = ["read", "run", "write"]
//! ```

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

use ld_tower_layers::{token_digest, Principal};
use serde::Deserialize;

use super::Scope;

/// The largest token file read (a file of thousands of principals is far
/// smaller).
pub const MAX_TOKEN_FILE_BYTES: u64 = 1024 * 1024;

/// A token file, read and checked.
#[derive(Clone, Debug, Default)]
pub struct TokenFile {
    /// Tokens (as their digests) and the principals they stand for.
    pub tokens: Vec<([u8; 32], Principal)>,
    /// Certificate names and the principals they stand for.
    pub certificates: Vec<(String, Principal)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    principal: Vec<RawPrincipal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrincipal {
    name: String,
    #[serde(default)]
    token_sha256: Option<String>,
    #[serde(default)]
    san: Option<String>,
    scopes: Vec<String>,
}

impl TokenFile {
    /// Reads and checks the file at `path`; the error names the file and
    /// what is wrong (never a token: the file holds none).
    pub fn load(path: &Path) -> Result<TokenFile, String> {
        let at = path.display();
        let file = std::fs::File::open(path).map_err(|e| format!("cannot read {at}: {e}"))?;
        let mut text = String::new();
        file.take(MAX_TOKEN_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read {at}: {e}"))?;
        if text.len() as u64 > MAX_TOKEN_FILE_BYTES {
            return Err(format!(
                "{at} is over {MAX_TOKEN_FILE_BYTES} bytes: not a token file"
            ));
        }
        TokenFile::parse(&text).map_err(|e| format!("{at}: {e}"))
    }

    /// Reads and checks a token file's text.
    pub fn parse(text: &str) -> Result<TokenFile, String> {
        let raw: Raw = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        let mut file = TokenFile::default();
        let mut names = HashSet::new();
        let mut digests = HashSet::new();
        let mut sans = HashSet::new();
        for (index, entry) in raw.principal.into_iter().enumerate() {
            let at = format!("principal {} ({:?})", index + 1, entry.name);
            if entry.name.is_empty()
                || entry.name.len() > 128
                || entry.name.chars().any(char::is_control)
            {
                return Err(format!(
                    "principal {}: a name is 1 to 128 characters, no control characters",
                    index + 1
                ));
            }
            if !names.insert(entry.name.clone()) {
                return Err(format!("{at}: the name is used twice"));
            }
            let scopes = entry
                .scopes
                .iter()
                .map(|word| word.parse::<Scope>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{at}: {e}"))?;
            let principal = Principal::new(entry.name.as_str(), scopes.iter().map(|s| s.as_str()));
            match (entry.token_sha256, entry.san) {
                (Some(hex), None) => {
                    let digest = parse_digest(&hex).map_err(|e| format!("{at}: {e}"))?;
                    if !digests.insert(digest) {
                        return Err(format!("{at}: this token_sha256 is given twice"));
                    }
                    file.tokens.push((digest, principal));
                }
                (None, Some(san)) => {
                    if san.is_empty() {
                        return Err(format!("{at}: san is empty"));
                    }
                    if !sans.insert(san.to_ascii_lowercase()) {
                        return Err(format!("{at}: san {san:?} is given twice"));
                    }
                    file.certificates.push((san.to_ascii_lowercase(), principal));
                }
                _ => {
                    return Err(format!(
                        "{at}: give either token_sha256 (a token's SHA-256, see `ld-tower token-hash`) or san (a client certificate's name), not both or neither"
                    ))
                }
            }
        }
        Ok(file)
    }
}

fn parse_digest(text: &str) -> Result<[u8; 32], String> {
    let mut digest = [0u8; 32];
    hex::decode_to_slice(text, &mut digest).map_err(|_| {
        "token_sha256 must be 64 hexadecimal digits (a SHA-256; `ld-tower token-hash` prints it)"
            .to_owned()
    })?;
    Ok(digest)
}

/// The token file line for `token`: `token_sha256 = "<hex>"`.
pub fn token_line(token: &[u8]) -> String {
    format!("token_sha256 = \"{}\"", hex::encode(token_digest(token)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_are_read_with_their_scopes() -> Result<(), String> {
        let file = TokenFile::parse(
            r#"
            [[principal]]
            name = "ci"
            token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
            scopes = ["read", "run"]

            [[principal]]
            name = "fleet"
            san = "Agent-7.Fleet.Example"
            scopes = []
            "#,
        )?;
        assert_eq!(file.tokens.len(), 1);
        assert_eq!(file.tokens[0].0, token_digest(b"test"));
        let ci = &file.tokens[0].1;
        assert_eq!(ci.name(), "ci");
        assert!(ci.has_scope("read") && ci.has_scope("run") && !ci.has_scope("write"));
        assert_eq!(file.certificates[0].0, "agent-7.fleet.example");
        assert!(!file.certificates[0].1.has_scope("read"));
        assert_eq!(
            token_line(b"test"),
            r#"token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08""#
        );
        Ok(())
    }

    #[test]
    fn mistakes_are_named() {
        let digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        for (text, error) in [
            (
                format!("[[principal]]\nname = \"a\"\ntoken_sha256 = \"{digest}\"\nscopes = [\"root\"]"),
                r#"principal 1 ("a"): unknown scope "root": the scopes are read, run, write and admin"#,
            ),
            (
                "[[principal]]\nname = \"a\"\ntoken_sha256 = \"abc\"\nscopes = []".into(),
                r#"principal 1 ("a"): token_sha256 must be 64 hexadecimal digits (a SHA-256; `ld-tower token-hash` prints it)"#,
            ),
            (
                "[[principal]]\nname = \"a\"\nscopes = []".into(),
                r#"principal 1 ("a"): give either token_sha256 (a token's SHA-256, see `ld-tower token-hash`) or san (a client certificate's name), not both or neither"#,
            ),
            (
                format!("[[principal]]\nname = \"a\"\ntoken_sha256 = \"{digest}\"\nscopes = []\n[[principal]]\nname = \"a\"\nsan = \"x\"\nscopes = []"),
                r#"principal 2 ("a"): the name is used twice"#,
            ),
            (
                format!("[[principal]]\nname = \"a\"\ntoken_sha256 = \"{digest}\"\nscopes = []\n[[principal]]\nname = \"b\"\ntoken_sha256 = \"{digest}\"\nscopes = []"),
                r#"principal 2 ("b"): this token_sha256 is given twice"#,
            ),
            (
                "[[principal]]\nname = \"a\"\ntoken = \"secret\"\nscopes = []".into(),
                "unknown field `token`, expected one of `name`, `token_sha256`, `san`, `scopes`",
            ),
        ] {
            assert_eq!(TokenFile::parse(&text).err().as_deref(), Some(error), "{text}");
        }
    }
}
