#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::os::unix::fs::symlink;
use std::path::Path;

use super::*;

/// A root and a folder outside it; what is outside must stay empty.
struct Dirs {
    root: tempfile::TempDir,
    outside: tempfile::TempDir,
}

impl Dirs {
    fn new() -> Self {
        Dirs {
            root: tempfile::tempdir().expect("root"),
            outside: tempfile::tempdir().expect("outside"),
        }
    }

    fn paths(&self) -> Paths {
        Paths::confined(self.root.path())
    }

    fn root(&self, name: &str) -> std::path::PathBuf {
        self.root.path().join(name)
    }

    fn outside(&self, name: &str) -> std::path::PathBuf {
        self.outside.path().join(name)
    }

    fn assert_outside_empty(&self) {
        let entries: Vec<_> = std::fs::read_dir(self.outside.path())
            .expect("read outside")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert!(entries.is_empty(), "created outside: {entries:?}");
    }
}

fn is_link(result: Result<impl std::fmt::Debug, PathError>, link: &str) {
    match result {
        Err(PathError::Link { link: found, .. }) => assert_eq!(found, Path::new(link)),
        other => panic!("expected the link {link:?} refused, got {other:?}"),
    }
}

#[test]
fn lexical_escapes_are_refused() {
    let dirs = Dirs::new();
    let paths = dirs.paths();
    assert!(paths.resolve("report.html").is_ok());
    assert_eq!(
        paths.resolve("out/./a/../b.json").expect("ok").path(),
        dirs.root("out/b.json")
    );
    assert!(matches!(
        paths.resolve("/etc/passwd"),
        Err(PathError::Absolute(_))
    ));
    assert!(matches!(paths.resolve("../x"), Err(PathError::Escapes(_))));
    assert!(matches!(
        paths.resolve("a/../../x"),
        Err(PathError::Escapes(_))
    ));
    let err = paths.resolve("/etc/x").expect_err("absolute").to_string();
    assert!(err.contains("--allow-any-path"), "{err}");
}

#[test]
fn a_link_to_a_folder_outside_is_refused() {
    let dirs = Dirs::new();
    symlink(dirs.outside.path(), dirs.root("out")).expect("link");
    is_link(dirs.paths().resolve("out/x.html"), "out");
    let err = dirs.paths().resolve("out/x.html").expect_err("link");
    assert!(err.to_string().contains("--allow-any-path"), "{err}");
}

#[test]
fn a_link_to_a_folder_inside_is_refused_too() {
    let dirs = Dirs::new();
    std::fs::create_dir(dirs.root("real")).expect("dir");
    symlink("real", dirs.root("alias")).expect("link");
    is_link(dirs.paths().resolve("alias/x.html"), "alias");
    // Deeper: a link below a real folder.
    symlink("..", dirs.root("real/up")).expect("link");
    is_link(dirs.paths().resolve("real/up/x.html"), "real/up");
}

#[test]
fn a_dangling_link_as_the_file_is_refused() {
    let dirs = Dirs::new();
    symlink(dirs.outside("evil.html"), dirs.root("report.html")).expect("link");
    is_link(dirs.paths().resolve("report.html"), "report.html");
    // The same link below a folder.
    std::fs::create_dir(dirs.root("reports")).expect("dir");
    symlink(dirs.outside("evil.db"), dirs.root("reports/h.db")).expect("link");
    is_link(dirs.paths().resolve("reports/h.db"), "reports/h.db");
    dirs.assert_outside_empty();
}

/// Paths checked while no part of them was a link, then swapped for links
/// to `file` and `folder` (as the links hold them: absolute, or relative to
/// the root): creating, making folders and reading through them is refused
/// naming the link, and nothing is written where they point.
fn swapped_in_links_are_refused(dirs: &Dirs, file: &Path, folder: &Path) {
    let paths = dirs.paths();
    let at = |target: &Path| dirs.root.path().join(target);
    let empty = |folder: &Path| {
        std::fs::read_dir(at(folder))
            .expect("read the folder")
            .next()
            .is_none()
    };
    // The file itself becomes a dangling link after the check.
    let report = paths.resolve("report.html").expect("nothing there yet");
    symlink(file, dirs.root("report.html")).expect("link");
    is_link(report.create(), "report.html");
    assert!(!at(file).exists(), "written through");
    // A folder on the way becomes a link to another folder.
    std::fs::create_dir(dirs.root("out")).expect("dir");
    let nested = paths.resolve("out/deeper/r.json").expect("a real folder");
    std::fs::remove_dir(dirs.root("out")).expect("rmdir");
    symlink(folder, dirs.root("out")).expect("link");
    is_link(nested.create(), "out");
    is_link(nested.create_parent(), "out");
    assert!(empty(folder), "written through");
    // Reading through a swapped link is refused the same way.
    std::fs::write(at(file), "name\nx\n").expect("write");
    std::fs::write(dirs.root("data.csv"), "name\nalice\n").expect("write");
    let data = paths.resolve("data.csv").expect("a real file");
    std::fs::remove_file(dirs.root("data.csv")).expect("rm");
    symlink(file, dirs.root("data.csv")).expect("link");
    is_link(data.open(), "data.csv");
    std::fs::remove_file(at(file)).expect("rm");
}

