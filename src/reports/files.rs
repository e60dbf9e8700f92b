//! Writing a report file: the name a client gave plus the format's
//! extension, resolved by the state's [`Paths`] rule and created through it
//! (so a confined server never writes outside its working directory, nor
//! through a symbolic link), parent folders created.

use std::io::Write;
use std::path::PathBuf;

use crate::paths::Paths;

/// Writes `contents` to `<name>.<extension>` and returns the path written.
/// The name may hold folders relative to the working directory; an empty
/// name, a name ending in `/`, or a path the rule refuses is an error and
/// nothing is written. The file is created and written on tokio's blocking
/// pool.
pub async fn write_report(
    paths: &Paths,
    name: &str,
    extension: &str,
    contents: Vec<u8>,
) -> Result<PathBuf, String> {
    if name.is_empty() || name.ends_with('/') || name.ends_with('\\') {
        return Err(format!("{name:?} is not a file name"));
    }
    if name.contains('\0') {
        return Err("a file name cannot hold a NUL character".to_owned());
    }
    let target = paths
        .resolve(format!("{name}.{extension}"))
        .map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || {
        let mut file = target.create().map_err(|e| e.to_string())?;
        file.write_all(&contents)
            .and_then(|()| file.flush())
            .map_err(|e| format!("cannot write {}: {e}", target.path().display()))?;
        Ok(target.path().to_owned())
    })
    .await
    .map_err(|e| format!("the report's write failed: {e}"))?
}
