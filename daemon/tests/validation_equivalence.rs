//! Incremental validation must give exactly the verdict of full validation. Two engines take
//! the same few thousand random edits — one validating only each change's scope, one
//! validating everything every time — and must accept and refuse the same commits and end up
//! with the same running config. The edits are drawn from a small universe on purpose, so
//! dangling leafrefs, overlapping pools, duplicate VNIs, duplicate fixed addresses, node-port
//! clashes and `when`/`must` failures all happen often. The same edits are first made to
//! each engine's candidate, whose `<validate>` (the change against running for one, every
//! unit for the other) must give the verdict the commit then gets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use netloom_store::DatastoreId;
use netloom_yang::Edit;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn namespace(rng: &mut StdRng) -> &'static str {
    if rng.random_bool(0.5) {
        "a"
    } else {
        "b"
    }
}

fn network(rng: &mut StdRng, idx: u32) -> Value {
    let mut n = json!({"type": pick(rng, &["bridge", "bridge", "bridge", "vxlan", "macvlan", "sriov", "vlan", "host-device"])});
    let o = n.as_object_mut().unwrap();
    if rng.random_bool(0.85) {
        o.insert("uplink".into(), json!(pick(rng, &["eth0", "eth1"])));
    }
    match o["type"].as_str().unwrap() {
        "vxlan" => {
            o.insert("vxlan".into(), json!({"vni": rng.random_range(1..4)}));
        }
        "sriov" => {
            o.insert(
                "sriov".into(),
                json!({"physical-function": pick(rng, &["pf0", "pf1", "pf9"])}),
            );
        }
        "vlan" if rng.random_bool(0.7) => {
            o.insert("vlan-id".into(), json!(rng.random_range(1..5)));
        }
        "host-device" => {
            o.insert("host-device".into(), json!({"device": "eth2"}));
        }
        "bridge" if rng.random_bool(0.1) => {
            // vlan-id is only allowed for some types: a `when` failure
            o.insert("vlan-id".into(), json!(3));
        }
        _ => {}
    }
    if rng.random_bool(0.8) {
        let third = if rng.random_bool(0.85) {
            idx
        } else {
            rng.random_range(0..6)
        };
        let subnet = if rng.random_bool(0.3) {
            format!("10.0.{third}.128/25")
        } else {
            format!("10.0.{third}.0/24")
        };
        let mut pool = json!({"name": "v4", "subnet": subnet});
        if rng.random_bool(0.5) {
            let g = if rng.random_bool(0.9) {
                format!("10.0.{third}.1")
            } else {
                "10.9.9.1".into()
            };
            pool["gateway"] = json!(g);
        }
        o.insert("ipam".into(), json!({"pool": [pool]}));
    }
    n
}

fn pod_value(rng: &mut StdRng) -> Value {
    let mut ifaces = Vec::new();
    for i in 0..rng.random_range(1..3) {
        let n = rng.random_range(0..7);
        let mut iface = json!({
            "name": if i == 0 { "eth0".to_string() } else { format!("net{i}") },
            "network": format!("n{n}"),
        });
        if rng.random_bool(0.6) {
            let third = if rng.random_bool(0.85) {
                n
            } else {
                rng.random_range(0..6)
            };
            iface["address"] = json!([format!("10.0.{third}.{}", rng.random_range(2..12))]);
        }
        if rng.random_bool(0.2) {
            iface["default-route"] = json!(true);
        }
        ifaces.push(iface);
    }
    json!({"interface": ifaces})
}

