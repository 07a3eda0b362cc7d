//! The CLI: its socket protocol spoken directly, and `netloom` driven through a
//! pseudo-terminal against the real daemon.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

use netloom_tests::Daemon;
use serde_json::{json, Value};

/// One CLI socket connection.
struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Conn {
    fn open(d: &Daemon) -> Conn {
        let s = UnixStream::connect(&d.cli_socket).unwrap();
        Conn {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }

    fn ask(&mut self, request: Value) -> Value {
        writeln!(self.writer, "{request}").unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    }

    fn ok(&mut self, request: Value) -> Value {
        let r = self.ask(request.clone());
        assert_eq!(r["ok"], true, "{request} -> {r}");
        r
    }
}

fn set(path: &str, value: Value) -> Value {
    json!({"op": "edit", "edits": [{"op": "merge", "path": path, "value": value}]})
}

#[test]
fn socket_protocol_private_candidates_and_conflicts() {
    let d = Daemon::start(&[]);
    let mut a = Conn::open(&d);
    let hello = a.ok(json!({"op": "hello"}));
    assert_eq!(hello["user"], "root");
    assert_eq!(hello["role"], "admin");

    // Edits stay private until commit.
    a.ok(json!({"op": "configure"}));
    a.ok(set(
        "/netloom-host:networks/network[name='blue']/type",
        json!("bridge"),
    ));
    let mut b = Conn::open(&d);
    let running = b.ok(json!({"op": "get", "path": "/netloom-host:networks"}));
    assert_eq!(running["data"], json!({}), "{running}");
    let private = a.ok(json!({"op": "get", "source": "private", "path": "/netloom-host:networks"}));
    assert_eq!(
        private["data"]["netloom-host:networks"]["network"][0]["name"],
        "blue"
    );
    let cmp = a.ok(json!({"op": "compare"}));
    assert_eq!(
        cmp["changes"][0]["path"],
        "/netloom-host:networks/network[name='blue']"
    );
    let keys = a.ok(json!({"op": "keys", "path": "/netloom-host:networks/network", "source": "private", "prefix": "bl"}));
    assert_eq!(keys["keys"], json!(["blue"]));

    // A second session changes the same network first: a's commit is refused as a conflict.
    b.ok(json!({"op": "configure"}));
    b.ok(set(
        "/netloom-host:networks/network[name='blue']/type",
        json!("macvlan"),
    ));
    b.ok(set(
        "/netloom-host:networks/network[name='blue']/uplink",
        json!("eth0"),
    ));
    let committed = b.ok(json!({"op": "commit", "comment": "b first"}));
    assert!(committed["commit"].as_u64().is_some(), "{committed}");
    let refused = a.ask(json!({"op": "commit"}));
    assert_eq!(refused["ok"], false);
    assert_eq!(refused["error"]["tag"], "in-use");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("network[name='blue']"));
    let running = b.ok(json!({"op": "get", "path": "/netloom-host:networks/network[name='blue']"}));
    assert_eq!(
        running["data"]["netloom-host:networks"]["network"][0]["type"],
        "macvlan"
    );

    // Changes elsewhere are no conflict: a's edit of another network commits on top of b's.
    a.ok(json!({"op": "discard"}));
    a.ok(set(
        "/netloom-host:networks/network[name='red']/type",
        json!("bridge"),
    ));
    b.ok(set(
        "/netloom-host:networks/network[name='green']/type",
        json!("bridge"),
    ));
    b.ok(json!({"op": "commit"}));
    a.ok(json!({"op": "commit", "comment": "red"}));
    let keys = b.ok(json!({"op": "keys", "path": "/netloom-host:networks/network"}));
    assert_eq!(keys["keys"], json!(["blue", "green", "red"]));
    let log = b.ok(json!({"op": "commits", "limit": 1}));
    assert_eq!(log["commits"][0]["comment"], "red");

    // A lock held by a session goes away when its connection does.
    a.ok(json!({"op": "lock"}));
    let locked = b.ask(set(
        "/netloom-host:networks/network[name='x']/type",
        json!("bridge"),
    ));
    assert_eq!(locked["ok"], true);
    let denied = b.ask(json!({"op": "commit"}));
    assert_eq!(denied["error"]["tag"], "lock-denied", "{denied}");
    drop(a);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let r = b.ask(json!({"op": "commit"}));
        if r["ok"] == true {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "lock never released: {r}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    // Malformed requests get an error and the connection stays usable.
    let bad = b.ask(json!({"op": "frobnicate"}));
    assert_eq!(bad["error"]["tag"], "malformed-message");
    b.ok(json!({"op": "hello"}));
}
