//! Who is calling: HTTP Basic credentials checked by the shared [`Authenticator`] (failures
//! logged and throttled per peer there), and what the caller's role allows.

use std::net::SocketAddr;

use axum::http::{header, HeaderMap};
use base64::Engine as _;

use super::error::Error;
use crate::auth::{AuthError, Authenticator, Identity};

/// Authenticate the request's `Authorization: Basic` credentials.
pub async fn authenticate(
    auth: &Authenticator,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Identity, Error> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        // A throttled peer learns so even without trying again.
        auth.check_throttle(peer.ip()).map_err(throttled)?;
        return Err(Error::Unauthenticated);
    };
    let value = value.to_str().map_err(|_| Error::Unauthenticated)?;
    let (scheme, token) = value.split_once(' ').ok_or(Error::Unauthenticated)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(Error::Unauthenticated);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .map_err(|_| Error::Unauthenticated)?;
    let text = String::from_utf8(decoded).map_err(|_| Error::Unauthenticated)?;
    let (user, password) = text.split_once(':').ok_or(Error::Unauthenticated)?;
    auth.password(peer.ip(), user, password)
        .await
        .map_err(throttled)
}

fn throttled(e: AuthError) -> Error {
    match e {
        AuthError::Denied => Error::Unauthenticated,
        AuthError::Throttled { retry_after } => Error::Throttled(retry_after),
    }
}

/// Writes (edits, operations) need a role that may change things.
pub fn require_write(who: &Identity) -> Result<(), Error> {
    if who.may_write() {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "user '{}' may read but not change the configuration",
            who.user
        )))
    }
}
