//! The NETCONF benchmark's Rust client (issue 4 allows "the same ncclient (or a Rust client)
//! script"): ncclient's lxml parsing and paramiko's crypto cost tens of ms per 10k-entry RPC
//! on both sides of the table, so `tests/bench/netconf.py` also drives both servers with this
//! client. It logs in over SSH (russh; password for netloom, a key file for netconfd's sshd),
//! opens the `netconf` subsystem, speaks base:1.1 chunked framing after the hello exchange,
//! and sends the same RPCs as the Python script: one edit-config creating N entries + commit,
//! get-config of the list (counting the `<network>` elements that come back), K one-entry
//! edit-config + commit. It prints one JSON line: {"create": s, "get": s, "got": n,
//! "edit": [s, ...]}.
//!
//! Run: `netloom-netconf-bench --port P --user U (--password PW | --key FILE) --ns NS
//! [--entries N] [--ops K]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use quick_xml::events::Event;
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
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// One NETCONF session over an SSH channel, base:1.1 framing after the hello.
struct Session {
    stream: russh::ChannelStream<client::Msg>,
    buf: Vec<u8>,
    next_id: u64,
    _ssh: Handle<AnyHostKey>,
}

impl Session {
    async fn open(a: &Args) -> Session {
        let config = Arc::new(client::Config::default());
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
            buf: Vec::new(),
            next_id: 1,
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

    async fn fill(&mut self) {
        let mut chunk = [0u8; 65536];
        let n = self.stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the server closed the session");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// The server's hello, in base:1.0 end-of-message framing.
    async fn read_eom(&mut self) -> Vec<u8> {
        const EOM: &[u8] = b"]]>]]>";
        loop {
            if let Some(i) = self.buf.windows(EOM.len()).position(|w| w == EOM) {
                let msg = self.buf[..i].to_vec();
                self.buf.drain(..i + EOM.len());
                return msg;
            }
            self.fill().await;
        }
    }

    /// One base:1.1 message: chunks `\n#LEN\n...` up to `\n##\n`.
    async fn read_chunked(&mut self) -> Vec<u8> {
        let mut msg = Vec::new();
        let mut pos = 0;
        loop {
            // A chunk header: "\n#" then digits or "#", then "\n".
            while self.buf.len() < pos + 4 {
                self.fill().await;
            }
            assert_eq!(&self.buf[pos..pos + 2], b"\n#", "bad chunk header");
            if self.buf[pos + 2] == b'#' {
                assert_eq!(self.buf[pos + 3], b'\n');
                self.buf.drain(..pos + 4);
                return msg;
            }
            let end = loop {
                if let Some(i) = self.buf[pos + 2..].iter().position(|&b| b == b'\n') {
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
            msg.extend_from_slice(&self.buf[end + 1..end + 1 + len]);
            pos = end + 1 + len;
        }
    }

    /// Send `<rpc>` with this body; returns the reply, which must not be an rpc-error.
    async fn rpc(&mut self, body: &str) -> Vec<u8> {
        let id = self.next_id;
        self.next_id += 1;
        let msg = format!(
            r#"<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="{id}">{body}</rpc>"#
        );
        let framed = format!("\n#{}\n{msg}\n##\n", msg.len());
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

fn edit(ns: &str, inner: &str) -> String {
    format!(
        r#"<edit-config><target><candidate/></target><config><networks xmlns="{ns}">{inner}</networks></config></edit-config>"#
    )
}

/// How many `<network>` elements a reply holds (namespace-aware: any prefix).
fn count_networks(xml: &[u8]) -> usize {
    let mut r = quick_xml::Reader::from_reader(xml);
    let mut n = 0;
    let mut buf = Vec::new();
    loop {
        match r.read_event_into(&mut buf).expect("reply XML") {
            Event::Start(e) if e.local_name().as_ref() == "network" => n += 1,
            Event::Eof => return n,
            _ => {}
        }
        buf.clear();
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = args();
    let mut s = Session::open(&a).await;
    let t = Instant::now();
    s.rpc(&edit(&a.ns, &entries(0, a.entries))).await;
    s.rpc("<commit/>").await;
    let create = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let reply = s
        .rpc(&format!(
            r#"<get-config><source><running/></source><filter type="subtree"><networks xmlns="{}"/></filter></get-config>"#,
            a.ns
        ))
        .await;
    let got = count_networks(&reply);
    let get = t.elapsed().as_secs_f64();

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
        r#"{{"create": {create:.6}, "get": {get:.6}, "got": {got}, "edit": [{}]}}"#,
        edits.join(", ")
    );
}