fn random_edit(rng: &mut StdRng) -> Edit {
    match rng.random_range(0..100) {
        0..=24 => {
            let idx = rng.random_range(0..6);
            merge(&net(&format!("n{idx}")), network(rng, idx))
        }
        25..=34 => delete(&net(&format!("n{}", rng.random_range(0..6)))),
        35..=59 => merge(
            &pod(namespace(rng), &format!("q{}", rng.random_range(0..30))),
            pod_value(rng),
        ),
        60..=69 => delete(&pod(
            namespace(rng),
            &format!("q{}", rng.random_range(0..30)),
        )),
        70..=77 => {
            let num = rng.random_range(0..4);
            let vfs: Vec<Value> = (0..rng.random_range(0..3))
                .map(|_| json!({"id": rng.random_range(0..5), "vlan": rng.random_range(1..10)}))
                .collect();
            merge(
                &format!(
                    "/netloom-host:sriov/physical-function[name='pf{}']",
                    rng.random_range(0..2)
                ),
                json!({"num-vfs": num, "vf": vfs}),
            )
        }
        78..=81 => delete(&format!(
            "/netloom-host:sriov/physical-function[name='pf{}']",
            rng.random_range(0..2)
        )),
        82..=89 => {
            let mut port = json!({"name": "p", "port": 80});
            if rng.random_bool(0.6) {
                port["node-port"] = json!(30000 + rng.random_range(0..3));
            }
            let mut s = json!({"type": pick(rng, &["cluster-ip", "node-port"]), "port": [port]});
            if rng.random_bool(0.5) {
                s["network"] = json!(format!("n{}", rng.random_range(0..7)));
            }
            merge(
                &format!(
                    "/netloom-host:services/service[namespace='a'][name='s{}']",
                    rng.random_range(0..5)
                ),
                s,
            )
        }
        90..=95 => merge(
            &format!(
                "/netloom-host:policies/policy[name='pol{}']",
                rng.random_range(0..3)
            ),
            json!({"applies-to": {"network": [format!("n{}", rng.random_range(0..7))]},
                   "rule": [{"seq": 10, "direction": "ingress", "action": "drop"}]}),
        ),
        _ => merge(
            "/netloom-host:system/commit-history",
            json!(pick(rng, &[1000, 2000])),
        ),
    }
}

#[test]
fn incremental_and_full_validation_agree_on_random_edits() {
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let (mut incremental, _) = open(dir_a.path());
    let (mut full, _) = open(dir_b.path());
    full.set_full_validation(true);
    let mut rng = StdRng::seed_from_u64(0x006e_6574_6c6f_6f6d);
    let (mut accepted, mut refused) = (0, 0);
    for step in 0..3000 {
        let edits: Vec<Edit> = (0..rng.random_range(1..3))
            .map(|_| random_edit(&mut rng))
            .collect();
        // validate of a candidate holding the same change, then discarded
        let mut staged = Vec::new();
        for e in [&mut incremental, &mut full] {
            let verdict = e
                .edit(&who(1), DatastoreId::Candidate, edits.as_slice(), None)
                .and_then(|_| e.check_datastore(DatastoreId::Candidate));
            e.discard_changes(&who(1)).unwrap();
            staged.push(verdict);
        }
        let a = incremental.edit(&who(1), DatastoreId::Running, edits.clone(), None);
        let b = full.edit(&who(1), DatastoreId::Running, edits.as_slice(), None);
        assert_eq!(
            a.is_ok(),
            b.is_ok(),
            "step {step}: verdicts differ for {edits:?}\nincremental: {:?}\nfull: {:?}",
            a.as_ref().err().map(ToString::to_string),
            b.as_ref().err().map(ToString::to_string)
        );
        for (engine, v) in ["incremental", "full"].iter().zip(&staged) {
            assert_eq!(
                v.is_ok(),
                a.is_ok(),
                "step {step}: the {engine} engine's validate of the candidate says {:?}, \
                 the commit {:?}, for {edits:?}",
                v.as_ref().err().map(ToString::to_string),
                a.as_ref().err().map(ToString::to_string)
            );
        }
        if a.is_ok() {
            accepted += 1;
        } else {
            refused += 1;
        }
        assert_eq!(
            incremental.snapshot(DatastoreId::Running).units,
            full.snapshot(DatastoreId::Running).units,
            "step {step}: running differs"
        );
    }
    // the universe must exercise both verdicts a lot, or the test proves little
    assert!(
        accepted > 500 && refused > 500,
        "accepted {accepted}, refused {refused}"
    );
    println!("accepted {accepted}, refused {refused}");
}
