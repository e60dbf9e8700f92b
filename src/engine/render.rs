//! Rendering a task into its request: its templates resolved in one
//! scope, the URL made absolute against the test's host, the body encoded
//! as its kind says. The user loop sends what this makes; nothing here
//! knows about users, figures or the network.

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, COOKIE};
use http::Request;

use super::http::multipart;
use super::task::{absolute, Auth, Body, Task};
use crate::redact;
use crate::resolver::Scope;

/// The request of `task`, its templates rendered; or why it cannot be made.
pub(crate) fn build(
    task: &Task,
    base: &Option<String>,
    scope: &mut Scope<'_>,
) -> Result<Request<Bytes>, String> {
    let mut builder = Request::builder().method(task.method.clone());
    builder = match &task.static_uri {
        // Known before the test: no rendering, no parsing.
        Some(uri) => builder.uri(uri.clone()),
        None => {
            let mut url = String::with_capacity(64);
            scope.render(&task.url, &mut url);
            let mut url = absolute(url, base.as_deref())?;
            if !task.params.is_empty() {
                let mut query = form_urlencoded::Serializer::new(String::new());
                for (key, value) in &task.params {
                    query.append_pair(key, &scope.render_string(value));
                }
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&query.finish());
            }
            builder.uri(url)
        }
    };
    for (name, value) in &task.headers {
        builder = builder.header(
            name,
            header_value(name.as_str(), &scope.render_string(value))?,
        );
    }
    if !task.cookies.is_empty() {
        let cookies: Vec<String> = task
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={}", scope.render_string(v)))
            .collect();
        builder = builder.header(COOKIE, header_value("cookie", &cookies.join("; "))?);
    }
    match &task.auth {
        None => {}
        Some(Auth::Basic { username, password }) => {
            let pair = format!(
                "{}:{}",
                scope.render_string(username),
                scope.render_string(password)
            );
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            builder = builder.header(
                AUTHORIZATION,
                header_value("authorization", &format!("Basic {encoded}"))?,
            );
        }
        Some(Auth::Bearer(token)) => {
            builder = builder.header(
                AUTHORIZATION,
                header_value(
                    "authorization",
                    &format!("Bearer {}", scope.render_string(token)),
                )?,
            );
        }
    }
    // A Content-Type the task's headers give wins over the body's, as in
    // requests and Locust's FastHttpSession (not sent twice); looked for
    // only when there is a body.
    let body_type = |builder: http::request::Builder, value: HeaderValue| {
        if task.headers.iter().any(|(name, _)| name == CONTENT_TYPE) {
            builder
        } else {
            builder.header(CONTENT_TYPE, value)
        }
    };
    let body = match &task.body {
        Body::None => Bytes::new(),
        Body::Json(value) => {
            builder = body_type(builder, HeaderValue::from_static("application/json"));
            Bytes::from(scope.render_value(value).to_string())
        }
        Body::Form(pairs) => {
            builder = body_type(
                builder,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            let mut form = form_urlencoded::Serializer::new(String::new());
            for (key, value) in pairs {
                form.append_pair(key, &scope.render_string(value));
            }
            Bytes::from(form.finish())
        }
        Body::Raw(text) => Bytes::from(scope.render_string(text)),
        Body::Multipart { fields, files } => {
            let fields: Vec<(String, String)> = fields
                .iter()
                .map(|(key, value)| (key.clone(), scope.render_string(value)))
                .collect();
            let files: Vec<multipart::FilePart> = files
                .iter()
                .map(|file| multipart::FilePart {
                    field: file.field.clone(),
                    filename: scope.render_string(&file.filename),
                    content: Bytes::from(scope.render_string(&file.content)),
                    content_type: file.content_type.clone(),
                })
                .collect();
            let (content_type, body) = multipart::encode(&fields, &files);
            builder = body_type(builder, content_type);
            body
        }
    };
    builder.body(body).map_err(|e| {
        let url = redact::text(task.url.source());
        format!("cannot build the request for {url}: {e}")
    })
}

/// `text` as the value of header `name`; the error quotes it, unless the
/// header carries credentials ([`redact::quoted`]).
fn header_value(name: &str, text: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(text).map_err(|_| {
        let shown = redact::quoted(name, text);
        format!("header {name}: {shown} is not a valid header value")
    })
}

/// A copy of `request` for another attempt (its body is shared, not copied).
pub(crate) fn duplicate(request: &Request<Bytes>) -> Request<Bytes> {
    let mut copy = Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}
