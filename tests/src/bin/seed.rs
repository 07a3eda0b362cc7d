//! Commits config to a netloom database before the daemon starts (benchmarks and manual
//! setups): `netloom-seed DB FILE`, FILE a JSON array of `[xpath, value]` merges.

use std::sync::Arc;

use netloom_daemon::Engine;
use netloom_northbound::api::Principal;
use netloom_southbound::MemoryDriver;
use netloom_store::DatastoreId;
use netloom_yang::{DataPath, Edit, EditOp, Schema};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, db, file] = args.as_slice() else {
        fail("usage: netloom-seed DB FILE");
    };
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| fail(&format!("{file}: {e}")));
    let items: Vec<(String, serde_json::Value)> =
        serde_json::from_str(&text).unwrap_or_else(|e| fail(&format!("{file}: {e}")));
    let edits: Vec<Edit> = items
        .into_iter()
        .map(|(p, v)| Edit {
            op: EditOp::Merge,
            path: DataPath::parse_xpath(&p).unwrap_or_else(|e| fail(&format!("{p}: {e}"))),
            value: Some(v),
        })
        .collect();
    let schema = Arc::new(Schema::new().unwrap_or_else(|e| fail(&e.to_string())));
    let mut engine = Engine::open(schema, db.as_ref(), Box::new(MemoryDriver::new()))
        .unwrap_or_else(|e| fail(&e.to_string()));
    let who = Principal {
        session: 1,
        user: "seed".into(),
    };
    if let Err(e) = engine.edit(&who, DatastoreId::Running, edits, None) {
        fail(&e.to_string());
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("netloom-seed: {msg}");
    std::process::exit(1);
}
