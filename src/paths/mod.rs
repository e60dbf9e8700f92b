//! [`Paths`]: where actions may read and write files, and [`Resolved`]: a
//! path that rule accepted, through which the file is then opened.
//!
//! Paths are relative to the server's working directory. A served server
//! confines them to it unless it was started with `--allow-any-path`: no
//! absolute path, no `..` above it, and no symbolic link anywhere below it,
//! the file's own name included (a dangling link is a link too). A link
//! inside the working directory is refused as well, wherever it points:
//! what it points to may change between two uses.
//!
//! # No window between the check and the use
//!
//! [`Paths::resolve`] checks what exists when it is called, so that a bad
//! path fails early with a clear message; it opens nothing. The check that
//! matters is made again by the opening itself ([`Resolved::open`],
//! [`Resolved::create`]): from a handle on the working directory, one
//! component at a time, each directory opened with `O_NOFOLLOW |
//! O_DIRECTORY` relative to the one before (`openat`), the file itself with
//! `O_NOFOLLOW` (cap-std's `Dir`, cap-fs-ext's no-follow options). A link
//! swapped in at any point before that makes the opening fail; nothing is
//! ever created through one.
//!
//! SQLite opens its files by name ([`Resolved::sqlite`]): it is given the
//! absolute path from the working directory's real path, with
//! `SQLITE_OPEN_NOFOLLOW`, which makes SQLite refuse the path if any of its
//! components is a link, and SQLite opens every file (database, journal,
//! WAL) with `O_NOFOLLOW`. The window that remains is inside SQLite: a
//! folder of the path replaced by a link between SQLite's own check of the
//! path and its `open` of it. Only someone who can already write in the
//! working directory can do that.
//!
//! Unconfined paths (`--allow-any-path`, and `ld-tower run`, whose user owns
//! the machine) are plain `std::fs` paths, links followed.

mod beneath;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Why a path was refused or could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// An absolute path while confined.
    #[error("{0:?} is an absolute path: this server only reads and writes below its working directory (start it with --allow-any-path to lift that)")]
    Absolute(PathBuf),
    /// A path that leaves the root while confined.
    #[error("{0:?} leads out of this server's working directory (start it with --allow-any-path to lift that)")]
    Escapes(PathBuf),
    /// A symbolic link in a confined path.
    #[error("{given:?}: {link:?} is a symbolic link, and this server follows none below its working directory (start it with --allow-any-path to lift that)")]
    Link {
        /// The path, as given.
        given: PathBuf,
        /// The part of it that is a link, relative to the working directory.
        link: PathBuf,
    },
    /// Not a regular file (a folder, a FIFO, a device) where a confined
    /// server reads or writes one.
    #[error("{0:?} is not a regular file")]
    NotAFile(PathBuf),
    /// The file or a folder on its way could not be opened or created.
    #[error("cannot open {0:?}: {1}")]
    Io(PathBuf, io::Error),
}

/// The rule for file paths given by clients.
#[derive(Clone, Debug)]
pub struct Paths {
    /// The directory relative paths start from.
    root: PathBuf,
    /// Whether paths must stay below `root`.
    confined: bool,
    /// The most bytes a file read whole may hold (`--max-file-bytes`);
    /// `None`: only each format's own bound.
    max_file_bytes: Option<u64>,
}

impl Default for Paths {
    /// Any path, relative to the current directory (a local run: the user
    /// owns the machine).
    fn default() -> Self {
        Paths {
            root: PathBuf::from("."),
            confined: false,
            max_file_bytes: None,
        }
    }
}

impl Paths {
    /// Paths confined to `root`.
    pub fn confined(root: impl Into<PathBuf>) -> Self {
        Paths {
            root: root.into(),
            confined: true,
            max_file_bytes: None,
        }
    }

    /// Any path; relative ones start at `root`.
    pub fn unconfined(root: impl Into<PathBuf>) -> Self {
        Paths {
            root: root.into(),
            confined: false,
            max_file_bytes: None,
        }
    }

    /// This rule with files read whole (action files, `.proto` files, TLS
    /// files) holding at most `bytes` (`--max-file-bytes`); see
    /// [`crate::policy::file_limit`].
    pub fn with_max_file_bytes(mut self, bytes: Option<u64>) -> Self {
        self.max_file_bytes = bytes;
        self
    }

    /// The most bytes a file read whole may hold, if the agent says.
    pub fn max_file_bytes(&self) -> Option<u64> {
        self.max_file_bytes
    }

