//! The dashboard's paths: `/` (and `/index.html`) the page, `/snapshot`
//! the figures as JSON, `/events` a server-sent event stream of them;
//! anything else is `404`, any method but `GET` `405`.

use std::sync::Arc;

use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::feed::Feed;
use super::{page, MAX_EVENT_STREAMS};
use crate::observe::{text, Body, Handler};

/// The handler of a dashboard fed by `feed`.
pub(super) fn handler(feed: Arc<Feed>) -> Handler {
    Arc::new(move |request| {
        let feed = Arc::clone(&feed);
        Box::pin(async move { answer(&feed, &request).await })
    })
}

async fn answer(feed: &Feed, request: &Request<Incoming>) -> Response<Body> {
    if request.method() != Method::GET {
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "method not allowed: GET only\n",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    let mut response = match request.uri().path() {
        "/" | "/index.html" => page::response(),
        "/snapshot" => match feed.snapshot().await {
            Some(json) => text(StatusCode::OK, "application/json", json),
            None => stopping(),
        },
        "/events" => match feed.events().await {
            Some(body) => {
                let mut response = Response::new(body);
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/event-stream"),
                );
                response
            }
            None => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain; charset=utf-8",
                format!(
                    "too many event streams (at most {MAX_EVENT_STREAMS}): poll /snapshot instead\n"
                ),
            ),
        },
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found\n",
        ),
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn stopping() -> Response<Body> {
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        "text/plain; charset=utf-8",
        "the agent is stopping\n",
    )
}
