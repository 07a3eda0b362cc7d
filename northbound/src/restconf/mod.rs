//! RESTCONF (RFC 8040), its NMDA datastores (RFC 8527) and YANG-Patch (RFC 8072) over HTTPS.
//! This module owns the listener: it binds, refuses plaintext off loopback, terminates TLS
//! with the daemon's identity, and serves each connection as one RESTCONF session (its own
//! session id, ended when the connection closes). Everything behind the listener is a client
//! of the request API: reads come from snapshots, every write is one `Request`.

mod access;
mod conditional;
mod data;
mod defaults;
mod encode;
mod error;
mod error_path;
mod events;
mod filter;
mod library;
mod operations;
mod ordered;
mod patch;
mod patch_doc;
mod query;
mod router;
mod tree;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hyper_util::rt::{TokioExecutor, TokioIo};
use netloom_yang::Schema;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument as _;

use crate::accept::Acceptor;
use crate::api::{new_session_id, Handle, Principal, Request};
use crate::auth::Authenticator;
use crate::tls::TlsIdentity;

pub use error::Error;

/// The default request body limit.
pub const DEFAULT_MAX_BODY: usize = 16 << 20;

/// How the listener is set up.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    /// Serve plain HTTP (loopback only: tests and local tools).
    pub plaintext: bool,
    /// Request bodies larger than this are refused with 413.
    pub max_body: usize,
}

/// What every request handler shares.
#[derive(Debug)]
pub(crate) struct App {
    pub handle: Handle,
    pub schema: Arc<Schema>,
    pub auth: Arc<Authenticator>,
    pub max_body: usize,
    /// `https` or `http`, for the absolute URLs RFC 8040 asks for (stream locations).
    pub scheme: &'static str,
}

/// One connection: its peer and the RESTCONF session it is.
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    pub peer: SocketAddr,
    pub session: netloom_store::SessionId,
    /// The last user authenticated on this connection, for ending its session.
    pub user: Arc<Mutex<Option<String>>>,
}

impl Connection {
    pub fn principal(&self, user: &str) -> Principal {
        if let Ok(mut u) = self.user.lock() {
            if u.as_deref() != Some(user) {
                *u = Some(user.to_owned());
            }
        }
        Principal {
            session: self.session,
            user: user.to_owned(),
        }
    }
}

/// A bound RESTCONF listener, ready to serve.
pub struct Restconf {
    listener: std::net::TcpListener,
    tls: Option<TlsAcceptor>,
    app: Arc<App>,
}

impl std::fmt::Debug for Restconf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restconf")
            .field("listener", &self.listener)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Restconf {
    /// Bind now (so a bad address fails the daemon's start) and prepare TLS.
    pub fn bind(
        config: &Config,
        tls: &TlsIdentity,
        handle: Handle,
        schema: Arc<Schema>,
        auth: Arc<Authenticator>,
    ) -> Result<Self, Error> {
        if config.plaintext && !config.addr.ip().is_loopback() {
            return Err(Error::PlaintextNotLoopback(config.addr));
        }
        let listener = std::net::TcpListener::bind(config.addr).map_err(|source| Error::Bind {
            addr: config.addr,
            source,
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| Error::Bind {
                addr: config.addr,
                source,
            })?;
        let tls = if config.plaintext {
            None
        } else {
            let server = tls
                .server_config(&[b"h2", b"http/1.1"])
                .map_err(|e| Error::Tls(e.to_string()))?;
            Some(TlsAcceptor::from(server))
        };
        let app = Arc::new(App {
            handle,
            schema,
            auth,
            max_body: config.max_body,
            scheme: if config.plaintext { "http" } else { "https" },
        });
        Ok(Restconf { listener, tls, app })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Accept and serve connections until the task is dropped (which drops every connection).
    pub async fn serve(self) -> Result<(), Error> {
        let addr = self.local_addr();
        let listener = TcpListener::from_std(self.listener).map_err(|source| Error::Bind {
            addr: addr.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
            source,
        })?;
        tracing::info!(addr = ?addr, tls = self.tls.is_some(), "RESTCONF listening");
        let router = router::router(self.app.clone());
        let mut connections = JoinSet::new();
        let mut acceptor = Acceptor::new("RESTCONF");
        loop {
            while connections.try_join_next().is_some() {}
            let (tcp, peer) = acceptor.next(|| listener.accept()).await;
            let _ = tcp.set_nodelay(true);
            let conn = Connection {
                peer,
                session: new_session_id(),
                user: Arc::default(),
            };
            let span = tracing::info_span!("restconf", session = conn.session, peer = %peer);
            let fut = connection(
                self.app.clone(),
                router.clone(),
                self.tls.clone(),
                tcp,
                conn,
            );
            connections.spawn(fut.instrument(span));
        }
    }
}

async fn connection(
    app: Arc<App>,
    router: axum::Router,
    tls: Option<TlsAcceptor>,
    tcp: TcpStream,
    conn: Connection,
) {
    let service = {
        let conn = conn.clone();
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(conn.clone());
            let router = router.clone();
            async move {
                use tower::ServiceExt as _;
                router.oneshot(req.map(axum::body::Body::new)).await
            }
        })
    };
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let served = match tls {
        Some(acceptor) => match acceptor.accept(tcp).await {
            Ok(stream) => {
                builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await
            }
            Err(e) => {
                tracing::debug!(error = %e, "TLS handshake failed");
                return;
            }
        },
        None => {
            builder
                .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                .await
        }
    };
    if let Err(e) = served {
        tracing::debug!(error = %e, "connection ended with an error");
    }
    let user = conn.user.lock().ok().and_then(|u| u.clone());
    if let Some(user) = user {
        // Releases what the session held (locks, an unconfirmed commit it made).
        let _ = app
            .handle
            .call(&conn.principal(&user), Request::EndSession)
            .await;
    }
}
