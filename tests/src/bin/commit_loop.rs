//! Commits to a database in a loop, printing `ok <commit-id>` after each commit returned,
//! until killed. The crash test kills it at random points and checks what survives.
//! Commit i sets network `n`'s MTU to 1000 + i and adds pod `p<i>`, so the content of
//! running tells exactly which commit it reflects.

use std::io::Write;
use std::sync::Arc;

use netloom_daemon::Engine;
use netloom_northbound::api::Principal;
use netloom_southbound::MemoryDriver;
use netloom_store::DatastoreId;
use netloom_yang::{DataPath, Edit, EditOp, Schema};
use serde_json::json;

fn main() {
    let Some(db) = std::env::args().nth(1) else {
        eprintln!("usage: netloom-commit-loop DB");
        std::process::exit(2);
    };
    let schema = Arc::new(Schema::new().unwrap_or_else(|e| fail(&e.to_string())));
    let mut engine = Engine::open(schema, db.as_ref(), Box::new(MemoryDriver::new()))
        .unwrap_or_else(|e| fail(&e.to_string()));
    let who = Principal {
        session: 1,
        user: "loop".into(),
    };
    let mut out = std::io::stdout().lock();
    loop {
        let i = engine.snapshot(DatastoreId::Running).commit_id + 1;
        let edits = [
            Edit {
                op: EditOp::Merge,
                path: DataPath::parse_xpath("/netloom-host:networks/network[name='n']")
                    .unwrap_or_else(|e| fail(&e.to_string())),
                value: Some(json!({"type": "bridge", "mtu": 1000 + i})),
            },
            Edit {
                op: EditOp::Merge,
                path: DataPath::parse_xpath(&format!(
                    "/netloom-host:pods/pod[namespace='ns'][name='p{i}']"
                ))
                .unwrap_or_else(|e| fail(&e.to_string())),
                value: Some(json!({"interface": [{"name": "eth0", "network": "n"}]})),
            },
        ];
        match engine.edit(&who, DatastoreId::Running, &edits, None) {
            Ok(o) => {
                let _ = writeln!(out, "ok {}", o.commit_id().unwrap_or(0));
                let _ = out.flush();
            }
            Err(e) => fail(&e.to_string()),
        }
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("netloom-commit-loop: {msg}");
    std::process::exit(1);
}
