//! `multipart/form-data` bodies (the `files` and `data` task keys), encoded
//! in memory as requests (urllib3's `encode_multipart_formdata`) does: plain
//! fields first, then the files, each part a `Content-Disposition` (and the
//! file's `Content-Type` when it has one), names and file names quoted with
//! `"`, CR and LF percent-encoded as the HTML standard says.
//!
//! ```
//! use bytes::Bytes;
//! use ld_tower::engine::multipart::{encode, FilePart};
//!
//! let fields = [("user".to_owned(), "ada".to_owned())];
//! let files = [FilePart::new("notes", Bytes::from_static(b"hello"))];
//! let (content_type, body) = encode(&fields, &files);
//! let boundary = content_type
//!     .to_str()
//!     .unwrap()
//!     .strip_prefix("multipart/form-data; boundary=")
//!     .unwrap()
//!     .to_owned();
//! assert_eq!(
//!     body,
//!     format!(
//!         "--{boundary}\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nada\r\n\
//!          --{boundary}\r\nContent-Disposition: form-data; name=\"notes\"; filename=\"notes\"\r\n\r\nhello\r\n\
//!          --{boundary}--\r\n"
//!     )
//! );
//! ```

use bytes::Bytes;
use http::header::HeaderValue;

/// One file of a `multipart/form-data` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilePart {
    /// The form field's name.
    pub field: String,
    /// The file name the part says.
    pub filename: String,
    /// The file's bytes.
    pub content: Bytes,
    /// The part's `Content-Type`; `None`: the part has none.
    pub content_type: Option<String>,
}

impl FilePart {
    /// `{field: "content"}`: a file named as its field, with no
    /// `Content-Type`.
    pub fn new(field: impl Into<String>, content: Bytes) -> Self {
        let field = field.into();
        FilePart {
            filename: field.clone(),
            field,
            content,
            content_type: None,
        }
    }
}

/// The body of `fields` (plain `name: value` parts) and `files`, and its
/// `Content-Type` (`multipart/form-data; boundary=...`). The boundary is
/// random, and drawn again if it occurs in any name, value or content.
pub fn encode(fields: &[(String, String)], files: &[FilePart]) -> (HeaderValue, Bytes) {
    encode_with(fields, files, || format!("{:032x}", fastrand::u128(..)))
}

