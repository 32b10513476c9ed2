//! Sign-in with a staff token, sign-out, and the language switch.

use std::time::Duration;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::html::esc;
use super::i18n::LANG_COOKIE;
use super::session::{self, COOKIE};
use super::{Ctx, Lang, T};
use crate::api::ApiState;

/// Where to go after signing in: a console path only, never another site.
fn next_or_board(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/console/") && !n.contains("//") && !n.contains('\\') => {
            n.to_string()
        }
        _ => "/console/".into(),
    }
}

/// `?next=`.
#[derive(Debug, Default, Deserialize)]
pub struct Next {
    next: Option<String>,
}

fn login_page(lang: Lang, s: &ApiState, next: &str, failed: bool) -> Response {
    let problem = if failed {
        format!(
            "<p class=\"problem\" role=\"alert\" id=\"login-failed\">{}</p>",
            lang.t(T::LoginFailed)
        )
    } else {
        String::new()
    };
    let html = format!(
        "<!doctype html><html lang=\"{tag}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\">\
<title>{title}</title><link rel=\"icon\" href=\"/console/assets/favicon.svg\" type=\"image/svg+xml\">\
<link rel=\"stylesheet\" href=\"/console/assets/console.css?v={asset}\"></head>\
<body class=\"login\"><main id=\"main\"><form class=\"card login-card\" method=\"post\" action=\"/console/login\">\
<div class=\"brand\"><span class=\"logo\" aria-hidden=\"true\">邻</span><span><strong>Linli 邻里</strong><small>{site}</small></span></div>\
<h1>{title}</h1><p class=\"muted\">{hint}</p>{problem}\
<input type=\"hidden\" name=\"next\" value=\"{next}\">\
<label for=\"token\">{token}</label><input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
<button type=\"submit\" id=\"login\">{login}</button>\
<p class=\"switch\"><a href=\"/console/lang/{other}?next={back}\">{switch}</a></p></form></main></body></html>",
        tag = lang.tag(),
        title = lang.t(T::LoginTitle),
        asset = *super::ASSET_TAG,
        site = esc(&s.site_name),
        hint = lang.t(T::LoginHint),
        next = esc(next),
        token = lang.t(T::Token),
        login = lang.t(T::Login),
        other = lang.other().code(),
        back = crate::notify::percent_encode(&format!(
            "/console/login?next={}",
            crate::notify::percent_encode(next)
        )),
        switch = lang.t(T::Language),
    );
    let status = if failed {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    (status, super::html_headers(), html).into_response()
}

/// `GET /console/login`.
pub async fn form(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> Response {
    let next = next_or_board(q.next.as_deref());
    if s.auth.is_open() {
        return Redirect::to(&next).into_response();
    }
    login_page(Lang::of(&headers), &s, &next, false)
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /console/login`: a valid token starts a session.
pub async fn submit(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = next_or_board(form.next.as_deref());
    if s.auth.is_open() {
        return Redirect::to(&next).into_response();
    }
    let Some(person) = s.auth.person(form.token.trim()).cloned() else {
        tracing::warn!("console sign-in with an unknown token");
        // A pause per failure makes guessing slow; tokens are long anyway.
        tokio::time::sleep(Duration::from_millis(300)).await;
        return login_page(Lang::of(&headers), &s, &next, true);
    };
    let Some((token, _)) = s.sessions.create(Some(person.id.clone()), crate::now_ms()) else {
        return super::no_random();
    };
    tracing::info!(staff_id = %person.id, "console sign-in");
    (
        [(header::SET_COOKIE, session::set_cookie(&token))],
        Redirect::to(&next),
    )
        .into_response()
}

/// The sign-out form.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /console/logout`.
pub async fn logout(
    ctx: Ctx,
    State(s): State<ApiState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = ctx.csrf_refusal(&form.csrf) {
        return refused;
    }
    if let Some(token) = session::cookie(&headers, COOKIE) {
        s.sessions.remove(&token);
    }
    tracing::info!(staff_id = %ctx.viewer.id(), "console sign-out");
    (
        [(header::SET_COOKIE, session::clear_cookie())],
        Redirect::to("/console/login"),
    )
        .into_response()
}

/// `GET /console/lang/{zh|en}?next=`: remembers the choice for a year.
pub async fn switch_lang(Path(code): Path<String>, Query(q): Query<Next>) -> Response {
    let next = next_or_board(q.next.as_deref());
    let Some(lang) = Lang::from_code(&code) else {
        return Redirect::to(&next).into_response();
    };
    (
        [(
            header::SET_COOKIE,
            format!(
                "{LANG_COOKIE}={}; SameSite=Lax; Path=/; Max-Age=31536000",
                lang.code()
            ),
        )],
        Redirect::to(&next),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_the_console() {
        assert_eq!(
            next_or_board(Some("/console/devices?kind=x")),
            "/console/devices?kind=x"
        );
        assert_eq!(next_or_board(Some("https://evil.example/")), "/console/");
        assert_eq!(next_or_board(Some("/console//evil.example")), "/console/");
        assert_eq!(next_or_board(None), "/console/");
    }
}
