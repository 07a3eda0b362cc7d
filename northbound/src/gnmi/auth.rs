//! Who is calling: gNMI carries the user name and password in the request metadata
//! (`username`, `password`), checked on every RPC against netloom's users through the shared
//! authenticator (so the failed-login throttle counts gNMI failures too).

use std::net::{IpAddr, Ipv4Addr};

use tonic::{Request, Status};

use crate::auth::{AuthError, Authenticator, Identity};

pub async fn authenticate<T>(
    auth: &Authenticator,
    request: &Request<T>,
) -> Result<Identity, Status> {
    let peer = request
        .remote_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    let meta = request.metadata();
    let field = |name: &str| meta.get(name).and_then(|v| v.to_str().ok());
    let (Some(user), Some(password)) = (field("username"), field("password")) else {
        return Err(Status::unauthenticated(
            "username and password metadata are required",
        ));
    };
    match auth.password(peer, user, password).await {
        Ok(id) => Ok(id),
        Err(AuthError::Denied) => {
            tracing::warn!(%peer, user, "gNMI authentication failed");
            Err(Status::unauthenticated("authentication failed"))
        }
        Err(e @ AuthError::Throttled { .. }) => Err(Status::unauthenticated(e.to_string())),
    }
}