fn encode_with(
    fields: &[(String, String)],
    files: &[FilePart],
    mut draw: impl FnMut() -> String,
) -> (HeaderValue, Bytes) {
    let boundary = loop {
        let boundary = draw();
        let occurs = |bytes: &[u8]| {
            bytes
                .windows(boundary.len())
                .any(|w| w == boundary.as_bytes())
        };
        let clash = fields
            .iter()
            .any(|(name, value)| occurs(name.as_bytes()) || occurs(value.as_bytes()))
            || files.iter().any(|file| {
                occurs(&file.content)
                    || occurs(file.field.as_bytes())
                    || occurs(file.filename.as_bytes())
            });
        if !clash {
            break boundary;
        }
    };
    let size: usize = fields
        .iter()
        .map(|(n, v)| n.len() + v.len() + 100)
        .sum::<usize>()
        + files
            .iter()
            .map(|f| f.field.len() + f.filename.len() + f.content.len() + 150)
            .sum::<usize>()
        + 2 * boundary.len()
        + 10;
    let mut body = Vec::with_capacity(size);
    for (name, value) in fields {
        part_head(&mut body, &boundary, name, None, None);
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    for file in files {
        part_head(
            &mut body,
            &boundary,
            &file.field,
            Some(&file.filename),
            file.content_type.as_deref(),
        );
        body.extend_from_slice(&file.content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--");
    body.extend_from_slice(boundary.as_bytes());
    body.extend_from_slice(b"--\r\n");
    let content_type = HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}"))
        // A boundary is hex digits: this arm is not reached.
        .unwrap_or(HeaderValue::from_static("multipart/form-data"));
    (content_type, Bytes::from(body))
}

/// A part's boundary line and headers, up to the blank line.
fn part_head(
    out: &mut Vec<u8>,
    boundary: &str,
    name: &str,
    filename: Option<&str>,
    content_type: Option<&str>,
) {
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"");
    quoted(out, name);
    out.push(b'"');
    if let Some(filename) = filename {
        out.extend_from_slice(b"; filename=\"");
        quoted(out, filename);
        out.push(b'"');
    }
    out.extend_from_slice(b"\r\n");
    if let Some(content_type) = content_type {
        out.extend_from_slice(b"Content-Type: ");
        // A line break would end the header and start another.
        out.extend(content_type.bytes().filter(|b| !matches!(b, b'\r' | b'\n')));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// `text` inside `"`: `"`, CR and LF percent-encoded (the HTML standard's
/// `multipart/form-data` encoding, as urllib3 does it).
fn quoted(out: &mut Vec<u8>, text: &str) {
    for byte in text.bytes() {
        match byte {
            b'"' => out.extend_from_slice(b"%22"),
            b'\r' => out.extend_from_slice(b"%0D"),
            b'\n' => out.extend_from_slice(b"%0A"),
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(fields: &[(String, String)], files: &[FilePart]) -> (HeaderValue, Bytes) {
        encode_with(fields, files, || "BOUNDARY".to_owned())
    }

    #[test]
    fn fields_first_then_files_with_their_names_and_types() {
        let fields = [("user".to_owned(), "ada".to_owned())];
        let files = [
            FilePart::new("plain", Bytes::from_static(b"one")),
            FilePart {
                field: "report".into(),
                filename: "r.csv".into(),
                content: Bytes::from_static(b"a,b\n1,2\n"),
                content_type: Some("text/csv".into()),
            },
        ];
        let (content_type, body) = fixed(&fields, &files);
        assert_eq!(content_type, "multipart/form-data; boundary=BOUNDARY");
        assert_eq!(
            body,
            "--BOUNDARY\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nada\r\n\
             --BOUNDARY\r\nContent-Disposition: form-data; name=\"plain\"; filename=\"plain\"\r\n\r\none\r\n\
             --BOUNDARY\r\nContent-Disposition: form-data; name=\"report\"; filename=\"r.csv\"\r\n\
             Content-Type: text/csv\r\n\r\na,b\n1,2\n\r\n\
             --BOUNDARY--\r\n"
        );
    }

    #[test]
    fn quotes_and_line_breaks_in_names_are_escaped() {
        let files = [FilePart {
            field: "a\"b".into(),
            filename: "x\r\ny.txt".into(),
            content: Bytes::new(),
            content_type: Some("text/plain\r\nX-Injected: 1".into()),
        }];
        let (_, body) = fixed(&[], &files);
        assert_eq!(
            body,
            "--BOUNDARY\r\nContent-Disposition: form-data; name=\"a%22b\"; filename=\"x%0D%0Ay.txt\"\r\n\
             Content-Type: text/plainX-Injected: 1\r\n\r\n\r\n--BOUNDARY--\r\n"
        );
    }

    #[test]
    fn a_boundary_found_in_the_content_is_drawn_again() {
        let files = [FilePart::new("f", Bytes::from_static(b"xx--first--xx"))];
        let mut draws = ["first", "second"].into_iter();
        let (content_type, body) =
            encode_with(&[], &files, || draws.next().unwrap_or("third").to_owned());
        assert_eq!(content_type, "multipart/form-data; boundary=second");
        assert!(body.starts_with(b"--second\r\n"));
        assert_eq!(draws.next(), None, "two draws");
    }

    #[test]
    fn random_boundaries_are_long_and_differ() {
        let (a, _) = encode(&[], &[]);
        let (b, body) = encode(&[], &[]);
        assert_ne!(a, b);
        let boundary = b
            .to_str()
            .unwrap()
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        assert_eq!(boundary.len(), 32);
        assert_eq!(body, format!("--{boundary}--\r\n"));
    }
}
