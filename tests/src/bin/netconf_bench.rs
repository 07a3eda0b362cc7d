//! The NETCONF benchmark's Rust client (issue 4 allows "the same ncclient (or a Rust client)
//! script"): ncclient's lxml parsing and paramiko's crypto cost tens of ms per 10k-entry RPC
//! on both sides of the table, so `tests/bench/netconf.py` also drives both servers with this
//! client. It logs in over SSH (russh; password for netloom, a key file for netconfd's sshd),
//! opens the `netconf` subsystem, speaks base:1.1 chunked framing after the hello exchange,
//! and sends the same RPCs as the Python script: one edit-config creating N entries + commit,
//! get-config of the list (counting the `<network>` elements that come back), validate of
//! a candidate adding N more, K one-entry edit-config + commit. It prints one JSON line: {"create": s,
//! "get": s, "validate": s, "got": n, "edit": [s, ...]}.
//!
//! `--creates R` (default 1) times R creates, removing the list (untimed) between them;
//! "create" is their median, "creates" all of them.
//!
//! A get-config follows each create: "get" is the median of these cold ones. `--gets G`
//! (default 11): G-1 more follow the last one's, and "get_warm" is their median; each is timed
//! until the reply is received and its entries counted. Both are also split: "get_first" /
//! "get_warm_first" until the reply's first bytes arrive, "get_recv" / "get_warm_recv" until
//! its last (the count follows). "get_bytes" is the reply's size.
//!
//! `--op-gets O` (default 3): then O `<get>`s of the list (the operational datastore:
//! configuration and state, the same subtree filter); "get_op" is their median.
//!
//! `--validates V` (default 3): after the gets, N more entries are staged in the candidate
//! (untimed), and V `<validate>`s of it timed before it is discarded; "validate" is their
//! median, "validates" all of them.
//!
//! `--report-alls A` (default 3): then A get-configs of the list with with-defaults
//! report-all (RFC 6243: every default made explicit); "report_all_first" is the first
//! (the server's first such read of these entries), "report_all" the median of the rest.
//!
//! `--raw-ssh BYTES [--reps R]` measures the transport's floor instead: an in-process russh
//! server on loopback, with the SSH settings netloomd uses, answers each 2-byte request on one
//! session channel with BYTES handed over as one `Bytes` (as netloomd sends a reply); the
//! client reads each to its end, R times (default 21), and prints the times and their median.
//! `--packet` and `--window` set the client's maximum packet size and window. `--idle MS`
//! waits MS milliseconds, untimed, before each transfer: on this project's VMs a transfer
//! after the machine idled costs more than one back to back (the transport's share of a
//! get-config right after a long commit, which both servers pay).
//!
//! Run: `netloom-netconf-bench --port P --user U (--password PW | --key FILE) --ns NS
//! [--entries N] [--ops K] [--creates R] [--gets G] [--validates V] [--cipher aes256-gcm@openssh.com|chacha20-poly1305@openssh.com]`, or
//! `netloom-netconf-bench --raw-ssh BYTES [--reps R] [--cipher ...] [--packet P] [--window W]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use russh::client::{self, Handle};
use russh::keys::{load_secret_key, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct AnyHostKey;

impl client::Handler for AnyHostKey {
    type Error = russh::Error;
    // A private server on loopback that the bench itself started.
    async fn check_server_key(&mut self, _: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

struct Args {
    port: u16,
    user: String,
    password: Option<String>,
    key: Option<String>,
    ns: String,
    entries: usize,
    ops: usize,
    cipher: Option<String>,
    packet: Option<u32>,
    window: Option<u32>,
    /// get-configs to time: the first (cold) and the median of the others (warm).
    gets: usize,
    /// Creates to time (the list removed between them): "create" is their median.
    creates: usize,
    /// `<validate>`s of the candidate to time: "validate" is their median.
    validates: usize,
    /// report-all get-configs to time: "report_all" is their median.
    report_alls: usize,
    /// `<get>`s of the list to time: "get_op" is their median.
    op_gets: usize,
    raw_ssh: Option<usize>,
    /// Transfers `--raw-ssh` times on its one channel.
    reps: usize,
    /// Milliseconds `--raw-ssh` waits, idle, before each transfer.
    idle_ms: u64,
}

fn args() -> Args {
    let mut a = Args {
        port: 0,
        user: "admin".into(),
        password: None,
        key: None,
        ns: "urn:netloom:yang:netloom-host".into(),
        entries: 10_000,
        ops: 100,
        cipher: None,
        packet: None,
        window: None,
        gets: 11,
        creates: 1,
        validates: 3,
        report_alls: 3,
        op_gets: 3,
        raw_ssh: None,
        reps: 21,
        idle_ms: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => a.port = v.parse().expect("--port"),
            "--user" => a.user = v,
            "--password" => a.password = Some(v),
            "--key" => a.key = Some(v),
            "--ns" => a.ns = v,
            "--entries" => a.entries = v.parse().expect("--entries"),
            "--ops" => a.ops = v.parse().expect("--ops"),
            "--cipher" => a.cipher = Some(v),
            "--packet" => a.packet = Some(v.parse().expect("--packet")),
            "--window" => a.window = Some(v.parse().expect("--window")),
            "--gets" => a.gets = v.parse().expect("--gets"),
            "--creates" => a.creates = v.parse().expect("--creates"),
            "--validates" => a.validates = v.parse().expect("--validates"),
            "--report-alls" => a.report_alls = v.parse().expect("--report-alls"),
            "--op-gets" => a.op_gets = v.parse().expect("--op-gets"),
            "--raw-ssh" => a.raw_ssh = Some(v.parse().expect("--raw-ssh")),
            "--reps" => a.reps = v.parse().expect("--reps"),
            "--idle" => a.idle_ms = v.parse().expect("--idle"),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// One NETCONF session over an SSH channel, base:1.1 framing after the hello.
struct Session {
    stream: russh::ChannelStream<client::Msg>,
    /// What was read from the channel; the front `consumed` bytes are a message already
    /// returned. The buffers are kept from reply to reply: a fresh 1 MB buffer per reply
    /// costs its page faults again each time.
    buf: Vec<u8>,
    consumed: usize,
    /// A message of several chunks, gathered.
    msg: Vec<u8>,
    next_id: u64,
    /// When the current reply's first bytes arrived.
    first: Option<Instant>,
    _ssh: Handle<AnyHostKey>,
}

/// Room the receive buffers get before the first RPC: a 10k-entry reply (0.7–1.3 MB by
/// server) and the 1 MiB `fill` keeps free fit without growing.
const RECEIVE_ROOM: usize = 4 << 20;

/// An empty buffer with `room` bytes of capacity whose pages are already faulted in. The
/// client's first large reply otherwise pays ~300 page faults and a few reallocations of its
/// own (~0.5 ms; seen with `perf record -e page-faults` on this client), which is the
/// client's first-use cost, not the server's; every later reply reuses the room. The same
/// client measures both servers, so both get it.
fn prefaulted(room: usize) -> Vec<u8> {
    let mut v = vec![0u8; room];
    // `vec!` of zeros may come from calloc'd, never-touched pages: write them.
    for page in v.chunks_mut(4096) {
        page[0] = 1;
    }
    std::hint::black_box(&mut v);
    v.clear();
    v
}

impl Session {
    async fn open(a: &Args) -> Session {
        let config = Arc::new(client_config(a));
        let mut ssh = client::connect(config, ("127.0.0.1", a.port), AnyHostKey)
            .await
            .expect("ssh connect");
        let auth = match (&a.password, &a.key) {
            (Some(pw), _) => ssh.authenticate_password(&a.user, pw).await,
            (None, Some(key)) => {
                let key = load_secret_key(key, None).expect("client key");
                let hash = ssh.best_supported_rsa_hash().await.ok().flatten().flatten();
                ssh.authenticate_publickey(&a.user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
                    .await
            }
            (None, None) => panic!("--password or --key"),
        };
        assert!(auth.expect("ssh auth").success(), "login refused");
        let channel = ssh.channel_open_session().await.expect("channel");
        channel
            .request_subsystem(true, "netconf")
            .await
            .expect("netconf subsystem");
        let mut s = Session {
            stream: channel.into_stream(),
            buf: prefaulted(RECEIVE_ROOM),
            consumed: 0,
            msg: prefaulted(RECEIVE_ROOM),
            next_id: 1,
            first: None,
            _ssh: ssh,
        };
        let hello = r#"<?xml version="1.0" encoding="UTF-8"?><hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>]]>]]>"#;
        s.stream.write_all(hello.as_bytes()).await.expect("hello");
        let theirs = s.read_eom().await;
        assert!(
            String::from_utf8_lossy(&theirs).contains("urn:ietf:params:netconf:base:1.1"),
            "the server does not speak base:1.1"
        );
        s
    }

    /// Read what the channel has straight into the end of `buf` (no staging copy, and no
    /// zeroing of room it may not fill: a read returns about one SSH packet).
    async fn fill(&mut self) {
        self.buf.reserve(1 << 20);
        let n = self.stream.read_buf(&mut self.buf).await.expect("read");
        assert!(n > 0, "the server closed the session");
        self.first.get_or_insert_with(Instant::now);
    }

    /// The server's hello, in base:1.0 end-of-message framing.
    async fn read_eom(&mut self) -> Vec<u8> {
        const EOM: &[u8] = b"]]>]]>";
        loop {
            if let Some(i) = self.buf.windows(EOM.len()).position(|w| w == EOM) {
                let msg = self.buf[..i].to_vec();
                self.consumed = i + EOM.len();
                return msg;
            }
            self.fill().await;
        }
    }

    /// One base:1.1 message: chunks `\n#LEN\n...` up to `\n##\n`. A message of one chunk
    /// is returned where it lies in the read buffer; one of several (netloomd sends a large
    /// reply as head, body and tail) is gathered into `msg`.
    async fn read_chunked(&mut self) -> &[u8] {
        self.buf.drain(..self.consumed);
        self.consumed = 0;
        let mut chunks: Vec<std::ops::Range<usize>> = Vec::new();
        let mut pos = 0;
        loop {
            // A chunk header: "\n#" then digits or "#", then "\n".
            while self.buf.len() < pos + 4 {
                self.fill().await;
            }
            assert_eq!(&self.buf[pos..pos + 2], b"\n#", "bad chunk header");
            if self.buf[pos + 2] == b'#' {
                assert_eq!(self.buf[pos + 3], b'\n');
                self.consumed = pos + 4;
                if let [one] = &chunks[..] {
                    return &self.buf[one.clone()];
                }
                self.msg.clear();
                for c in chunks {
                    self.msg.extend_from_slice(&self.buf[c]);
                }
                return &self.msg;
            }
            let end = loop {
                if let Some(i) = memchr::memchr(b'\n', &self.buf[pos + 2..]) {
                    break pos + 2 + i;
                }
                self.fill().await;
            };
            let len: usize = std::str::from_utf8(&self.buf[pos + 2..end])
                .unwrap()
                .parse()
                .expect("chunk size");
            while self.buf.len() < end + 1 + len {
                self.fill().await;
            }
            chunks.push(end + 1..end + 1 + len);
            pos = end + 1 + len;
        }
    }

    /// Send `<rpc>` with this body; returns the reply, which must not be an rpc-error.
    async fn rpc(&mut self, body: &str) -> &[u8] {
        let id = self.next_id;
        self.next_id += 1;
        let msg = format!(
            r#"<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="{id}">{body}</rpc>"#
        );
        let framed = format!("\n#{}\n{msg}\n##\n", msg.len());
        self.first = None;
        self.stream
            .write_all(framed.as_bytes())
            .await
            .expect("send");
        let reply = self.read_chunked().await;
        let text = String::from_utf8_lossy(&reply[..reply.len().min(4096)]);
        assert!(!text.contains("rpc-error>"), "rpc-error: {text}");
        reply
    }

    async fn close(mut self) {
        self.rpc("<close-session/>").await;
    }
}

fn entries(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("<network><name>n{i}</name><type>bridge</type><mtu>1500</mtu></network>"))
        .collect()
}

/// An edit-config removing the whole list from the candidate.
fn remove_all(ns: &str) -> String {
    format!(
        r#"<edit-config><target><candidate/></target><config><networks xmlns="{ns}" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="delete"/></config></edit-config>"#
    )
}

fn edit(ns: &str, inner: &str) -> String {
    format!(
        r#"<edit-config><target><candidate/></target><config><networks xmlns="{ns}">{inner}</networks></config></edit-config>"#
    )
}

/// How many `<network>` start tags (any prefix) a reply holds. A scan, not a full XML parse:
/// quick-xml took 3 ms over the 10k-entry reply, more than the server spent on it, and a
/// byte-by-byte walk over every tag 0.4 ms. memmem finds `<network` (start tags only) and
/// `:network` (prefixed names, start or end), the bytes around each say whether it is a
/// start tag of this element. The same client measures both servers.
fn count_networks(xml: &[u8]) -> usize {
    const NAME: &[u8] = b"network";
    // The name must end there ("networks" is another element).
    let ends = |i: usize| {
        matches!(
            xml.get(i + NAME.len()),
            Some(b'>' | b'/' | b' ' | b'\t' | b'\r' | b'\n')
        )
    };
    let plain = memchr::memmem::find_iter(xml, b"<network")
        .filter(|&i| ends(i + 1))
        .count();
    let prefixed = memchr::memmem::find_iter(xml, b":network")
        .filter(|&i| {
            // '<' then a prefix (an end tag has '/' before its prefix).
            let head = &xml[..i];
            let start = head
                .iter()
                .rposition(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')));
            ends(i + 1) && start.is_some_and(|j| head[j] == b'<' && j + 1 < head.len())
        })
        .count();
    plain + prefixed
}

/// The largest channel packet russh's transport accepts (its MAXIMUM_PACKET_LEN baseline).
const MAX_PACKET: u32 = 256 * 1024;

/// The client's SSH settings: russh's defaults, the cipher the caller asks for first.
fn client_config(a: &Args) -> client::Config {
    let mut config = client::Config {
        nodelay: true,
        ..Default::default()
    };
    if let Some(p) = a.packet {
        // The server sends channel data in packets up to the size the client announces, but
        // russh's transport drops the connection on any packet above 256 KiB (plus framing
        // overhead): announcing more, as `--packet 1048576` did, made the server's first
        // large packet end the session mid-reply ("short transfer").
        assert!(
            p <= MAX_PACKET,
            "--packet {p}: russh receives packets of at most {MAX_PACKET} bytes"
        );
        config.maximum_packet_size = p;
    }
    if let Some(w) = a.window {
        config.window_size = w;
    }
    if let Some(name) = &a.cipher {
        let first = russh::cipher::Name::try_from(name.as_str()).expect("--cipher");
        let mut order = vec![first];
        order.extend(config.preferred.cipher.iter().filter(|c| **c != first));
        config.preferred.cipher = order.into();
    }
    config
}

/// The floor of a reply of `bytes`: on one session channel, `reps` times a 2-byte request
/// answered by one `bytes`-byte channel write (as netloomd sends a reply), read to its end.
/// Prints every transfer's time and their median.
async fn raw_ssh(a: &Args, bytes: usize) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Its own thread and runtime, as netloomd is its own process.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(raw::serve(listener, bytes));
    });
    let config = Arc::new(client_config(a));
    let mut ssh = client::connect(config, ("127.0.0.1", port), AnyHostKey)
        .await
        .unwrap();
    assert!(ssh.authenticate_password("u", "p").await.unwrap().success());
    let channel = ssh.channel_open_session().await.unwrap();
    let mut stream = channel.into_stream();
    let mut times = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    for _ in 0..a.reps.max(1) {
        if a.idle_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(a.idle_ms)).await;
        }
        let t = Instant::now();
        stream.write_all(b"go").await.unwrap();
        let mut got = 0;
        while got < bytes {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "short transfer");
            got += n;
        }
        assert_eq!(got, bytes, "one transfer at a time");
        times.push(t.elapsed().as_secs_f64());
    }
    let t: Vec<String> = times.iter().map(|x| format!("{x:.6}")).collect();
    println!(
        r#"{{"raw_ssh_bytes": {bytes}, "median": {:.6}, "seconds": [{}]}}"#,
        median(times),
        t.join(", ")
    );
}

