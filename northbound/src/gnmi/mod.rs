//! The gNMI front end (gNMI 0.10 over gRPC, tonic): Capabilities, Get, Set and Subscribe.
//! This file owns the server: binding, TLS with the daemon's identity, the service type the
//! RPCs hang off, and the limits a stream lives under. Each RPC is its own file.

mod auth;
mod capabilities;
mod encode;
mod error;
mod get;
mod openconfig;
mod path;
mod set;
mod subscribe;
mod tree;
mod wire;

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use netloom_yang::Schema;
use tokio_stream::Stream;
use tonic::transport::{Identity as TlsPem, Server, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument as _;

use crate::accept::Acceptor;
use crate::api::{Handle, Principal};
use crate::auth::Authenticator;
use crate::tls::TlsIdentity;

pub use error::GnmiError;

/// The protobuf types and the tonic service, generated from `northbound/proto/*.proto`.
#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used
)]
pub mod proto {
    pub mod gnmi {
        tonic::include_proto!("gnmi");
    }
    pub mod gnmi_ext {
        tonic::include_proto!("gnmi_ext");
    }
    /// The service, whose Subscribe answers with [`super::wire::WireResponse`].
    pub mod server {
        include!(concat!(env!("OUT_DIR"), "/server/gnmi.rs"));
    }
}

use proto::gnmi::{
    CapabilityRequest, CapabilityResponse, GetRequest, GetResponse, SetRequest, SetResponse,
    SubscribeRequest,
};
use proto::server::g_nmi_server::{GNmi, GNmiServer};

/// How the gNMI server runs.
#[derive(Debug, Clone)]
pub struct GnmiOptions {
    /// Serve without TLS (loopback addresses only).
    pub plaintext: bool,
    /// How long a stream may have output waiting while the collector reads nothing before
    /// it is closed with RESOURCE_EXHAUSTED.
    pub stall_timeout: Duration,
    /// Coalesced paths a stream may hold back for a slow collector before it is closed.
    pub max_pending: usize,
}

impl Default for GnmiOptions {
    fn default() -> Self {
        GnmiOptions {
            plaintext: false,
            stall_timeout: Duration::from_secs(30),
            max_pending: 1_000_000,
        }
    }
}

/// Bind the listener now, so a bad address fails the daemon's start, not a task later.
pub fn bind(addr: SocketAddr, options: &GnmiOptions) -> Result<std::net::TcpListener, GnmiError> {
    if options.plaintext && !addr.ip().is_loopback() {
        return Err(GnmiError::PlaintextNotLoopback(addr));
    }
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| GnmiError::Bind { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| GnmiError::Bind { addr, source })?;
    Ok(listener)
}

/// The server as a future; the TLS configuration is checked before it is returned.
pub fn serve(
    listener: std::net::TcpListener,
    tls: &TlsIdentity,
    options: GnmiOptions,
    schema: Arc<Schema>,
    handle: Handle,
    auth: Arc<Authenticator>,
) -> Result<impl std::future::Future<Output = Result<(), GnmiError>> + Send + 'static, GnmiError> {
    let tls_config = (!options.plaintext)
        .then(|| ServerTlsConfig::new().identity(TlsPem::from_pem(&tls.cert_pem, &tls.key_pem)));
    let addr = listener.local_addr().ok();
    let service = Gnmi(Arc::new(Inner {
        schema,
        handle,
        auth,
        options,
        views: subscribe::Views::default(),
    }));
    Ok(async move {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(GnmiError::Serve)?;
        // tonic's own TCP stream retries a failed accept at once and logs it at trace
        // level only: out of descriptors, that is a silent busy loop. netloom's acceptor
        // pauses, warns once, and says when accepting works again, as on every listener.
        let incoming = Box::pin(futures_util::stream::unfold(
            (listener, Acceptor::new("gNMI")),
            |(listener, mut acceptor)| async move {
                let (stream, _) = acceptor.next(|| listener.accept()).await;
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(error = %e, "gNMI: TCP_NODELAY not set");
                }
                Some((Ok::<_, std::io::Error>(stream), (listener, acceptor)))
            },
        ));
        let mut builder = Server::builder();
        if let Some(config) = tls_config {
            builder = builder.tls_config(config).map_err(GnmiError::Tls)?;
        }
        tracing::info!(addr = ?addr, "gNMI server listening");
        builder
            .add_service(
                GNmiServer::new(service)
                    .max_decoding_message_size(MAX_MESSAGE)
                    .max_encoding_message_size(usize::MAX),
            )
            .serve_with_incoming(incoming)
            .await
            .map_err(GnmiError::Tls)
    })
}

/// The largest request accepted (a Set of a big subtree fits; a runaway client does not).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// What every RPC needs.
struct Inner {
    schema: Arc<Schema>,
    handle: Handle,
    auth: Arc<Authenticator>,
    options: GnmiOptions,
    /// Encoded config views shared by the streams sampling the same path.
    views: subscribe::Views,
}

#[derive(Clone)]
struct Gnmi(Arc<Inner>);

/// gNMI sessions are RPCs, each with a session id from the process-wide counter.
fn new_session(user: &str) -> Principal {
    Principal {
        session: crate::api::new_session_id(),
        user: user.to_owned(),
    }
}

type SubscribeStream = Pin<Box<dyn Stream<Item = Result<wire::WireResponse, Status>> + Send>>;

#[tonic::async_trait]
impl GNmi for Gnmi {
    async fn capabilities(
        &self,
        request: Request<CapabilityRequest>,
    ) -> Result<Response<CapabilityResponse>, Status> {
        let who = auth::authenticate(&self.0.auth, &request).await?;
        let span = tracing::info_span!("gnmi", rpc = "Capabilities", user = %who.user);
        let _enter = span.enter();
        Ok(Response::new(capabilities::capabilities()))
    }

    async fn get(&self, request: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        let who = auth::authenticate(&self.0.auth, &request).await?;
        let principal = new_session(&who.user);
        let span =
            tracing::info_span!("gnmi", rpc = "Get", user = %who.user, session = principal.session);
        get::get(&self.0, &principal, who.reader(), request.into_inner())
            .instrument(span)
            .await
            .map(Response::new)
    }

    async fn set(&self, request: Request<SetRequest>) -> Result<Response<SetResponse>, Status> {
        let who = auth::authenticate(&self.0.auth, &request).await?;
        let principal = new_session(&who.user);
        let span =
            tracing::info_span!("gnmi", rpc = "Set", user = %who.user, session = principal.session);
        set::set(&self.0, &who, &principal, request.into_inner())
            .instrument(span)
            .await
            .map(Response::new)
    }

    type SubscribeStream = SubscribeStream;

    async fn subscribe(
        &self,
        request: Request<Streaming<SubscribeRequest>>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let who = auth::authenticate(&self.0.auth, &request).await?;
        let principal = new_session(&who.user);
        let span = tracing::info_span!("gnmi", rpc = "Subscribe", user = %who.user, session = principal.session);
        subscribe::subscribe(
            self.0.clone(),
            principal,
            who.reader(),
            request.into_inner(),
            span,
        )
        .await
        .map(Response::new)
    }
}
