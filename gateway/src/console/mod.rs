//! The staff console: server-rendered pages under `/console/`, one stylesheet and one small
//! script embedded in the binary (no Node.js step). Each page reads through the same scoping
//! as the API ([`Viewer::sees`]); the live board listens to `/api/v1/alarms/stream` with the
//! session cookie and re-reads its rows from the server on every change.
//!
//! Sign-in with a staff token gives an `HttpOnly; SameSite=Strict` session cookie; every form
//! carries the session's CSRF token, and the API wants it in `X-CSRF-Token` when called with the
//! cookie. With no `[[staff]]` configured the console is open, like the API.

mod audit;
mod board;
mod devices;
mod households;
mod html;
mod i18n;
mod login;
mod session;

use std::sync::LazyLock;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

pub use i18n::{Lang, T};
pub use session::{CSRF_HEADER, Session, Sessions};

use crate::api::{ApiState, Viewer};
use html::esc;

/// The console's routes (merged into the API router, sharing its state).
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(board::board))
        .route("/console/board/rows", get(board::rows))
        .route("/console/alarms/{id}", get(board::alarm))
        .route("/console/alarms/{id}/ack", post(board::ack))
        .route("/console/alarms/{id}/resolve", post(board::resolve))
        .route("/console/devices", get(devices::list))
        .route("/console/devices/{id}", get(devices::one))
        .route("/console/households", get(households::list))
        .route("/console/households/{id}/away", post(households::away))
        .route("/console/audit", get(audit::audit))
        .route("/console/integrator", get(audit::integrator))
        .route("/console/login", get(login::form).post(login::submit))
        .route("/console/logout", post(login::logout))
        .route("/console/lang/{code}", get(login::switch_lang))
        .route("/console/assets/{name}", get(asset))
}

/// Who is looking at a console page, in which language, with which session.
#[derive(Debug)]
pub struct Ctx {
    /// The same viewer the API would see.
    pub viewer: Viewer,
    /// The session (its CSRF token goes into forms).
    pub session: Session,
    /// The page language.
    pub lang: Lang,
    /// The path and query asked for (for the language switch's way back).
    pub path: String,
    /// `Set-Cookie` of a session started for this request (open hub).
    fresh: Option<String>,
}

impl FromRequestParts<ApiState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &ApiState) -> Result<Self, Response> {
        let now = crate::now_ms();
        let lang = Lang::of(&parts.headers);
        let path = parts
            .uri
            .path_and_query()
            .map_or("/console/", |p| p.as_str())
            .to_string();
        let session = s.sessions.from_headers(&parts.headers, now);
        if s.auth.is_open() {
            let (session, fresh) = match session {
                Some(session) => (session, None),
                None => {
                    let (token, session) = s.sessions.create(None, now).ok_or_else(no_random)?;
                    (session, Some(session::set_cookie(&token)))
                }
            };
            return Ok(Ctx {
                viewer: Viewer::Open,
                session,
                lang,
                path,
                fresh,
            });
        }
        let person = session.as_ref().and_then(|session| {
            let id = session.staff_id.as_deref()?;
            s.auth.staff(id).cloned()
        });
        match (session, person) {
            (Some(session), Some(person)) => Ok(Ctx {
                viewer: Viewer::Staff(person, s.auth.clone()),
                session,
                lang,
                path,
                fresh: None,
            }),
            _ => Err(Redirect::to(&format!(
                "/console/login?next={}",
                crate::notify::percent_encode(&path)
            ))
            .into_response()),
        }
    }
}

fn no_random() -> Response {
    tracing::error!("no system randomness for a console session");
    (StatusCode::SERVICE_UNAVAILABLE, "no system randomness").into_response()
}

/// The menu entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// The alarm board and alarm pages.
    Board,
    /// Devices.
    Devices,
    /// Households.
    Households,
    /// Audit trail.
    Audit,
    /// Rejected payloads and unplaced devices.
    Integrator,
    /// No menu entry lit.
    None,
}

impl Ctx {
    /// The display name of the viewer.
    fn name(&self) -> String {
        match &self.viewer {
            Viewer::Open => String::new(),
            Viewer::Staff(p, _) => p.name.clone(),
        }
    }

