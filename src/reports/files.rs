//! Writing a report file: the name a client gave plus the format's
//! extension, resolved by the state's [`Paths`] rule (so a confined server
//! never writes outside its working directory), parent folders created.

use std::path::PathBuf;

use crate::paths::Paths;

/// Writes `contents` to `<name>.<extension>` and returns the path written.
/// The name may hold folders relative to the working directory; an empty
/// name, a name ending in `/`, or a path the rule refuses is an error and
/// nothing is written.
pub async fn write_report(
    paths: &Paths,
    name: &str,
    extension: &str,
    contents: &[u8],
) -> Result<PathBuf, String> {
    if name.is_empty() || name.ends_with('/') || name.ends_with('\\') {
        return Err(format!("{name:?} is not a file name"));
    }
    if name.contains('\0') {
        return Err("a file name cannot hold a NUL character".to_owned());
    }
    let path = paths
        .resolve(format!("{name}.{extension}"))
        .map_err(|e| e.to_string())?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    tokio::fs::write(&path, contents)
        .await
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
