//! One CNI call as the daemon sees it, and the CNI error (codes from the CNI specification
//! 1.1, section "Error").

use serde_json::{json, Value};

/// The CNI versions whose config and result formats netloom speaks.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Add,
    Del,
    Check,
    Gc,
    Status,
    Version,
}

impl Command {
    pub fn parse(s: &str) -> Option<Command> {
        Some(match s {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "GC" => Command::Gc,
            "STATUS" => Command::Status,
            "VERSION" => Command::Version,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Del => "DEL",
            Command::Check => "CHECK",
            Command::Gc => "GC",
            Command::Status => "STATUS",
            Command::Version => "VERSION",
        }
    }
}

/// A decoded and checked call: the runtime's environment and the network config.
#[derive(Debug, Clone)]
pub struct CniCall {
    pub command: Command,
    pub container_id: String,
    /// The pod's netns path; empty when the runtime gave none (allowed for DEL and GC).
    pub netns: String,
    pub ifname: String,
    /// `CNI_ARGS` split into key/value pairs.
    pub args: Vec<(String, String)>,
    pub path: String,
    /// The network config from stdin (an object with at least `cniVersion`).
    pub config: Value,
    /// The config's `cniVersion`, which the result echoes.
    pub cni_version: String,
}

impl CniCall {
    /// A `CNI_ARGS` value (e.g. `K8S_POD_NAMESPACE`).
    pub fn arg(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A CNI error result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CNI error {code}: {msg}")]
pub struct CniError {
    pub code: u32,
    pub msg: String,
    pub details: String,
}

impl CniError {
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    pub const UNSUPPORTED_FIELD: u32 = 2;
    pub const UNKNOWN_CONTAINER: u32 = 3;
    pub const INVALID_ENV: u32 = 4;
    pub const IO_FAILURE: u32 = 5;
    pub const DECODE_FAILURE: u32 = 6;
    pub const INVALID_CONFIG: u32 = 7;
    pub const TRY_AGAIN_LATER: u32 = 11;
    /// STATUS: the plugin cannot serve ADD.
    pub const NOT_AVAILABLE: u32 = 50;
    /// STATUS: not available, and existing pods may have limited connectivity.
    pub const NOT_AVAILABLE_DEGRADED: u32 = 51;
    /// netloom's own: the pod's interfaces could not be set up (codes 100+ are the plugin's).
    pub const INTERFACE_FAILURE: u32 = 100;
    /// netloom's own: no address left in a pool, or a fixed address taken.
    pub const IPAM_FAILURE: u32 = 101;

    pub fn new(code: u32, msg: impl Into<String>) -> Self {
        CniError {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    /// The error as the runtime reads it from the plugin's stdout.
    pub fn to_json(&self, cni_version: &str) -> Value {
        let mut v = json!({
            "cniVersion": cni_version,
            "code": self.code,
            "msg": self.msg,
        });
        if !self.details.is_empty() {
            v["details"] = Value::String(self.details.clone());
        }
        v
    }
}