    /// What a client gave, checked: relative paths joined to the root; when
    /// confined, refused if absolute, if `..` leads above the root, or if a
    /// part of it that exists now is a symbolic link (the last part too).
    /// Opening through the [`Resolved`] checks again, as it opens.
    pub fn resolve(&self, given: impl AsRef<Path>) -> Result<Resolved, PathError> {
        let given = given.as_ref();
        if !self.confined {
            return Ok(Resolved {
                given: given.to_owned(),
                path: self.root.join(given),
                beneath: None,
            });
        }
        let relative = clean(given)?;
        beneath::check(&self.root, &relative, given)?;
        Ok(Resolved {
            given: given.to_owned(),
            path: self.root.join(&relative),
            beneath: Some(Beneath {
                root: self.root.clone(),
                relative,
            }),
        })
    }
}

/// `given` without `.` and `..` parts; refused if absolute or if `..` leads
/// above its start.
fn clean(given: &Path) -> Result<PathBuf, PathError> {
    if given.is_absolute() || given.has_root() {
        return Err(PathError::Absolute(given.to_owned()));
    }
    let mut clean = PathBuf::new();
    for part in given.components() {
        match part {
            Component::Normal(name) => clean.push(name),
            Component::CurDir => {}
            Component::ParentDir => {
                if !clean.pop() {
                    return Err(PathError::Escapes(given.to_owned()));
                }
            }
            Component::Prefix(_) | Component::RootDir => {
                return Err(PathError::Absolute(given.to_owned()));
            }
        }
    }
    Ok(clean)
}

/// A path the rule accepted. Open it through here: a confined path is then
/// opened from a handle on the root, no link followed.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// As the client gave it, for messages.
    given: PathBuf,
    /// The root joined to it: for messages, and what an unconfined path
    /// opens.
    path: PathBuf,
    /// Set when confined: the root and the path below it.
    beneath: Option<Beneath>,
}

/// A confined path: the root and the cleaned path below it (`..` and `.`
/// gone; only names).
#[derive(Clone, Debug)]
struct Beneath {
    /// The working directory.
    root: PathBuf,
    /// Only normal components; empty for the root itself.
    relative: PathBuf,
}

/// Whether SQLite may follow symbolic links in a database's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Links {
    /// Follow them (a path the user owns).
    Follow,
    /// Refuse the path if any component is one (`SQLITE_OPEN_NOFOLLOW`).
    Refuse,
}

/// A path to give SQLite, from [`Resolved::sqlite`].
#[derive(Clone, Debug)]
pub struct SqlitePath {
    /// Absolute when confined (from the root's real path).
    pub path: PathBuf,
    /// [`Links::Refuse`] when confined: open it with `SQLITE_OPEN_NOFOLLOW`.
    pub links: Links,
}

impl Resolved {
    /// The path: the root joined to what was given (cleaned when confined).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the file to read. Confined: no link followed on the way, and
    /// only a regular file (a FIFO is refused, never waited on).
    pub fn open(&self) -> Result<File, PathError> {
        match &self.beneath {
            None => File::open(&self.path).map_err(|e| PathError::Io(self.path.clone(), e)),
            Some(beneath) => beneath::open(&beneath.root, &beneath.relative, &self.given),
        }
    }

    /// Creates (or truncates) the file to write, creating its folders.
    /// Confined: no link followed on the way, none created through, and an
    /// existing file must be a regular one.
    pub fn create(&self) -> Result<File, PathError> {
        match &self.beneath {
            None => {
                self.create_parent()?;
                File::create(&self.path).map_err(|e| PathError::Io(self.path.clone(), e))
            }
            Some(beneath) => beneath::create(&beneath.root, &beneath.relative, &self.given),
        }
    }

    /// Creates the file's folders (confined: no link followed on the way).
    pub fn create_parent(&self) -> Result<(), PathError> {
        match &self.beneath {
            None => match self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(parent) => {
                    std::fs::create_dir_all(parent).map_err(|e| PathError::Io(parent.to_owned(), e))
                }
                None => Ok(()),
            },
            Some(beneath) => {
                beneath::parent(&beneath.root, &beneath.relative, &self.given, true).map(drop)
            }
        }
    }

    /// The path to give SQLite, which opens files by name. Confined: the
    /// root's real path joined to the checked path, to be opened with
    /// `SQLITE_OPEN_NOFOLLOW`, so that no component may be a link (see the
    /// module's docs for the window that leaves).
    pub fn sqlite(&self) -> Result<SqlitePath, PathError> {
        match &self.beneath {
            None => Ok(SqlitePath {
                path: self.path.clone(),
                links: Links::Follow,
            }),
            Some(beneath) => {
                let root = beneath
                    .root
                    .canonicalize()
                    .map_err(|e| PathError::Io(beneath.root.clone(), e))?;
                Ok(SqlitePath {
                    path: root.join(&beneath.relative),
                    links: Links::Refuse,
                })
            }
        }
    }
}
