//! netloomd: the per-host netloom daemon. With no arguments it runs on embedded defaults: a
//! data dir `./netloom-data` holding the SQLite database, loopback listeners, logs to stderr.

use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Parser, ValueEnum};
use netloom_daemon::cni::CniService;
use netloom_daemon::engine::{system_principal, Engine};
use netloom_daemon::service::Service;
use netloom_daemon::users;
use netloom_northbound::api::Request;
use netloom_northbound::auth::Authenticator;
use netloom_northbound::gnmi;
use netloom_northbound::netconf;
use netloom_northbound::restconf::{self, Restconf};
use netloom_northbound::tls::TlsIdentity;
use netloom_southbound::{
    DataplaneDriver, KernelDriver, KernelPods, MemoryDriver, MemoryPods, PodDriver,
};
use netloom_store::DatastoreId;
use netloom_yang::Schema;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Dataplane {
    /// Manage configuration only; keep the planned dataplane objects in memory.
    None,
    /// Program the kernel through rtnetlink (bridges, VXLAN, pod interfaces).
    Kernel,
}

#[derive(Debug, Parser)]
#[command(
    name = "netloomd",
    version,
    about = "netloom: per-host network appliance daemon"
)]
struct Args {
    /// Where the database, keys and generated secrets live.
    #[arg(long, default_value = "./netloom-data", env = "NETLOOM_DATA_DIR")]
    data_dir: PathBuf,
    /// RESTCONF listener address.
    #[arg(long, default_value = "127.0.0.1:8443")]
    restconf: SocketAddr,
    /// Serve RESTCONF as plain HTTP (loopback addresses only; for tests and local tools).
    #[arg(long)]
    restconf_plaintext: bool,
    /// The largest RESTCONF request body accepted, in bytes (413 past it).
    #[arg(long, default_value_t = restconf::DEFAULT_MAX_BODY)]
    restconf_max_body: usize,
    /// NETCONF over SSH listener address.
    #[arg(long, default_value = "127.0.0.1:8830")]
    netconf: SocketAddr,
    /// Seconds an SSH connection to the NETCONF port may take to log in.
    #[arg(long, default_value_t = 120)]
    netconf_login_timeout: u64,
    /// Seconds a NETCONF session may take to send its <hello>.
    #[arg(long, default_value_t = 60)]
    netconf_hello_timeout: u64,
    /// Seconds of no RPC after which a NETCONF session (without a subscription) is closed.
    #[arg(long, default_value_t = 3600)]
    netconf_idle_timeout: u64,
    /// gNMI listener address.
    #[arg(long, default_value = "127.0.0.1:9339")]
    gnmi: SocketAddr,
    /// Serve gNMI without TLS (loopback addresses only; for tests).
    #[arg(long)]
    gnmi_plaintext: bool,
    /// Seconds a gNMI stream may wait on a collector that reads nothing before it is closed
    /// with RESOURCE_EXHAUSTED.
    #[arg(long, default_value_t = 30)]
    gnmi_stall_timeout: u64,
    /// The CNI shim's socket.
    #[arg(long, default_value = "/run/netloom/cni.sock")]
    cni_socket: PathBuf,
    /// The CLI's socket (default: cli.sock in the data dir).
    #[arg(long)]
    cli_socket: Option<PathBuf>,
    /// TLS certificate (PEM) for RESTCONF and gNMI; default: self-signed, generated into the
    /// data dir on first start.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Which dataplane to drive.
    #[arg(long, value_enum, default_value = "none")]
    dataplane: Dataplane,
    /// Replace running with startup before serving (a reboot's semantics).
    #[arg(long)]
    from_startup: bool,
    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `netloom_daemon=debug`.
    #[arg(long, default_value = "info", env = "NETLOOM_LOG")]
    log: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&args.log).context("--log")?)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let lock_path = args.data_dir.join("netloomd.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        bail!("another netloomd is using {}", args.data_dir.display());
    }

    let schema = Arc::new(Schema::new().context("building the YANG schema")?);
    let driver: Box<dyn DataplaneDriver> = match args.dataplane {
        Dataplane::None => Box::new(MemoryDriver::new()),
        Dataplane::Kernel => Box::new(KernelDriver::new()),
    };
    let pods: Arc<dyn PodDriver> = match args.dataplane {
        Dataplane::None => Arc::new(MemoryPods::default()),
        Dataplane::Kernel => Arc::new(KernelPods),
    };
    let db = args.data_dir.join("netloom.db");
    let mut engine = Engine::open(schema.clone(), &db, driver)
        .with_context(|| format!("opening {}", db.display()))?;
    let password = std::env::var("NETLOOM_ADMIN_PASSWORD").ok();
    if let Some(file) = users::bootstrap_admin(&mut engine, &args.data_dir, password)? {
        tracing::info!(file = %file.display(), "created user admin; its password is in the file");
    }
    let (service, handle) = Service::start(engine)?;
    let handle = handle.with_interfaces(Arc::new(netloom_daemon::interfaces::KernelInterfaces));
    let _link_watch = netloom_daemon::interfaces::watch_links(handle.state_notifier());
    if args.from_startup {
        handle
            .call_blocking(
                &system_principal(),
                Request::Copy {
                    from: DatastoreId::Startup,
                    to: DatastoreId::Running,
                },
            )
            .map_err(|e| anyhow::anyhow!("loading startup into running: {e}"))?;
    }
    let cli_socket = args
        .cli_socket
        .clone()
        .unwrap_or_else(|| args.data_dir.join("cli.sock"));
    let tls = TlsIdentity::load_or_generate(
        &args.data_dir,
        args.tls_cert.as_deref(),
        args.tls_key.as_deref(),
    )?;
    let auth = Arc::new(Authenticator::new(schema.clone(), handle.clone()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("netloom-io")
        .enable_all()
        .build()?;
    // Every front end is a task of `frontends`; they all stop when it is dropped.
    #[allow(unused_mut)]
    let mut frontends = tokio::task::JoinSet::<anyhow::Result<()>>::new();
    let cni = CniService::start(service.jobs(), handle.clone(), &schema, pods)?;
    let cni_listener = netloom_northbound::cni::bind(&args.cni_socket)
        .with_context(|| format!("CNI socket {}", args.cni_socket.display()))?;
    {
        let _in_rt = rt.enter();
        let listener = tokio::net::UnixListener::from_std(cni_listener)?;
        let cni = Arc::new(cni);
        CniService::follow_commits(&cni, handle.subscribe())?;
        frontends.spawn_on(
            async move {
                netloom_northbound::cni::serve(listener, cni)
                    .await
                    .context("CNI socket")
            },
            rt.handle(),
        );
    }
    let gnmi_options = gnmi::GnmiOptions {
        plaintext: args.gnmi_plaintext,
        stall_timeout: std::time::Duration::from_secs(args.gnmi_stall_timeout.max(1)),
        ..gnmi::GnmiOptions::default()
    };
    let gnmi_listener = gnmi::bind(args.gnmi, &gnmi_options)?;
    let gnmi_server = gnmi::serve(
        gnmi_listener,
        &tls,
        gnmi_options,
        schema.clone(),
        handle.clone(),
        auth.clone(),
    )?;
    frontends.spawn_on(async move { Ok(gnmi_server.await?) }, rt.handle());
    let restconf = Restconf::bind(
        &restconf::Config {
            addr: args.restconf,
            plaintext: args.restconf_plaintext,
            max_body: args.restconf_max_body,
        },
        &tls,
        handle.clone(),
        schema.clone(),
        auth.clone(),
    )?;
    frontends.spawn_on(async move { Ok(restconf.serve().await?) }, rt.handle());
    let netconf = netconf::Netconf::bind(
        args.netconf,
        netconf::NetconfOptions {
            login_timeout: Duration::from_secs(args.netconf_login_timeout),
            hello_timeout: Duration::from_secs(args.netconf_hello_timeout),
            idle_timeout: Duration::from_secs(args.netconf_idle_timeout),
            ..netconf::NetconfOptions::new(&args.data_dir)
        },
        handle.clone(),
        schema.clone(),
        auth.clone(),
    )?;
    let cli_listener = netloom_northbound::cli::bind(&cli_socket)?;
    frontends.spawn_on(
        {
            let (handle, schema) = (handle.clone(), schema.clone());
            async move { Ok(netloom_northbound::cli::serve(cli_listener, handle, schema).await?) }
        },
        rt.handle(),
    );
    frontends.spawn_on(async move { Ok(netconf.serve().await?) }, rt.handle());
    tracing::info!(
        restconf = %args.restconf,
        netconf = %args.netconf,
        gnmi = %args.gnmi,
        cni_socket = %args.cni_socket.display(),
        cli_socket = %cli_socket.display(),
        "front-end addresses"
    );
    // Signal handlers go in before "ready", so a stop request right after it is never lost.
    let (mut term, mut interrupt) = rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        anyhow::Ok((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        ))
    })?;
    let running = handle.snapshots().running.clone();
    tracing::info!(
        data_dir = %args.data_dir.display(),
        commit = running.commit_id,
        units = running.units.len(),
        "netloomd ready"
    );

    let failed = rt.block_on(async {
        tokio::select! {
            _ = interrupt.recv() => None,
            _ = term.recv() => None,
            Some(done) = frontends.join_next() => Some(done),
        }
    });
    tracing::info!("stopping");
    frontends.abort_all();
    drop(frontends);
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    drop(auth);
    drop(handle);
    service.join();
    drop(lock);
    tracing::info!("stopped");
    match failed {
        Some(Ok(Err(e))) => Err(e.context("a front end failed")),
        Some(Err(e)) => Err(anyhow::anyhow!("a front end panicked: {e}")),
        _ => Ok(()),
    }
}
