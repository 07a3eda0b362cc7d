//! Helpers shared by the engine tests: an engine on a temp database with a memory driver the
//! test can inspect and make fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use netloom_daemon::Engine;
use netloom_northbound::api::Principal;
use netloom_southbound::{DataplaneDriver, DriverError, MemoryDriver, Op};
use netloom_yang::{DataPath, Edit, EditOp, Schema};
use serde_json::Value;

/// A memory driver shared with the test.
#[derive(Clone, Default)]
pub struct Shared(pub Arc<Mutex<MemoryDriver>>);

impl DataplaneDriver for Shared {
    fn name(&self) -> &'static str {
        "shared-memory"
    }
    fn apply(&mut self, op: &Op) -> Result<Op, DriverError> {
        self.0.lock().unwrap().apply(op)
    }
}

pub fn schema() -> Arc<Schema> {
    Arc::new(Schema::new().unwrap())
}

pub fn open(dir: &Path) -> (Engine, Shared) {
    let d = Shared::default();
    let e = Engine::open(schema(), &dir.join("n.db"), Box::new(d.clone())).unwrap();
    (e, d)
}

pub fn who(session: u64) -> Principal {
    Principal {
        session,
        user: format!("user{session}"),
    }
}

pub fn merge(path: &str, v: Value) -> Edit {
    Edit {
        op: EditOp::Merge,
        path: DataPath::parse_xpath(path).unwrap(),
        value: Some(v),
    }
}

pub fn delete(path: &str) -> Edit {
    Edit {
        op: EditOp::Delete,
        path: DataPath::parse_xpath(path).unwrap(),
        value: None,
    }
}

/// A merge of these entries into the networks list.
pub fn networks(entries: Vec<Value>) -> Edit {
    merge(
        "/netloom-host:networks",
        serde_json::json!({ "network": entries }),
    )
}

pub fn net(name: &str) -> String {
    format!("/netloom-host:networks/network[name='{name}']")
}

pub fn pod(ns: &str, name: &str) -> String {
    format!("/netloom-host:pods/pod[namespace='{ns}'][name='{name}']")
}
