//! NETCONF over SSH (RFC 6241, RFC 6242): the SSH server (russh) on `--netconf`, its host key
//! (generated into the data dir on first start), password and public-key logins through the
//! shared [`Authenticator`], and the `netconf` subsystem. Each NETCONF session runs as its own
//! task (russh calls its handlers inside the connection's loop, which must not block) and is
//! only a client of the request API.

mod commits;
mod data;
mod errors;
mod event_filter;
mod fast_edit;
mod fast_read;
mod filter;
mod framing;
mod message;
mod monitoring;
mod nmda;
mod notify;
mod ops;
mod render;
mod reply_cache;
mod session;
mod tcp;
mod warm;

pub use warm::keep_warm;
pub(crate) mod xml;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netloom_store::SessionId;
use netloom_yang::Schema;
use russh::keys::ssh_key::{private::Ed25519Keypair, LineEnding};
use russh::keys::PrivateKey;
use russh::server::{Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use tokio::sync::Notify;

use crate::api::{new_session_id, Handle};
use crate::auth::{Authenticator, Identity};

/// The host key's file name in the data dir.
pub const HOST_KEY_FILE: &str = "netconf-host-key";

/// Tunables of the NETCONF server.
#[derive(Debug, Clone)]
pub struct NetconfOptions {
    /// Where the host key lives.
    pub data_dir: PathBuf,
    /// An SSH connection must log in within this time of being accepted (OpenSSH's
    /// LoginGraceTime); one that has not is disconnected.
    pub login_timeout: Duration,
    /// A session must send its `<hello>` within this time.
    pub hello_timeout: Duration,
    /// A session with no RPC (and no notification subscription) for this long is closed.
    pub idle_timeout: Duration,
    /// The largest message accepted, in bytes.
    pub max_message: usize,
}

impl NetconfOptions {
    pub fn new(data_dir: &Path) -> Self {
        NetconfOptions {
            data_dir: data_dir.to_owned(),
            login_timeout: Duration::from_secs(120),
            hello_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(3600),
            max_message: 64 * 1024 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NetconfError {
    #[error("NETCONF host key {path}: {reason}")]
    HostKey { path: PathBuf, reason: String },
    #[error("NETCONF listener {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// A live session, as kill-session and ietf-netconf-monitoring see it.
#[derive(Debug)]
pub(crate) struct SessionEntry {
    pub user: String,
    pub peer: String,
    pub login_ms: i64,
    pub kill: Arc<Notify>,
    /// Who killed it (kill-session), set before `kill` is notified.
    pub killed_by: Arc<std::sync::atomic::AtomicU64>,
    pub counters: Arc<monitoring::Counters>,
}

/// What every session of this server shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub handle: Handle,
    pub schema: Arc<Schema>,
    /// A second context of the schema, for reading a large edit on a second core (none on
    /// one core).
    pub reader_helper: Option<Schema>,
    pub auth: Arc<Authenticator>,
    pub opts: NetconfOptions,
    pub sessions: Mutex<BTreeMap<SessionId, SessionEntry>>,
    /// Session start/end, for netconf-session-start/end notifications.
    pub session_events: tokio::sync::broadcast::Sender<notify::SessionEvent>,
    pub stats: monitoring::Statistics,
    /// Each stored list entry's XML, so a read of many is mostly copying.
    pub xml_cache: Arc<netloom_yang::XmlCache>,
    /// Whole-read reply bodies of unchanged datastores.
    pub replies: reply_cache::ReplyCache,
}

/// A bound, not yet serving, NETCONF server.
pub struct Netconf {
    listener: std::net::TcpListener,
    config: Arc<russh::server::Config>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Netconf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netconf")
            .field("listener", &self.listener)
            .finish()
    }
}

/// The SSH server settings of NETCONF sessions (public so the NETCONF bench's raw-transfer
/// floor runs with the same ones).
pub fn ssh_config(key: PrivateKey) -> russh::server::Config {
    russh::server::Config {
        keys: vec![key],
        methods: MethodSet::from(&[MethodKind::Password, MethodKind::PublicKey][..]),
        auth_rejection_time: Duration::from_millis(300),
        auth_rejection_time_initial: Some(Duration::ZERO),
        // Sessions time themselves out (hello and idle timeouts); SSH keepalives find
        // dead peers.
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(60)),
        keepalive_max: 3,
        nodelay: true,
        ..Default::default()
    }
}

/// Load the host key, or make one (Ed25519, mode 0600) on first start.
fn host_key(dir: &Path) -> Result<PrivateKey, NetconfError> {
    let path = dir.join(HOST_KEY_FILE);
    let fail = |reason: String| NetconfError::HostKey {
        path: path.clone(),
        reason,
    };
    if path.exists() {
        return russh::keys::load_secret_key(&path, None).map_err(|e| fail(e.to_string()));
    }
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    let text = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| fail(e.to_string()))?;
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| fail(e.to_string()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| fail(e.to_string()))?;
    tracing::info!(path = %path.display(), "generated the NETCONF SSH host key");
    Ok(key)
}

impl Netconf {
    /// Bind the listener and load the host key, so a bad address or key fails the start.
    pub fn bind(
        addr: SocketAddr,
        opts: NetconfOptions,
        handle: Handle,
        schema: Arc<Schema>,
        auth: Arc<Authenticator>,
    ) -> Result<Self, NetconfError> {
        let listen = |source| NetconfError::Listen {
            addr: addr.to_string(),
            source,
        };
        let listener = std::net::TcpListener::bind(addr).map_err(listen)?;
        listener.set_nonblocking(true).map_err(listen)?;
        let key = host_key(&opts.data_dir)?;
        let config = ssh_config(key);
        // ~5 ms and a few MB; without it a large edit is read on one thread.
        let reader_helper = match std::thread::available_parallelism().map_or(1, |n| n.get()) {
            1 => None,
            _ => Schema::new()
                .inspect_err(|e| tracing::warn!(error = %e, "no second schema context"))
                .ok(),
        };
        Ok(Netconf {
            listener,
            config: Arc::new(config),
            shared: Arc::new(Shared {
                handle,
                schema,
                reader_helper,
                auth,
                opts,
                sessions: Mutex::new(BTreeMap::new()),
                session_events: tokio::sync::broadcast::channel(256).0,
                xml_cache: Arc::default(),
                replies: Default::default(),
                stats: monitoring::Statistics::new(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_millis() as i64)
                        .unwrap_or(0),
                ),
            }),
        })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serve until the task is dropped.
    pub async fn serve(self) -> Result<(), NetconfError> {
        let addr = self.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let listen = |source| NetconfError::Listen {
            addr: addr.clone(),
            source,
        };
        let listener = tokio::net::TcpListener::from_std(self.listener).map_err(listen)?;
        tracing::info!(addr = %addr, "NETCONF over SSH listening");
        // Renders what each commit changed while the server runs; stopped with it.
        let warmer = tokio::spawn(keep_warm(
            self.shared.handle.watch_snapshots(),
            self.shared.schema.clone(),
            self.shared.xml_cache.clone(),
        ));
        let _stop_warmer = AbortOnDrop(warmer);
        let shared = self.shared;
        let login_timeout = shared.opts.login_timeout;
        tcp::accept(listener, self.config, login_timeout, |peer| {
            let (logged_in, login) = tokio::sync::oneshot::channel();
            let conn = Connection {
                shared: shared.clone(),
                peer,
                identity: None,
                logged_in: Some(logged_in),
                channels: HashMap::new(),
            };
            (conn, login)
        })
        .await;
        Ok(())
    }
}

/// Aborts its task when dropped: a task spawned for the server's lifetime.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One SSH connection; it may carry several NETCONF sessions (one per channel).
struct Connection {
    shared: Arc<Shared>,
    peer: SocketAddr,
    identity: Option<Identity>,
    /// Told when the connection logs in (ends its login timeout).
    logged_in: Option<tokio::sync::oneshot::Sender<()>>,
    channels: HashMap<ChannelId, Channel<Msg>>,
}

impl Connection {
    fn peer_ip(&self) -> IpAddr {
        self.peer.ip()
    }

    fn accepted(&mut self, result: Result<Identity, crate::auth::AuthError>) -> Auth {
        match result {
            Ok(id) => {
                tracing::info!(user = %id.user, peer = %self.peer, "NETCONF login");
                self.identity = Some(id);
                if let Some(t) = self.logged_in.take() {
                    let _ = t.send(());
                }
                Auth::Accept
            }
            Err(_) => Auth::reject(),
        }
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let result = self
            .shared
            .auth
            .password(self.peer_ip(), user, password)
            .await;
        Ok(self.accepted(result))
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        _offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        // Spare the client a signature when the user has no keys at all.
        Ok(if self.shared.auth.has_keys(user) {
            Auth::Accept
        } else {
            Auth::reject()
        })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let line = key.public_key.to_openssh().unwrap_or_default();
        let result = self.shared.auth.public_key(self.peer_ip(), user, &line);
        Ok(self.accepted(result))
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let (Some(identity), true) = (self.identity.clone(), name == "netconf") else {
            return session.channel_failure(channel);
        };
        let Some(ch) = self.channels.remove(&channel) else {
            return session.channel_failure(channel);
        };
        session.channel_success(channel)?;
        let id = new_session_id();
        let peer = self.peer.to_string();
        tokio::spawn(session::run(self.shared.clone(), id, identity, peer, ch));
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.remove(&channel);
        Ok(())
    }
}