#[test]
fn a_link_swapped_in_after_the_check_is_refused_by_the_write() {
    let dirs = Dirs::new();
    swapped_in_links_are_refused(&dirs, &dirs.outside("evil.html"), dirs.outside.path());
    dirs.assert_outside_empty();
}

/// cap-std alone already refuses a link that leads out of the root; these
/// lead inside it, which only the no-follow walk refuses.
#[test]
fn a_link_within_the_root_swapped_in_after_the_check_is_refused_too() {
    let dirs = Dirs::new();
    std::fs::create_dir(dirs.root("real")).expect("dir");
    swapped_in_links_are_refused(&dirs, Path::new("elsewhere.html"), Path::new("real"));
}

#[test]
fn create_and_open_work_below_the_root() {
    let dirs = Dirs::new();
    let paths = dirs.paths();
    let target = paths.resolve("a/b/c.txt").expect("ok");
    target
        .create()
        .expect("created")
        .write_all(b"first, longer")
        .expect("write");
    target
        .create()
        .expect("emptied")
        .write_all(b"second")
        .expect("write");
    let mut text = String::new();
    target
        .open()
        .expect("opens")
        .read_to_string(&mut text)
        .expect("read");
    assert_eq!(text, "second");
    assert_eq!(
        std::fs::read_to_string(dirs.root("a/b/c.txt")).expect("read"),
        "second"
    );
    let missing = paths.resolve("nope/x.csv").expect("ok").open();
    assert!(
        matches!(&missing, Err(PathError::Io(_, e)) if e.kind() == std::io::ErrorKind::NotFound),
        "{missing:?}"
    );
}

#[test]
fn a_hard_link_is_not_written_through() {
    let dirs = Dirs::new();
    std::fs::write(dirs.outside("keep.txt"), "kept").expect("write");
    std::fs::hard_link(dirs.outside("keep.txt"), dirs.root("r.txt")).expect("hard link");
    let err = dirs
        .paths()
        .resolve("r.txt")
        .expect("not a symbolic link")
        .create()
        .expect_err("two names");
    assert!(matches!(err, PathError::NotAFile(_)), "{err:?}");
    assert_eq!(
        std::fs::read_to_string(dirs.outside("keep.txt")).expect("read"),
        "kept"
    );
}

#[test]
fn a_fifo_or_a_folder_is_not_a_file() {
    let dirs = Dirs::new();
    let status = std::process::Command::new("mkfifo")
        .arg(dirs.root("pipe.csv"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    // Refused at once: no writer is ever waited for.
    let err = dirs.paths().resolve("pipe.csv").expect("ok").open();
    assert!(matches!(err, Err(PathError::NotAFile(_))), "{err:?}");
    std::fs::create_dir(dirs.root("folder.csv")).expect("dir");
    let err = dirs.paths().resolve("folder.csv").expect("ok").open();
    assert!(matches!(err, Err(PathError::NotAFile(_))), "{err:?}");
    let err = dirs.paths().resolve(".").expect("the root").open();
    assert!(matches!(err, Err(PathError::NotAFile(_))), "{err:?}");
}

#[test]
fn sqlite_gets_the_real_absolute_path_and_no_follow() {
    let dirs = Dirs::new();
    let db = dirs.paths().resolve("h/runs.db").expect("ok");
    db.create_parent().expect("folder");
    let sqlite = db.sqlite().expect("path");
    assert_eq!(sqlite.links, Links::Refuse);
    assert!(sqlite.path.is_absolute());
    assert_eq!(
        sqlite.path,
        dirs.root
            .path()
            .canonicalize()
            .expect("real")
            .join("h/runs.db")
    );
    assert!(dirs.root("h").is_dir());
}

#[test]
fn unconfined_paths_follow_links() {
    let dirs = Dirs::new();
    symlink(dirs.outside.path(), dirs.root("out")).expect("link");
    let open = Paths::unconfined(dirs.root.path());
    let report = open.resolve("out/r.html").expect("links are fine");
    report.create().expect("written through the link");
    assert!(dirs.outside("r.html").is_file());
    assert!(open.resolve("/tmp/x").is_ok());
    assert_eq!(
        open.resolve("x.db")
            .expect("ok")
            .sqlite()
            .expect("path")
            .links,
        Links::Follow
    );
}
