//! The RESTCONF end-to-end tests' client: curl run once per request, its answer split into
//! status, headers and body.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use netloom_tests::{Daemon, ADMIN_PASSWORD};
use serde_json::{json, Value};

pub const JSON: &str = "application/yang-data+json";
pub const XML: &str = "application/yang-data+xml";

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The first RFC 8040 error's tag.
    pub fn error_tag(&self) -> String {
        self.json()["ietf-restconf:errors"]["error"][0]["error-tag"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// Run curl; `-s -i` output split into status, headers and body (100-continue skipped).
pub fn curl(args: &[&str]) -> Resp {
    let out = Command::new("curl")
        .args(["-s", "-i", "--max-time", "30"])
        .args(args)
        .output()
        .expect("curl is installed (packaging/dev-setup.sh)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut rest = text.as_str();
    loop {
        let (head, body) = rest
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP answer from curl {args:?}: {text:?}"));
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap();
        if status == 100 {
            rest = body;
            continue;
        }
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        return Resp {
            status,
            headers,
            body: body.to_owned(),
        };
    }
}

pub struct Client {
    pub base: String,
    pub user: String,
}

impl Client {
    pub fn admin(d: &Daemon) -> Client {
        Client {
            base: format!("http://{}", d.restconf),
            user: format!("admin:{ADMIN_PASSWORD}"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn req(&self, method: &str, path: &str, extra: &[&str]) -> Resp {
        let url = self.url(path);
        let mut args = vec!["-u", &self.user, "-X", method, &url];
        args.extend_from_slice(extra);
        curl(&args)
    }

    pub fn get(&self, path: &str) -> Resp {
        self.req("GET", path, &[])
    }

    pub fn send(&self, method: &str, path: &str, ctype: &str, body: &str) -> Resp {
        let ct = format!("Content-Type: {ctype}");
        self.req(method, path, &["-H", &ct, "--data-binary", body])
    }
}

pub fn network(name: &str) -> Value {
    json!({"netloom-host:network": [{"name": name, "type": "bridge"}]})
}

pub const NETS: &str = "/restconf/data/netloom-host:networks";
