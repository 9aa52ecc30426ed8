//! The phone page: the files of `public/`, embedded at build time (see `build.rs`).

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// Small files that change with each release: browsers revalidate instead of caching blindly.
const CACHE_CONTROL: &str = "no-cache";

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// The embedded file at `path`, if there is one.
pub fn file(path: &str) -> Option<&'static [u8]> {
    FILES.iter().find(|(p, _)| *p == path).map(|(_, bytes)| *bytes)
}

fn serve(path: &str) -> Response {
    match file(path) {
        Some(bytes) => (
            [(header::CONTENT_TYPE, content_type(path)), (header::CACHE_CONTROL, CACHE_CONTROL)],
            bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

/// `/` and `/login`: the page (a login token rides in the fragment, which the page reads).
pub async fn index() -> Response {
    serve("index.html")
}

/// Any other path: the embedded file of that name, or 404.
pub async fn static_file(uri: Uri) -> Response {
    serve(uri.path().trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_embedded() {
        let html = std::str::from_utf8(file("index.html").expect("public/index.html")).unwrap();
        assert!(html.contains("<html"), "{html}");
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("x"), "application/octet-stream");
    }
}