    /// A text in the page's language.
    pub fn t(&self, text: T) -> &'static str {
        self.lang.t(text)
    }

    /// The hidden form field with the CSRF token.
    pub fn csrf_field(&self) -> String {
        format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            esc(&self.session.csrf)
        )
    }

    /// The refusal of a form whose CSRF token is not this session's, if it is not.
    pub fn csrf_refusal(&self, token: &str) -> Option<Response> {
        if self.session.csrf_ok(token) {
            return None;
        }
        tracing::warn!(viewer = %self.viewer.id(), path = %self.path, "console form without a valid CSRF token");
        Some(self.error(
            StatusCode::FORBIDDEN,
            T::Forbidden,
            "The form is out of date (CSRF check). Reload the page and try again.",
        ))
    }

    /// A whole page: header, menu, `body`.
    pub fn page(&self, s: &ApiState, nav: Nav, title: &str, body: &str) -> Response {
        self.page_with(s, StatusCode::OK, nav, title, body)
    }

    /// A whole page with a status.
    pub fn page_with(
        &self,
        s: &ApiState,
        status: StatusCode,
        nav: Nav,
        title: &str,
        body: &str,
    ) -> Response {
        let mut menu = String::new();
        let mut entries = vec![
            (Nav::Board, "/console/", T::Alarms),
            (Nav::Devices, "/console/devices", T::Devices),
            (Nav::Households, "/console/households", T::Households),
            (Nav::Audit, "/console/audit", T::Audit),
        ];
        if self.viewer.sees("*", &Default::default()) {
            entries.push((Nav::Integrator, "/console/integrator", T::Integrator));
        }
        for (entry, href, text) in entries {
            let current = if entry == nav {
                " aria-current=\"page\""
            } else {
                ""
            };
            menu.push_str(&format!("<a href=\"{href}\"{current}>{}</a>", self.t(text)));
        }
        let logout = match self.viewer {
            Viewer::Open => String::new(),
            Viewer::Staff(..) => format!(
                "<form method=\"post\" action=\"/console/logout\">{}<button class=\"link\">{}</button></form>",
                self.csrf_field(),
                self.t(T::Logout)
            ),
        };
        let other = self.lang.other();
        let html = format!(
            "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"robots\" content=\"noindex\"><meta name=\"csrf-token\" content=\"{csrf}\">\
<title>{title} · {console}</title>\
<link rel=\"icon\" href=\"/console/assets/favicon.svg?v={tag}\" type=\"image/svg+xml\">\
<link rel=\"stylesheet\" href=\"/console/assets/console.css?v={tag}\">\
<script src=\"/console/assets/console.js?v={tag}\" defer></script></head>\
<body data-lang=\"{code}\"><a class=\"skip\" href=\"#main\">{skip}</a>\
<header class=\"top\"><div class=\"brand\"><span class=\"logo\" aria-hidden=\"true\">邻</span>\
<span><strong>Linli 邻里</strong><small>{site}</small></span></div>\
<nav aria-label=\"{console}\">{menu}</nav>\
<div class=\"who\"><span>{name}</span><a href=\"/console/lang/{other}?next={back}\" lang=\"{other_tag}\">{switch}</a>{logout}</div></header>\
<main id=\"main\">{body}</main>\
<footer>{tz} UTC{offset}</footer></body></html>",
            lang = self.lang.tag(),
            code = self.lang.code(),
            csrf = esc(&self.session.csrf),
            title = esc(title),
            console = self.t(T::Console),
            tag = *ASSET_TAG,
            skip = self.t(T::SkipToContent),
            site = esc(&s.site_name),
            name = esc(&self.name()),
            other = other.code(),
            other_tag = other.tag(),
            back = crate::notify::percent_encode(&self.path),
            switch = self.t(T::Language),
            tz = self.t(T::TimesIn),
            offset = html::offset(s.utc_offset),
        );
        self.respond(status, html)
    }

    /// An error page with a heading and a line of text.
    pub fn error(&self, status: StatusCode, heading: T, text: &str) -> Response {
        let body = format!(
            "<section class=\"card empty\"><h1>{}</h1><p>{}</p><p><a href=\"/console/\">{}</a></p></section>",
            self.t(heading),
            esc(text),
            self.t(T::Back)
        );
        let html = format!(
            "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title>\
<link rel=\"stylesheet\" href=\"/console/assets/console.css?v={}\"></head>\
<body><main id=\"main\">{body}</main></body></html>",
            self.lang.tag(),
            self.t(heading),
            *ASSET_TAG,
        );
        self.respond(status, html)
    }

    /// 404 in words: it does not exist, or it is outside the viewer's areas.
    pub fn not_found(&self) -> Response {
        self.error(StatusCode::NOT_FOUND, T::NotFound, self.t(T::NotFoundText))
    }

    /// An HTML response with the console's headers.
    pub fn respond(&self, status: StatusCode, html: String) -> Response {
        let mut response = (status, html_headers(), html).into_response();
        if let Some(cookie) = self.fresh.as_deref().and_then(|c| c.parse().ok()) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        response
    }
}

/// Content type, caching and a strict content security policy: scripts, styles and requests
/// only from the hub itself, no framing.
fn html_headers() -> [(header::HeaderName, HeaderValue); 5] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
        // Pages hold residents' data: not kept by the browser or a proxy.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                 connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
    ]
}

/// The embedded assets: name, content type, bytes.
pub const ASSETS: [(&str, &str, &str); 3] = [
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("assets/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/console.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("assets/favicon.svg"),
    ),
];

/// A short hash of the assets, in their URLs, so a new build is never served a stale copy.
static ASSET_TAG: LazyLock<String> = LazyLock::new(|| {
    // FNV-1a: tiny, and good enough to tell two builds apart.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (_, _, body) in ASSETS {
        for b in body.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{:08x}", h >> 32)
});

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
