//! RESTCONF driven by Python `requests` (the automation client the issue names beside curl):
//! a script makes the calls and reports what it saw; the assertions are here, on its report
//! and on the datastore afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use netloom_tests::{python, Daemon, ADMIN_PASSWORD};
use serde_json::{json, Value};

mod restconf_client;
use restconf_client::*;

/// Each step: the answer's status, ETag and body (JSON when it is JSON).
const SCRIPT: &str = r#"
import json, os, sys
import requests

base = os.environ["BASE"] + "/restconf/data/netloom-host:networks"
s = requests.Session()
s.auth = (os.environ["USER"], os.environ["PASS"])
J = "application/yang-data+json"
report = {}

def step(name, r):
    try:
        body = r.json()
    except ValueError:
        body = r.text
    report[name] = {"status": r.status_code, "etag": r.headers.get("ETag"), "body": body}
    return r

net = {"netloom-host:network": [{"name": "py", "type": "bridge"}]}
step("put", s.put(base + "/network=py", json=net, headers={"Content-Type": J}))
got = step("get", s.get(base + "/network=py", headers={"Accept": J}))
tag = got.headers["ETag"]
step("patch", s.patch(base + "/network=py", headers={"Content-Type": J, "If-Match": tag},
                      data=json.dumps({"netloom-host:network": [{"name": "py", "mtu": 1450}]})))
# The ETag read before the PATCH is stale now: the write is refused.
step("stale", s.put(base + "/network=py", headers={"Content-Type": J, "If-Match": tag},
                    data=json.dumps({"netloom-host:network": [{"name": "py", "type": "bridge", "mtu": 9000}]})))
step("bad", s.put(base + "/network=py/mtu", headers={"Content-Type": J},
                  data=json.dumps({"netloom-host:mtu": 10})))
step("after", s.get(base + "/network=py/mtu", headers={"Accept": J}))
step("delete", s.delete(base + "/network=py"))
step("gone", s.get(base + "/network=py", headers={"Accept": J}))
json.dump(report, sys.stdout)
"#;

#[test]
fn python_requests_drives_every_method() {
    let py = python(&["requests"]);
    let d = Daemon::start(&["--restconf-plaintext"]);
    let out = Command::new(py)
        .args(["-c", SCRIPT])
        .env("BASE", format!("http://{}", d.restconf))
        .env("USER", "admin")
        .env("PASS", ADMIN_PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let status = |step: &str| report[step]["status"].as_u64().unwrap();

    assert_eq!(status("put"), 201, "{report}");
    assert_eq!(status("get"), 200);
    assert_eq!(
        report["get"]["body"],
        json!({"netloom-host:network": [{"name": "py", "type": "bridge"}]})
    );
    assert!(report["get"]["etag"]
        .as_str()
        .is_some_and(|e| e.starts_with('"')));
    assert_eq!(status("patch"), 204, "{report}");
    assert_ne!(report["patch"]["etag"], report["get"]["etag"]);
    assert_eq!(status("stale"), 412, "{report}");
    assert_eq!(status("bad"), 400);
    let err = &report["bad"]["body"]["ietf-restconf:errors"]["error"][0];
    assert_eq!(err["error-type"], "application");
    assert_eq!(err["error-tag"], "invalid-value");
    assert!(
        err["error-path"]
            .as_str()
            .unwrap()
            .starts_with("/netloom-host:networks/network[name='py']"),
        "{err}"
    );
    // Neither the stale write nor the bad value landed; the PATCH did.
    assert_eq!(report["after"]["body"], json!({"netloom-host:mtu": 1450}));
    assert_eq!(status("delete"), 204);
    assert_eq!(status("gone"), 404);
    assert_eq!(
        report["gone"]["body"]["ietf-restconf:errors"]["error"][0]["error-tag"],
        "data-missing"
    );
    // And the datastore agrees, read with curl.
    let c = Client::admin(&d);
    assert_eq!(c.get(&format!("{NETS}/network=py")).status, 404);
}