/// The raw-transfer server: netloomd's russh settings, any password, and on a session
/// channel, for every request read, `bytes` bytes handed over as one `Bytes`, as netloomd's
/// sessions hand over a framed reply.
mod raw {
    use super::*;
    use russh::server::{Auth, Msg, Session};
    use russh::Channel;

    struct Conn {
        bytes: usize,
    }

    impl russh::server::Handler for Conn {
        type Error = russh::Error;
        async fn auth_password(&mut self, _: &str, _: &str) -> Result<Auth, Self::Error> {
            Ok(Auth::Accept)
        }
        async fn channel_open_session(
            &mut self,
            channel: Channel<Msg>,
            reply: russh::server::ChannelOpenHandle,
            _: &mut Session,
        ) -> Result<(), Self::Error> {
            reply.accept().await;
            let (mut read, write) = channel.split();
            let body = bytes::Bytes::from(vec![b'x'; self.bytes]);
            // Its own task, as netloomd runs each NETCONF session.
            tokio::spawn(async move {
                while let Some(msg) = read.wait().await {
                    if let russh::ChannelMsg::Data { .. } = msg {
                        if write.data_bytes(body.clone()).await.is_err() {
                            return;
                        }
                    }
                }
            });
            Ok(())
        }
    }

    pub async fn serve(listener: std::net::TcpListener, bytes: usize) {
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let key = russh::keys::PrivateKey::from(
            russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&[7; 32]),
        );
        let config = Arc::new(netloom_northbound::netconf::ssh_config(key));
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            // What netloomd's accept loop does for `nodelay`; `run_stream` leaves the socket
            // as it is, and with Nagle on a transfer's last packet can wait 40 ms for the
            // client's delayed ACK.
            tcp.set_nodelay(true).unwrap();
            let conn = Conn { bytes };
            let config = config.clone();
            tokio::spawn(async move {
                if let Ok(s) = russh::server::run_stream(config, tcp, conn).await {
                    let _ = s.await;
                }
            });
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = args();
    if let Some(bytes) = a.raw_ssh {
        raw_ssh(&a, bytes).await;
        return;
    }
    let mut s = Session::open(&a).await;
    // A single create is at the mercy of whatever else the machine does in that quarter
    // second; with `--creates R` the list is removed (untimed) and created again, and the
    // median counts. The get-config right after each create is a cold one (what the create
    // left the server to do shows here): their median is the cold figure.
    let mut creates = Vec::with_capacity(a.creates.max(1));
    let mut colds = Vec::with_capacity(a.creates.max(1));
    let mut got = None;
    let mut get_bytes = 0;
    let mut count = |n: usize| {
        assert_eq!(
            *got.get_or_insert(n),
            n,
            "every get-config returns the same entries"
        );
    };
    for r in 0..a.creates.max(1) {
        if r > 0 {
            s.rpc(&remove_all(&a.ns)).await;
            s.rpc("<commit/>").await;
        }
        let t = Instant::now();
        s.rpc(&edit(&a.ns, &entries(0, a.entries))).await;
        s.rpc("<commit/>").await;
        creates.push(t.elapsed().as_secs_f64());
        let (times, n, bytes) = get_config(&mut s, &a.ns).await;
        colds.push(times);
        count(n);
        get_bytes = bytes;
    }
    let all_creates: Vec<String> = creates.iter().map(|x| format!("{x:.6}")).collect();
    let create = median(creates);
    // then the warm ones, after the last create's cold one
    let mut warms = Vec::with_capacity(a.gets.saturating_sub(1));
    for _ in 1..a.gets.max(1) {
        let (times, n, _) = get_config(&mut s, &a.ns).await;
        warms.push(times);
        count(n);
    }
    let part = |gets: &[(f64, f64, f64)], part: fn(&(f64, f64, f64)) -> f64| {
        median(gets.iter().map(part).collect())
    };
    let (first, recv, get) = (
        part(&colds, |g| g.0),
        part(&colds, |g| g.1),
        part(&colds, |g| g.2),
    );
    let get_warm = part(&warms, |g| g.2);
    let mut op_gets = Vec::with_capacity(a.op_gets);
    for _ in 0..a.op_gets {
        let t = Instant::now();
        let reply = s
            .rpc(&format!(
                r#"<get><filter type="subtree"><networks xmlns="{}"/></filter></get>"#,
                a.ns
            ))
            .await;
        let n = count_networks(reply);
        op_gets.push(t.elapsed().as_secs_f64());
        count(n);
    }
    let get_op = median(op_gets);
    let (warm_first, warm_recv) = (part(&warms, |g| g.0), part(&warms, |g| g.1));

