//! [`Paths`]: where actions may read and write files. Paths are relative to
//! the server's working directory; a served server confines them to it (no
//! absolute path, no `..` out of it, no symbolic link out of it) unless it
//! was started with `--allow-any-path`.

use std::io;
use std::path::{Component, Path, PathBuf};

/// Why a path was refused.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// An absolute path while confined.
    #[error("{0:?} is an absolute path: this server only reads and writes below its working directory (start it with --allow-any-path to lift that)")]
    Absolute(PathBuf),
    /// A path that leaves the root while confined.
    #[error("{0:?} leads out of this server's working directory (start it with --allow-any-path to lift that)")]
    Escapes(PathBuf),
    /// The working directory cannot be read.
    #[error("cannot resolve {0:?}: {1}")]
    Io(PathBuf, io::Error),
}

/// The rule for file paths given by clients.
#[derive(Clone, Debug)]
pub struct Paths {
    /// The directory relative paths start from.
    root: PathBuf,
    /// Whether paths must stay below `root`.
    confined: bool,
}

impl Default for Paths {
    /// Any path, relative to the current directory (a local run: the user
    /// owns the machine).
    fn default() -> Self {
        Paths {
            root: PathBuf::from("."),
            confined: false,
        }
    }
}

impl Paths {
    /// Paths confined to `root`.
    pub fn confined(root: impl Into<PathBuf>) -> Self {
        Paths {
            root: root.into(),
            confined: true,
        }
    }

    /// Any path; relative ones start at `root`.
    pub fn unconfined(root: impl Into<PathBuf>) -> Self {
        Paths {
            root: root.into(),
            confined: false,
        }
    }

    /// The path to use for what a client gave: relative paths joined to the
    /// root; when confined, refused if absolute, if `..` leads above the
    /// root, or if an existing part of it is a link out of the root.
    pub fn resolve(&self, given: impl AsRef<Path>) -> Result<PathBuf, PathError> {
        let given = given.as_ref();
        if !self.confined {
            return Ok(self.root.join(given));
        }
        if given.is_absolute() || given.has_root() {
            return Err(PathError::Absolute(given.to_owned()));
        }
        let mut depth: usize = 0;
        let mut clean = PathBuf::new();
        for part in given.components() {
            match part {
                Component::Normal(name) => {
                    depth += 1;
                    clean.push(name);
                }
                Component::CurDir => {}
                Component::ParentDir => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| PathError::Escapes(given.to_owned()))?;
                    clean.pop();
                }
                Component::Prefix(_) | Component::RootDir => {
                    return Err(PathError::Absolute(given.to_owned()));
                }
            }
        }
        let path = self.root.join(&clean);
        // A link inside the root may point out of it: check the deepest
        // part that exists.
        let root = self
            .root
            .canonicalize()
            .map_err(|e| PathError::Io(self.root.clone(), e))?;
        let mut existing = path.as_path();
        loop {
            match existing.canonicalize() {
                Ok(real) => {
                    if !real.starts_with(&root) {
                        return Err(PathError::Escapes(given.to_owned()));
                    }
                    break;
                }
                Err(_) => match existing.parent() {
                    Some(parent) => existing = parent,
                    None => break,
                },
            }
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confined_paths() {
        let dir = tempfile::tempdir().expect("temp dir");
        let paths = Paths::confined(dir.path());
        assert!(paths.resolve("report.html").is_ok());
        assert!(paths.resolve("out/./a/../b.json").is_ok());
        assert!(matches!(
            paths.resolve("/etc/passwd"),
            Err(PathError::Absolute(_))
        ));
        assert!(matches!(paths.resolve("../x"), Err(PathError::Escapes(_))));
        assert!(matches!(
            paths.resolve("a/../../x"),
            Err(PathError::Escapes(_))
        ));
        std::os::unix::fs::symlink("/tmp", dir.path().join("out")).expect("link");
        assert!(matches!(
            paths.resolve("out/x.html"),
            Err(PathError::Escapes(_))
        ));
        let open = Paths::unconfined(dir.path());
        assert!(open.resolve("/tmp/x").is_ok());
        let err = paths
            .resolve("/etc/x")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("--allow-any-path"), "{err}");
    }
}
