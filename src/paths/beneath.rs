//! Confined paths on disk: from a handle on the root, one component at a
//! time, no symbolic link followed (cap-std's `Dir`: `openat` relative to
//! the handle; cap-fs-ext: `O_NOFOLLOW`). Each function walks afresh, so
//! what an earlier check saw does not matter: a link found now is refused.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};

use super::PathError;

/// Checks what exists of `relative` below `root` now: no part of it may be
/// a link (the last one included, dangling or not). Missing parts are fine:
/// they will be created, or reading will say they are missing.
pub(super) fn check(root: &Path, relative: &Path, given: &Path) -> Result<(), PathError> {
    if split(relative).is_none() {
        return Ok(());
    }
    let (dir, name) = match parent(root, relative, given, false) {
        Ok(found) => found,
        // A folder on the way is missing (the root itself must be there).
        Err(PathError::Io(path, error))
            if error.kind() == io::ErrorKind::NotFound && path != root =>
        {
            return Ok(())
        }
        Err(other) => return Err(other),
    };
    match dir.symlink_metadata(name) {
        Ok(meta) if meta.is_symlink() => Err(PathError::Link {
            given: given.to_owned(),
            link: relative.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// The folder `relative` is in, opened from `root` with no link followed
/// (created as needed when `create`), and the file's name in it.
pub(super) fn parent<'a>(
    root: &Path,
    relative: &'a Path,
    given: &Path,
    create: bool,
) -> Result<(Dir, &'a OsStr), PathError> {
    let (folders, name) = split(relative).ok_or_else(|| PathError::NotAFile(root.to_owned()))?;
    let mut dir = open_root(root)?;
    let mut so_far = PathBuf::new();
    for folder in folders.components() {
        let folder = folder.as_os_str();
        so_far.push(folder);
        if create {
            match dir.create_dir(folder) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
                Err(error) => return Err(refused(&dir, folder, &so_far, root, given, error)),
            }
        }
        dir = dir
            .open_dir_nofollow(folder)
            .map_err(|error| refused(&dir, folder, &so_far, root, given, error))?;
    }
    Ok((dir, name))
}

/// Opens the regular file `relative` below `root` to read.
pub(super) fn open(root: &Path, relative: &Path, given: &Path) -> Result<File, PathError> {
    let (dir, name) = parent(root, relative, given, false)?;
    let mut options = OpenOptions::new();
    options.read(true);
    let file = open_in(&dir, name, &options, root, relative, given)?;
    regular(file, root, relative, false)
}

/// Creates (or empties) the regular file `relative` below `root` to write,
/// creating its folders.
pub(super) fn create(root: &Path, relative: &Path, given: &Path) -> Result<File, PathError> {
    let (dir, name) = parent(root, relative, given, true)?;
    let mut options = OpenOptions::new();
    // Not `truncate`: an existing file is checked before it is emptied.
    options.write(true).create(true);
    let file = open_in(&dir, name, &options, root, relative, given)?;
    let file = regular(file, root, relative, true)?;
    file.set_len(0)
        .map_err(|e| PathError::Io(root.join(relative), e))?;
    Ok(file)
}

/// Opens `name` in `dir` with `options`, never following a link there, and
/// never waiting on a FIFO (`O_NONBLOCK`; refused afterwards as not a
/// regular file).
fn open_in(
    dir: &Dir,
    name: &OsStr,
    options: &OpenOptions,
    root: &Path,
    relative: &Path,
    given: &Path,
) -> Result<cap_std::fs::File, PathError> {
    let mut options = options.clone();
    options
        .follow(FollowSymlinks::No)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    dir.open_with(name, &options)
        .map_err(|error| refused(dir, name, relative, root, given, error))
}

/// `file` as a std file if it is a regular file; when `writing`, one with
/// no other hard link too (a hard link may name a file outside the root).
fn regular(
    file: cap_std::fs::File,
    root: &Path,
    relative: &Path,
    writing: bool,
) -> Result<File, PathError> {
    use std::os::unix::fs::MetadataExt;
    let file = file.into_std();
    let meta = file
        .metadata()
        .map_err(|e| PathError::Io(root.join(relative), e))?;
    if !meta.is_file() || (writing && meta.nlink() > 1) {
        return Err(PathError::NotAFile(root.join(relative)));
    }
    Ok(file)
}

/// The root, opened with the process's own authority (the root itself is
/// the owner's choice: links in its own path are followed).
fn open_root(root: &Path) -> Result<Dir, PathError> {
    Dir::open_ambient_dir(root, cap_std::ambient_authority())
        .map_err(|e| PathError::Io(root.to_owned(), e))
}

/// The folders and the last name of `relative`; `None` when it is empty
/// (the root itself).
fn split(relative: &Path) -> Option<(&Path, &OsStr)> {
    Some((relative.parent()?, relative.file_name()?))
}

/// The error for `name` in `dir` failing to open with `error`: a link if it
/// is one (`ELOOP`, `ENOTDIR` and the rest say so less clearly), else the
/// I/O error with the full path.
fn refused(
    dir: &Dir,
    name: &OsStr,
    so_far: &Path,
    root: &Path,
    given: &Path,
    error: io::Error,
) -> PathError {
    match dir.symlink_metadata(name) {
        Ok(meta) if meta.is_symlink() => PathError::Link {
            given: given.to_owned(),
            link: so_far.to_owned(),
        },
        _ => PathError::Io(root.join(so_far), error),
    }
}