    let mut validates = Vec::with_capacity(a.validates);
    if a.validates > 0 {
        s.rpc(&edit(&a.ns, &entries(a.entries, a.entries))).await;
    }
    for _ in 0..a.validates {
        let t = Instant::now();
        s.rpc("<validate><source><candidate/></source></validate>")
            .await;
        validates.push(t.elapsed().as_secs_f64());
    }
    if a.validates > 0 {
        s.rpc("<discard-changes/>").await;
    }
    let mut report_alls = Vec::with_capacity(a.report_alls);
    for _ in 0..a.report_alls {
        let t = Instant::now();
        let reply = s
            .rpc(&format!(
                r#"<get-config><source><running/></source><filter type="subtree"><networks xmlns="{}"/></filter><with-defaults xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults">report-all</with-defaults></get-config>"#,
                a.ns
            ))
            .await;
        let n = count_networks(reply);
        report_alls.push(t.elapsed().as_secs_f64());
        count(n);
    }
    let got = got.unwrap_or(0);
    let report_all_first = report_alls.first().copied().unwrap_or(f64::NAN);
    let report_all = if report_alls.len() > 1 {
        median(report_alls[1..].to_vec())
    } else {
        report_all_first
    };
    let all_validates: Vec<String> = validates.iter().map(|x| format!("{x:.6}")).collect();
    let validate = median(validates);

