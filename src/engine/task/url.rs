//! A task's URL made absolute against the test's host.

/// `url` made absolute against `base` when it is relative.
pub(crate) fn absolute(url: String, base: Option<&str>) -> Result<String, String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(url);
    }
    let Some(base) = base else {
        return Err(format!(
            "relative URL {url:?} and no host (set user_detail_dict.host or variables.host)"
        ));
    };
    let mut absolute = String::with_capacity(base.len() + url.len() + 1);
    absolute.push_str(base.trim_end_matches('/'));
    if !url.starts_with('/') {
        absolute.push('/');
    }
    absolute.push_str(&url);
    Ok(absolute)
}
