//! Bearer tokens → staff; what each may see. With no `[[staff]]` configured the API is open
//! (a hub on loopback for a demo or a single operator), and the log says so at start.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use linli_protocols::Place;

use super::{ApiError, ApiState};
use crate::alarms::{Directory, Person};
use crate::config::{Config, Role};

/// Tokens and the directory.
#[derive(Debug, Default)]
pub struct Auth {
    tokens: Vec<(String, String)>,
    people: HashMap<String, Person>,
    directory: Directory,
}

impl Auth {
    /// From the configuration.
    pub fn new(config: &Config) -> Self {
        let directory = Directory::from_config(config);
        Auth {
            tokens: config
                .staff
                .iter()
                .map(|s| (s.token.clone(), s.id.clone()))
                .collect(),
            people: directory
                .staff
                .iter()
                .map(|p| (p.id.clone(), p.clone()))
                .collect(),
            directory,
        }
    }

    /// True when no staff are configured.
    pub fn is_open(&self) -> bool {
        self.tokens.is_empty()
    }

    /// A staff member by id.
    pub fn staff(&self, id: &str) -> Option<&Person> {
        self.people.get(id)
    }

    /// The staff member a token belongs to.
    pub fn person(&self, token: &str) -> Option<&Person> {
        // Compare every token in full, so timing says nothing about which one nearly matched.
        let mut found = None;
        for (t, id) in &self.tokens {
            if constant_time_eq(t.as_bytes(), token.as_bytes()) {
                found = Some(id);
            }
        }
        found.and_then(|id| self.people.get(id))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who is asking.
#[derive(Debug, Clone)]
pub enum Viewer {
    /// No staff configured: everything is visible.
    Open,
    /// An authenticated staff member.
    Staff(Person, Arc<Auth>),
}

impl Viewer {
    /// Staff id, or `anonymous`.
    pub fn id(&self) -> &str {
        match self {
            Viewer::Open => "anonymous",
            Viewer::Staff(p, _) => &p.id,
        }
    }

    /// True when the viewer may see things of `class` at `place`.
    pub fn sees(&self, class: &str, place: &Place) -> bool {
        match self {
            Viewer::Open => true,
            Viewer::Staff(p, auth) => auth.directory.sees(p, class, place),
        }
    }

    /// True for roles that may see residents' names (PIPL minimisation).
    pub fn sees_residents(&self) -> bool {
        match self {
            Viewer::Open => true,
            Viewer::Staff(p, _) => p.roles.iter().any(|r| r.sees_residents()),
        }
    }

    /// True for roles that see the whole audit trail.
    pub fn sees_all_audit(&self) -> bool {
        match self {
            Viewer::Open => true,
            Viewer::Staff(p, _) => p
                .roles
                .iter()
                .any(|r| matches!(r, Role::Admin | Role::Committee)),
        }
    }
}

impl FromRequestParts<ApiState> for Viewer {
    type Rejection = ApiError;

    /// A bearer token, else the console's session cookie. A state-changing call made with the
    /// cookie must also carry the session's `X-CSRF-Token`: a cookie is sent by the browser on
    /// its own, a header only by the console's own script.
    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        if state.auth.is_open() {
            return Ok(Viewer::Open);
        }
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
        let Some(header) = parts.headers.get(header::AUTHORIZATION) else {
            return state
                .sessions
                .from_headers(&parts.headers, crate::now_ms())
                .and_then(|session| {
                    let person = state.auth.staff(session.staff_id.as_deref()?)?.clone();
                    Some((session, person))
                })
                .map(|(session, person)| {
                    let csrf = parts
                        .headers
                        .get(crate::console::CSRF_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if parts.method.is_safe() || session.csrf_ok(csrf) {
                        Ok(Viewer::Staff(person, state.auth.clone()))
                    } else {
                        Err(ApiError::new(
                            StatusCode::FORBIDDEN,
                            "csrf",
                            "a call made with the console's cookie needs its X-CSRF-Token header",
                        ))
                    }
                })
                .unwrap_or_else(|| {
                    Err(unauthorized(
                        "send Authorization: Bearer <your staff token>",
                    ))
                });
        };
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
        let person = state
            .auth
            .person(token.trim())
            .ok_or_else(|| unauthorized("unknown token"))?;
        Ok(Viewer::Staff(person.clone(), state.auth.clone()))
    }
}