    let mut lat = Vec::with_capacity(a.ops);
    for i in 0..a.ops {
        let t = Instant::now();
        s.rpc(&edit(&a.ns, &entries(a.entries + i, 1))).await;
        s.rpc("<commit/>").await;
        lat.push(t.elapsed().as_secs_f64());
    }
    s.close().await;
    let edits: Vec<String> = lat.iter().map(|x| format!("{x:.6}")).collect();
    println!(
        r#"{{"create": {create:.6}, "creates": [{}], "validate": {validate:.6}, "validates": [{}], "report_all": {report_all:.6}, "report_all_first": {report_all_first:.6}, "get": {get:.6}, "get_warm": {get_warm:.6}, "get_op": {get_op:.6}, "get_first": {first:.6}, "get_recv": {recv:.6}, "get_warm_first": {warm_first:.6}, "get_warm_recv": {warm_recv:.6}, "get_bytes": {get_bytes}, "got": {got}, "edit": [{}]}}"#,
        all_creates.join(", "),
        all_validates.join(", "),
        edits.join(", ")
    );
}

/// The median of `times` (NaN for none).
fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times.get(times.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One get-config of the list: its times (until the reply's first bytes, until its last, and
/// with its `<network>`s counted), the count, and the reply's size (its `<rpc-reply>`).
async fn get_config(s: &mut Session, ns: &str) -> ((f64, f64, f64), usize, usize) {
    let t = Instant::now();
    let reply = s
        .rpc(&format!(
            r#"<get-config><source><running/></source><filter type="subtree"><networks xmlns="{ns}"/></filter></get-config>"#,
        ))
        .await;
    let received = t.elapsed().as_secs_f64();
    let n = count_networks(reply);
    let total = t.elapsed().as_secs_f64();
    let bytes = reply.len();
    let first = s.first.map(|f| (f - t).as_secs_f64()).unwrap_or(received);
    ((first, received, total), n, bytes)
}

#[cfg(test)]
mod tests {
    use super::count_networks;

    #[test]
    fn counts_network_start_tags_of_any_prefix() {
        let xml = br#"<data><networks xmlns="u"><network><name>network</name></network><nl:network a="1"><nl:name>b</nl:name></nl:network><network/><x:networks/></networks><network-type>x</network-type></data>"#;
        assert_eq!(count_networks(xml), 3);
        assert_eq!(count_networks(b"network <network"), 0);
    }
}
