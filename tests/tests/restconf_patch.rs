//! RESTCONF writes that place entries: YANG-Patch (RFC 8072) in JSON and XML with insert and
//! move on the ordered-by-user leaf-lists, the insert/point query parameters of POST and
//! PUT (RFC 8040 sections 4.8.5-6), per-edit errors in both encodings, and error paths as
//! XML instance-identifiers with declared prefixes (RFC 8040 section 7.1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use netloom_tests::Daemon;
use serde_json::{json, Value};

mod restconf_client;
use restconf_client::*;

const PATCH_JSON: &str = "application/yang-patch+json";
const PATCH_XML: &str = "application/yang-patch+xml";
const DNS: &str = "/restconf/data/netloom-host:networks/network=a/ipam/dns";
const NL: &str = "urn:netloom:yang:netloom-host";

fn with_dns(c: &Client) {
    let net = json!({"netloom-host:network": [{"name": "a", "type": "bridge", "mtu": 1400,
        "ipam": {"dns": {"nameserver": ["10.0.0.1"], "search": ["x.example"]}}}]});
    let r = c.send("POST", NETS, JSON, &net.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
}

fn leaf_list(c: &Client, name: &str) -> Value {
    let r = c.get(&format!("{DNS}/{name}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()[format!("netloom-host:{name}")].clone()
}

#[test]
fn yang_patch_inserts_and_moves_in_both_encodings() {
    let mut d = Daemon::start(&["--restconf-plaintext"]);
    let c = Client::admin(&d);
    with_dns(&c);

    // JSON: insert first, insert after a point, move before a point, move last.
    let patch = json!({"ietf-yang-patch:yang-patch": {"patch-id": "order", "edit": [
        {"edit-id": "1", "operation": "insert", "target": "/nameserver=10.0.0.2", "where": "first",
         "value": {"netloom-host:nameserver": ["10.0.0.2"]}},
        {"edit-id": "2", "operation": "insert", "target": "/nameserver=10.0.0.3", "where": "after",
         "point": "/nameserver=10.0.0.2", "value": {"netloom-host:nameserver": ["10.0.0.3"]}},
        {"edit-id": "3", "operation": "move", "target": "/nameserver=10.0.0.1", "where": "before",
         "point": "/nameserver=10.0.0.2"},
        {"edit-id": "4", "operation": "move", "target": "/nameserver=10.0.0.2", "where": "last"},
    ]}});
    let r = c.send("PATCH", DNS, PATCH_JSON, &patch.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["ietf-yang-patch:yang-patch-status"]["ok"],
        json!([null])
    );
    assert_eq!(
        leaf_list(&c, "nameserver"),
        json!(["10.0.0.1", "10.0.0.3", "10.0.0.2"])
    );

    // XML: the value's namespace declared by prefix on the root, an insert, a move and a
    // plain merge in one patch; the answer comes back in XML.
    let xml = format!(
        r#"<yang-patch xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-patch" xmlns:nl="{NL}">
  <patch-id>x1</patch-id>
  <edit><edit-id>s</edit-id><operation>insert</operation><target>/search=b.example</target>
    <where>first</where><value><nl:search>b.example</nl:search></value></edit>
  <edit><edit-id>m</edit-id><operation>move</operation><target>/nameserver=10.0.0.2</target>
    <where>first</where></edit>
  <edit><edit-id>d</edit-id><operation>merge</operation><target>/domain</target>
    <value><domain xmlns="{NL}">cluster.local</domain></value></edit>
</yang-patch>"#
    );
    let r = c.send("PATCH", DNS, PATCH_XML, &xml);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some(XML));
    assert!(
        r.body.starts_with(
            "<yang-patch-status xmlns=\"urn:ietf:params:xml:ns:yang:ietf-yang-patch\"><patch-id>x1</patch-id><ok/>"
        ),
        "{}",
        r.body
    );
    assert_eq!(leaf_list(&c, "search"), json!(["b.example", "x.example"]));
    assert_eq!(
        leaf_list(&c, "nameserver"),
        json!(["10.0.0.2", "10.0.0.1", "10.0.0.3"])
    );
    assert_eq!(
        c.get(&format!("{DNS}/domain")).json(),
        json!({"netloom-host:domain": "cluster.local"})
    );

    // The unit model keeps the order across a restart (it is stored as written).
    d.restart();
    let c = Client::admin(&d);
    assert_eq!(
        leaf_list(&c, "nameserver"),
        json!(["10.0.0.2", "10.0.0.1", "10.0.0.3"])
    );
}

#[test]
fn yang_patch_errors_per_edit_in_both_encodings() {
    let d = Daemon::start(&["--restconf-plaintext"]);
    let c = Client::admin(&d);
    with_dns(&c);

    // Move on system-ordered data (the network list): 400 invalid-value under its edit,
    // and the edit before it does not land either.
    let patch = json!({"ietf-yang-patch:yang-patch": {"patch-id": "sys", "edit": [
        {"edit-id": "mtu", "operation": "merge", "target": "/network=a/mtu", "value": {"netloom-host:mtu": 1300}},
        {"edit-id": "sys", "operation": "move", "target": "/network=a", "where": "first"},
    ]}});
    let r = c.send("PATCH", NETS, PATCH_JSON, &patch.to_string());
    assert_eq!(r.status, 400, "{}", r.body);
    let edit = &r.json()["ietf-yang-patch:yang-patch-status"]["edit-status"]["edit"][0];
    assert_eq!(edit["edit-id"], "sys");
    let err = &edit["errors"]["error"][0];
    assert_eq!(err["error-tag"], "invalid-value");
    assert_eq!(
        err["error-path"],
        "/netloom-host:networks/network[name='a']"
    );
    assert!(
        err["error-message"]
            .as_str()
            .unwrap()
            .contains("ordered-by user"),
        "{err}"
    );
    assert_eq!(
        c.get(&format!("{NETS}/network=a/mtu")).json(),
        json!({"netloom-host:mtu": 1400})
    );
    // The same on a system-ordered leaf-list, and an insert without its point.
    for (edit, tag) in [
        (
            json!({"edit-id": "e", "operation": "insert", "target": "/network=a/ipam/pool=p/exclude=10.1.0.1%2F32",
                   "where": "first", "value": {"netloom-host:exclude": ["10.1.0.1/32"]}}),
            "invalid-value",
        ),
        (
            json!({"edit-id": "e", "operation": "insert", "target": "/network=a/ipam/dns/nameserver=10.0.0.7",
                   "where": "before", "value": {"netloom-host:nameserver": ["10.0.0.7"]}}),
            "invalid-value",
        ),
    ] {
        let patch = json!({"ietf-yang-patch:yang-patch": {"patch-id": "p", "edit": [edit]}});
        let r = c.send("PATCH", NETS, PATCH_JSON, &patch.to_string());
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(
            r.json()["ietf-yang-patch:yang-patch-status"]["edit-status"]["edit"][0]["errors"]
                ["error"][0]["error-tag"],
            tag
        );
    }

    // XML: a move to a point that does not exist, then an insert of an existing entry.
    let xml = |edits: &str| {
        format!(
            r#"<yang-patch xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-patch"><patch-id>bad</patch-id>{edits}</yang-patch>"#
        )
    };
    let r = c.send(
        "PATCH",
        DNS,
        PATCH_XML,
        &xml("<edit><edit-id>ok</edit-id><operation>move</operation><target>/search=x.example</target><where>last</where></edit>\
              <edit><edit-id>gone</edit-id><operation>move</operation><target>/nameserver=10.0.0.1</target><where>after</where><point>/nameserver=10.9.9.9</point></edit>"),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.header("content-type"), Some(XML));
    assert!(r.body.contains("<edit-status><edit><edit-id>gone</edit-id><errors><error><error-type>application</error-type><error-tag>invalid-value</error-tag>"), "{}", r.body);
    assert!(
        r.body.contains(&format!("<error-path xmlns:nl=\"{NL}\">/nl:networks/nl:network[nl:name='a']/nl:ipam/nl:dns/nl:nameserver[.='10.9.9.9']</error-path>")),
        "{}",
        r.body
    );
    let r = c.send(
        "PATCH",
        DNS,
        PATCH_XML,
        &xml(&format!("<edit><edit-id>dup</edit-id><operation>insert</operation><target>/nameserver=10.0.0.1</target><where>first</where><value><nameserver xmlns=\"{NL}\">10.0.0.1</nameserver></value></edit>")),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("<edit-id>dup</edit-id>"), "{}", r.body);
    assert!(
        r.body.contains("<error-tag>data-exists</error-tag>"),
        "{}",
        r.body
    );
    // Accept picks the answer's encoding over the patch's.
    let r = c.req(
        "PATCH",
        DNS,
        &[
            "-H",
            &format!("Content-Type: {PATCH_XML}"),
            "-H",
            &format!("Accept: {JSON}"),
            "--data-binary",
            &xml("<edit><edit-id>x</edit-id><operation>bogus</operation><target>/domain</target></edit>"),
        ],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json()["ietf-yang-patch:yang-patch-status"]["edit-status"]["edit"][0]["edit-id"],
        "x"
    );
    // Nothing of the failed patches landed.
    assert_eq!(leaf_list(&c, "nameserver"), json!(["10.0.0.1"]));
    assert_eq!(leaf_list(&c, "search"), json!(["x.example"]));
}

#[test]
fn insert_and_point_query_parameters() {
    let d = Daemon::start(&["--restconf-plaintext"]);
    let c = Client::admin(&d);
    with_dns(&c);
    let point = |v: &str| {
        format!("point=%2Fnetloom-host%3Anetworks%2Fnetwork%3Da%2Fipam%2Fdns%2Fnameserver%3D{v}")
    };
    let entry = |v: &str| json!({"netloom-host:nameserver": [v]}).to_string();

    // PUT creates at the front, POST puts one before an existing entry, PUT moves an
    // existing entry after another (204: it existed), insert=last appends.
    let r = c.send(
        "PUT",
        &format!("{DNS}/nameserver=10.0.0.9?insert=first"),
        JSON,
        &entry("10.0.0.9"),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = c.send(
        "POST",
        &format!("{DNS}?insert=before&{}", point("10.0.0.1")),
        JSON,
        &entry("10.0.0.5"),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        leaf_list(&c, "nameserver"),
        json!(["10.0.0.9", "10.0.0.5", "10.0.0.1"])
    );
    let r = c.send(
        "PUT",
        &format!(
            "{DNS}/nameserver=10.0.0.9?insert=after&{}",
            point("10.0.0.1")
        ),
        JSON,
        &entry("10.0.0.9"),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let r = c.send(
        "POST",
        &format!("{DNS}?insert=last"),
        JSON,
        &json!({"netloom-host:search": ["z.example"]}).to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        leaf_list(&c, "nameserver"),
        json!(["10.0.0.5", "10.0.0.1", "10.0.0.9"])
    );
    assert_eq!(leaf_list(&c, "search"), json!(["x.example", "z.example"]));

    // Refusals, each leaving the data as it was.
    let cases = [
        // insert on a system-ordered list
        (
            "POST",
            format!("{NETS}?insert=first"),
            network("n").to_string(),
            400,
            "invalid-value",
        ),
        // before without a point, a point without insert
        (
            "POST",
            format!("{DNS}?insert=before"),
            entry("10.0.0.6"),
            400,
            "invalid-value",
        ),
        (
            "POST",
            format!("{DNS}?{}", point("10.0.0.1")),
            entry("10.0.0.6"),
            400,
            "invalid-value",
        ),
        // a point that is not an entry
        (
            "POST",
            format!("{DNS}?insert=after&{}", point("10.9.9.9")),
            entry("10.0.0.6"),
            400,
            "invalid-value",
        ),
        // POST creates: the entry exists
        (
            "POST",
            format!("{DNS}?insert=first"),
            entry("10.0.0.1"),
            409,
            "data-exists",
        ),
        // insert is for POST and PUT only
        (
            "PATCH",
            format!("{DNS}/nameserver=10.0.0.1?insert=first"),
            entry("10.0.0.1"),
            400,
            "invalid-value",
        ),
    ];
    for (method, url, body, status, tag) in cases {
        let r = c.send(method, &url, JSON, &body);
        assert_eq!(r.status, status, "{method} {url}: {}", r.body);
        assert_eq!(r.error_tag(), tag, "{method} {url}");
    }
    assert_eq!(
        leaf_list(&c, "nameserver"),
        json!(["10.0.0.5", "10.0.0.1", "10.0.0.9"])
    );
    assert_eq!(c.get(&format!("{NETS}/network=n")).status, 404);
}

#[test]
fn xml_error_paths_declare_their_prefixes() {
    let d = Daemon::start(&["--restconf-plaintext"]);
    let c = Client::admin(&d);
    let accept_xml = format!("Accept: {XML}");

    // A missing resource: the same path in both encodings.
    let r = c.get(&format!("{NETS}/network=zz"));
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["ietf-restconf:errors"]["error"][0]["error-path"],
        "/netloom-host:networks/network[name='zz']"
    );
    let r = c.req("GET", &format!("{NETS}/network=zz"), &["-H", &accept_xml]);
    assert_eq!(r.status, 404);
    assert!(
        r.body.contains(&format!(
            "<error-path xmlns:nl=\"{NL}\">/nl:networks/nl:network[nl:name='zz']</error-path>"
        )),
        "{}",
        r.body
    );

    // A validation failure libyang reports (a macvlan network needs an uplink), sent and
    // answered in XML.
    let body = format!("<network xmlns=\"{NL}\"><name>m</name><type>macvlan</type></network>");
    let r = c.req(
        "POST",
        NETS,
        &[
            "-H",
            &format!("Content-Type: {XML}"),
            "-H",
            &accept_xml,
            "--data-binary",
            &body,
        ],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains(&format!(
            "<error-path xmlns:nl=\"{NL}\">/nl:networks/nl:network[nl:name='m']"
        )),
        "{}",
        r.body
    );
}
