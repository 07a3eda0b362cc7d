//! RESTCONF reads beyond plain data: stream filters (RFC 8040 section 4.8.4) on replayed and
//! live events, the event stream in XML, with-defaults on defaults under a `when`, and the
//! RFC 7895 `modules-state` beside the RFC 8525 library.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use netloom_tests::Daemon;
use serde_json::{json, Value};

mod restconf_client;
use restconf_client::*;

const NOTIF: &str = "ietf-netconf-notifications";

/// A stream read by `curl -N`, line by line.
struct Stream {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Stream {
    fn open(c: &Client, path: &str, extra: &[&str]) -> Stream {
        let mut child = Command::new("curl")
            .args(["-s", "-N", "--max-time", "30", "-u", &c.user])
            .args(extra)
            .arg(c.url(path))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Stream { child, lines }
    }

    /// The next `data:` payload, within a bounded time (curl's own --max-time ends a
    /// silent stream, so a missing event fails rather than hangs).
    fn next_data(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(25);
        while Instant::now() < deadline {
            let line = self.lines.next().expect("stream open").unwrap();
            if let Some(data) = line.strip_prefix("data: ") {
                return data.to_owned();
            }
        }
        panic!("no event before the deadline");
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn targets(event: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(event).unwrap();
    v["ietf-restconf:notification"][format!("{NOTIF}:netconf-config-change")]["edit"]
        .as_array()
        .map(|edits| {
            edits
                .iter()
                .map(|e| e["target"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn stream_filter_selects_replayed_and_live_events() {
    let d = Daemon::start(&["--restconf-plaintext"]);
    let c = Client::admin(&d);
    for name in ["keep-1", "skip-1"] {
        assert_eq!(
            c.send("POST", NETS, JSON, &network(name).to_string())
                .status,
            201
        );
    }
    let filter =
        format!("/{NOTIF}:netconf-config-change/{NOTIF}:edit[contains({NOTIF}:target, 'keep')]");
    let encoded: String = filter
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    let mut s = Stream::open(
        &c,
        &format!("/restconf/streams/NETCONF/json?start-time=2000-01-01T00:00:00Z&filter={encoded}"),
        &[],
    );
    // Replay: only the matching commit, then the replay's end (never filtered).
    let first = s.next_data();
    assert_eq!(
        targets(&first),
        ["/netloom-host:networks/network[name='keep-1']"],
        "{first}"
    );
    assert!(s.next_data().contains("replayComplete"));
    // Live: a non-matching commit, then a matching one; only the second arrives.
    for name in ["skip-2", "keep-2"] {
        assert_eq!(
            c.send("POST", NETS, JSON, &network(name).to_string())
                .status,
            201
        );
    }
    let live = s.next_data();
    assert_eq!(
        targets(&live),
        ["/netloom-host:networks/network[name='keep-2']"],
        "{live}"
    );

    // Expressions that cannot be used are refused before the stream starts.
    for bad in ["%2Fa%5B", "%2Fnope%3Ax", "frobnicate()"] {
        let r = c.get(&format!("/restconf/streams/NETCONF?filter={bad}"));
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.error_tag(), "invalid-value");
    }
    // filter belongs to streams only.
    let r = c.get(&format!("{NETS}?filter=true()"));
    assert_eq!(r.status, 400);
}

#[test]
fn event_stream_in_xml() {
    let d = Daemon::start(&["--restconf-plaintext"]);
    let c = Client::admin(&d);
    // Asked for by Accept on the stream itself. With a replay from the past, a commit made
    // while the stream opens is delivered either way (replayed or live).
    let mut s = Stream::open(
        &c,
        "/restconf/streams/NETCONF?start-time=2000-01-01T00:00:00Z",
        &["-H", "Accept: application/xml"],
    );
    assert_eq!(
        c.send("POST", NETS, JSON, &network("x1").to_string())
            .status,
        201
    );
    let event = loop {
        let data = s.next_data();
        if data.contains("x1") {
            break data;
        }
        // The earlier commits (the bootstrap's admin user) and the replay's end.
        assert!(data.starts_with("<notification "), "{data}");
    };
    assert!(
        event.starts_with(
            "<notification xmlns=\"urn:ietf:params:xml:ns:netconf:notification:1.0\"><eventTime>"
        ),
        "{event}"
    );
    assert!(
        event.contains(&format!(
            "<netconf-config-change xmlns=\"urn:ietf:params:xml:ns:yang:{NOTIF}\">"
        )),
        "{event}"
    );
    assert!(event.contains("<operation>create</operation>"), "{event}");
    assert!(event.contains("<username>admin</username>"), "{event}");
    drop(s);

    // The /xml location replays in XML too, and ends at stop-time.
    let r = c.get("/restconf/streams/NETCONF/xml?start-time=2000-01-01T00:00:00Z&stop-time=2000-01-02T00:00:00Z");
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert!(r.body.contains("<notificationComplete"), "{}", r.body);
}

#[test]
fn with_defaults_reports_defaults_under_a_holding_when() {
    let d = Daemon::start(&["--restconf-plaintext"]);
    let c = Client::admin(&d);
    let nets = json!({"netloom-host:network": [{"name": "br", "type": "bridge"}]});
    assert_eq!(c.send("POST", NETS, JSON, &nets.to_string()).status, 201);
    let mv = json!({"netloom-host:network": [{"name": "mv", "type": "macvlan", "uplink": "eth0"}]});
    assert_eq!(c.send("POST", NETS, JSON, &mv.to_string()).status, 201);

    // The bridge network: its `bridge` container's defaults (when type = bridge), none of
    // the other types' containers.
    let r = c.get(&format!("{NETS}/network=br?with-defaults=report-all"));
    assert_eq!(r.status, 200, "{}", r.body);
    let br = &r.json()["netloom-host:network"][0];
    assert_eq!(
        br["bridge"],
        json!({"gateway": true, "hairpin": false}),
        "{br}"
    );
    for other in ["macvlan", "ipvlan", "vxlan", "sriov", "dpdk"] {
        assert!(br.get(other).is_none(), "{other} in {br}");
    }
    // The macvlan network: the mode default, and no bridge container.
    let r = c.get(&format!(
        "{NETS}/network=mv?with-defaults=report-all-tagged"
    ));
    let mv = &r.json()["netloom-host:network"][0];
    assert_eq!(mv["macvlan"]["mode"], "bridge", "{mv}");
    assert_eq!(
        mv["macvlan"]["@mode"],
        json!({"ietf-netconf-with-defaults:default": true})
    );
    assert!(mv.get("bridge").is_none(), "{mv}");
    // Deeper targets and the whole list work the same way.
    let r = c.get(&format!(
        "{NETS}/network=mv/macvlan?with-defaults=report-all"
    ));
    assert_eq!(
        r.json(),
        json!({"netloom-host:macvlan": {"mode": "bridge"}})
    );
    let r = c.get(&format!("{NETS}/network?with-defaults=report-all"));
    let all = r.json()["netloom-host:network"].clone();
    let by_name = |n: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == n)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_name("br")["bridge"]["gateway"], true);
    assert!(by_name("br").get("macvlan").is_none());
    assert_eq!(by_name("mv")["macvlan"]["mode"], "bridge");
    // Without with-defaults nothing is added (basic mode explicit).
    let plain = c.get(&format!("{NETS}/network=br")).json();
    assert!(plain["netloom-host:network"][0].get("bridge").is_none());
}

#[test]
fn modules_state_is_generated_from_the_schema() {
    let d = Daemon::start(&["--restconf-plaintext"]);
    let c = Client::admin(&d);
    let r = c.get("/restconf/data/ietf-yang-library:modules-state");
    assert_eq!(r.status, 200, "{}", r.body);
    let ms = &r.json()["ietf-yang-library:modules-state"];
    assert!(ms["module-set-id"].as_str().is_some_and(|s| !s.is_empty()));
    let modules = ms["module"].as_array().unwrap();
    // The same modules as the RFC 8525 library lists.
    let lib = c
        .get("/restconf/data/ietf-yang-library:yang-library")
        .json();
    let set = &lib["ietf-yang-library:yang-library"]["module-set"][0];
    let count = set["module"].as_array().unwrap().len()
        + set["import-only-module"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0);
    assert_eq!(modules.len(), count);
    let host = modules
        .iter()
        .find(|m| m["name"] == "netloom-host")
        .expect("netloom-host listed");
    assert_eq!(host["namespace"], "urn:netloom:yang:netloom-host");
    assert_eq!(host["conformance-type"], "implement");
    let schema = host["schema"].as_str().unwrap();
    let rev = host["revision"].as_str().unwrap();
    assert!(
        schema.ends_with(&format!("/restconf/yang/netloom-host@{rev}.yang")),
        "{schema}"
    );
    // The schema location serves the module.
    let path = &schema[schema.find("/restconf/").unwrap()..];
    let text = c.get(path);
    assert_eq!(text.status, 200);
    assert!(text.body.contains("module netloom-host"));
    // Import-only modules say so.
    assert!(
        modules.iter().any(|m| m["conformance-type"] == "import"),
        "{modules:?}"
    );
    // A path below it, and XML.
    let one = c.get("/restconf/data/ietf-yang-library:modules-state/module-set-id");
    assert_eq!(
        one.json()["ietf-yang-library:module-set-id"],
        ms["module-set-id"]
    );
    let xml = c.req(
        "GET",
        "/restconf/data/ietf-yang-library:modules-state",
        &["-H", &format!("Accept: {XML}")],
    );
    assert_eq!(xml.status, 200);
    assert!(
        xml.body
            .starts_with("<modules-state xmlns=\"urn:ietf:params:xml:ns:yang:ietf-yang-library\">"),
        "{}",
        xml.body
    );
    assert!(xml.body.contains("<name>netloom-host</name>"));
}
