//! SIGKILL in the middle of commits, 20 times: on reopen, running is exactly the state after
//! the last commit that reached the log — never a mix — and no commit that returned success
//! to its caller is lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use netloom_store::{DatastoreId, Store};
use netloom_yang::Schema;
use rand::Rng;

#[test]
fn running_survives_sigkill_at_random_points() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("n.db");
    let schema = Arc::new(Schema::new().unwrap());
    let mut rng = rand::rng();
    let mut last_seen = 0u64;
    for round in 0..20 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_netloom-commit-loop"))
            .arg(&db)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let wait_for = rng.random_range(1..40);
        for _ in 0..wait_for {
            let line = lines.next().expect("commit loop ended early").unwrap();
            last_seen = line.strip_prefix("ok ").unwrap().parse().unwrap();
        }
        // SIGKILL while it is committing: it does not wait for us to read its output
        child.kill().unwrap();
        child.wait().unwrap();

        let store = Store::open(&db, schema.clone()).unwrap();
        let running = store.snapshot(DatastoreId::Running);
        let k = running.commit_id;
        assert!(
            k >= last_seen,
            "round {round}: commit {last_seen} returned but running is at {k}"
        );
        assert_eq!(store.commits(1, false).unwrap()[0].id, k);
        // commit k is: network n with mtu 1000+k, and pods p1..pk
        let nets: Vec<_> = running
            .units
            .iter()
            .filter(|(key, _)| key.path.contains("network["))
            .collect();
        assert_eq!(nets.len(), 1);
        let v: serde_json::Value = serde_json::from_str(nets[0].1).unwrap();
        assert_eq!(
            v["mtu"],
            1000 + k,
            "round {round}: network from another commit than {k}"
        );
        let pods = running
            .units
            .iter()
            .filter(|(key, _)| key.path.contains("/pod["))
            .count() as u64;
        assert_eq!(pods, k, "round {round}: {pods} pods at commit {k}");
        last_seen = k;
    }
}
