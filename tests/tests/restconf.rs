//! RESTCONF end to end: the real daemon on a loopback port, curl as the client. Every test
//! checks what the server answered (status, headers, body) and what the datastore then holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use netloom_tests::{free_port, netloomd_path, Daemon, ADMIN_PASSWORD};
use serde_json::{json, Value};

mod restconf_client;
use restconf_client::*;

#[test]
fn authentication_discovery_and_roles() {
    let d = Daemon::start(&["--restconf-plaintext"]);
    let c = Client::admin(&d);
    let url = c.url("/restconf/data");

    let none = curl(&[&url]);
    assert_eq!(none.status, 401);
    assert!(none
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(none.error_tag(), "access-denied");
    let wrong = curl(&["-u", "admin:nope", &url]);
    assert_eq!(wrong.status, 401);

    // Failures are throttled per peer: a second loopback address takes the blows.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = curl(&["--interface", "127.0.0.2", "-u", "admin:nope", &url]);
        statuses.push(r.status);
        if r.status == 429 {
            assert!(r.header("retry-after").is_some());
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // ... even with the right password, while blocked; the first address is unaffected.
    let blocked = curl(&["--interface", "127.0.0.2", "-u", &c.user, &url]);
    assert_eq!(blocked.status, 429);
    assert_eq!(c.get("/restconf/data").status, 200);

    let meta = curl(&[&c.url("/.well-known/host-meta")]);
    assert_eq!(meta.status, 200);
    assert!(meta.body.contains("href='/restconf'"), "{}", meta.body);
    let root = c.get("/restconf");
    assert_eq!(
        root.json()["ietf-restconf:restconf"]["yang-library-version"],
        "2019-01-04"
    );
    let v = c.get("/restconf/yang-library-version");
    assert_eq!(v.json()["ietf-restconf:yang-library-version"], "2019-01-04");
    let opts = c.req("OPTIONS", NETS, &[]);
    assert_eq!(opts.status, 204);
    assert!(opts.header("allow").unwrap().contains("PATCH"));
    assert!(opts
        .header("accept-patch")
        .unwrap()
        .contains("yang-patch+json"));
    let ops = c.req("OPTIONS", "/restconf/ds/ietf-datastores:operational", &[]);
    assert_eq!(ops.header("allow"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(
        c.req(
            "DELETE",
            "/restconf/ds/ietf-datastores:operational/netloom-host:networks",
            &[]
        )
        .status,
        405
    );

    // An operator reads but may not write.
    let hash = netloom_northbound::auth::hash_password("op-pass").unwrap();
    let user = json!({"netloom-host:user": [{"name": "op", "password": hash, "role": "operator"}]});
    let r = c.send(
        "POST",
        "/restconf/data/netloom-host:system",
        JSON,
        &user.to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let op = Client {
        base: c.base.clone(),
        user: "op:op-pass".into(),
    };
    assert_eq!(op.get("/restconf/data/netloom-host:system").status, 200);
    // Password hashes (nacm:default-deny-all) reach admins only, in both encodings, from
    // the whole tree, the list, the entry and the datastores of RFC 8527.
    for path in [
        "/restconf/data",
        "/restconf/data/netloom-host:system",
        "/restconf/data/netloom-host:system/user=op",
        "/restconf/ds/ietf-datastores:running/netloom-host:system",
        "/restconf/ds/ietf-datastores:operational/netloom-host:system",
    ] {
        for accept in [JSON, "application/yang-data+xml"] {
            let header = format!("Accept: {accept}");
            let mine = op.req("GET", path, &["-H", &header]);
            let theirs = c.req("GET", path, &["-H", &header]);
            assert_eq!(mine.status, 200, "{path} {accept}: {}", mine.body);
            assert!(
                mine.body.contains("operator"),
                "{path} {accept}: {}",
                mine.body
            );
            assert!(
                !mine.body.contains("argon2"),
                "{path} {accept}: {}",
                mine.body
            );
            assert!(
                !mine.body.contains("password"),
                "{path} {accept}: {}",
                mine.body
            );
            assert!(
                theirs.body.contains("$argon2"),
                "{path} {accept}: {}",
                theirs.body
            );
        }
    }
    assert_eq!(
        op.get("/restconf/data/netloom-host:system/user=op/password")
            .status,
        404
    );
    let denied = op.send("POST", NETS, JSON, &network("x").to_string());
    assert_eq!(denied.status, 403);
    assert_eq!(denied.error_tag(), "access-denied");
    assert_eq!(
        op.req("POST", "/restconf/operations/netloom-host:commit", &[])
            .status,
        403
    );
    assert_eq!(c.get(&format!("{NETS}/network=x")).status, 404);
}

#[test]
fn data_methods_in_both_encodings() {
    let d = Daemon::start(&["--restconf-plaintext"]);
    let c = Client::admin(&d);
    // POST creates a child: 201 with its location; again: 409 data-exists.
    let r = c.send("POST", NETS, JSON, &network("a").to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.header("location"),
        Some("/restconf/data/netloom-host:networks/network=a")
    );
    let again = c.send("POST", NETS, JSON, &network("a").to_string());
    assert_eq!(again.status, 409);
    assert_eq!(again.error_tag(), "data-exists");

    // PUT in XML creates (201) then replaces (204); GET in both encodings.
    let xml = r#"<network xmlns="urn:netloom:yang:netloom-host"><name>b</name><type>bridge</type><mtu>9000</mtu></network>"#;
    assert_eq!(
        c.send("PUT", &format!("{NETS}/network=b"), XML, xml).status,
        201
    );
    assert_eq!(
        c.send("PUT", &format!("{NETS}/network=b"), XML, xml).status,
        204
    );
    let j = c.get(&format!("{NETS}/network=b"));
    assert_eq!(j.header("content-type"), Some(JSON));
    assert_eq!(
        j.json(),
        json!({"netloom-host:network": [{"name": "b", "type": "bridge", "mtu": 9000}]})
    );
    let x = c.req(
        "GET",
        &format!("{NETS}/network=b/mtu"),
        &["-H", "Accept: application/yang-data+xml"],
    );
    assert_eq!(x.header("content-type"), Some(XML));
    assert_eq!(
        x.body,
        r#"<mtu xmlns="urn:netloom:yang:netloom-host">9000</mtu>"#
    );
    let all = c.req("GET", NETS, &["-H", "Accept: application/yang-data+xml"]);
    assert!(
        all.body.starts_with(
            r#"<networks xmlns="urn:netloom:yang:netloom-host"><network><name>a</name>"#
        ),
        "{}",
        all.body
    );

    // PATCH merges; on a missing resource it is 404.
    let patch = json!({"netloom-host:network": [{"name": "a", "mtu": 1400}]});
    assert_eq!(
        c.send(
            "PATCH",
            &format!("{NETS}/network=a"),
            JSON,
            &patch.to_string()
        )
        .status,
        204
    );
    assert_eq!(
        c.get(&format!("{NETS}/network=a/mtu")).json(),
        json!({"netloom-host:mtu": 1400})
    );
    let missing = c.send(
        "PATCH",
        &format!("{NETS}/network=zz"),
        JSON,
        &network("zz").to_string(),
    );
    assert_eq!(missing.status, 404);

    // HEAD: headers only.
    let head = c.req("HEAD", NETS, &["-I"]);
    assert_eq!(head.status, 200);
    assert!(head.header("etag").is_some());
    assert!(head.body.is_empty());

    // Query parameters.
    let depth = c.get("/restconf/data/netloom-host:networks?depth=1");
    assert_eq!(depth.json(), json!({"netloom-host:networks": {}}));
    let fields = c.get("/restconf/data/netloom-host:networks?fields=network(mtu)");
    assert_eq!(
        fields.json(),
        json!({"netloom-host:networks": {"network": [{"name": "a", "mtu": 1400}, {"name": "b", "mtu": 9000}]}})
    );
    let cfg = c.get("/restconf/data?content=config");
    assert!(cfg.json()["ietf-restconf:data"]
        .get("netloom-host:state")
        .is_none());
    assert!(cfg.json()["ietf-restconf:data"]
        .get("netloom-host:networks")
        .is_some());
    let nonconfig = c.get("/restconf/data?content=nonconfig");
    assert!(nonconfig.json()["ietf-restconf:data"]
        .get("netloom-host:networks")
        .is_none());
    assert!(nonconfig.json()["ietf-restconf:data"]
        .get("netloom-host:state")
        .is_some());
    let wd = c.get("/restconf/data/netloom-host:system?with-defaults=report-all");
    assert_eq!(wd.json()["netloom-host:system"]["commit-history"], 1000);
    let explicit = c.get("/restconf/data/netloom-host:system");
    assert!(explicit.json()["netloom-host:system"]
        .get("commit-history")
        .is_none());
    let trim_in = json!({"netloom-host:commit-history": 1000});
    assert_eq!(
        c.send(
            "PUT",
            "/restconf/data/netloom-host:system/commit-history",
            JSON,
            &trim_in.to_string()
        )
        .status,
        201
    );
    let trimmed = c.get("/restconf/data/netloom-host:system?with-defaults=trim");
    assert!(trimmed.json()["netloom-host:system"]
        .get("commit-history")
        .is_none());
    assert_eq!(c.get("/restconf/data?depth=0").status, 400);
    assert_eq!(c.get("/restconf/data?bogus=1").status, 400);

    // Negotiation.
    assert_eq!(
        c.req("GET", NETS, &["-H", "Accept: text/plain"]).status,
        406
    );
    assert_eq!(c.send("POST", NETS, "text/plain", "x").status, 415);

    // DELETE: 204, then 404 data-missing.
    assert_eq!(
        c.req("DELETE", &format!("{NETS}/network=b"), &[]).status,
        204
    );
    let gone = c.req("DELETE", &format!("{NETS}/network=b"), &[]);
    assert_eq!(gone.status, 404);
    assert_eq!(gone.error_tag(), "data-missing");
    assert_eq!(c.get(&format!("{NETS}/network=b")).status, 404);

    // Ordered-by-user leaf-list: insert/point.
    let dns = format!("{NETS}/network=a/ipam/dns");
    for (ns, q) in [("10.0.0.2", ""), ("10.0.0.1", "?insert=first"), ("10.0.0.3", "?insert=after&point=%2Fnetloom-host%3Anetworks%2Fnetwork%3Da%2Fipam%2Fdns%2Fnameserver%3D10.0.0.1")] {
        let body = json!({"netloom-host:nameserver": [ns]});
        let r = c.send("POST", &format!("{dns}{q}"), JSON, &body.to_string());
        assert_eq!(r.status, 201, "{ns}: {}", r.body);
    }
    let order = c.get(&format!("{dns}/nameserver"));
    assert_eq!(
        order.json(),
        json!({"netloom-host:nameserver": ["10.0.0.1", "10.0.0.3", "10.0.0.2"]})
    );
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let d = Daemon::start(&["--restconf-plaintext", "--restconf-max-body", "1048576"]);
    let c = Client::admin(&d);
    assert_eq!(
        c.send("POST", NETS, JSON, &network("keep").to_string())
            .status,
        201
    );
    let before = c.get("/restconf/data?content=config");
    let etag = before.header("etag").unwrap().to_owned();

    let cases: Vec<(&str, String, &str, String, u16, &str)> = vec![
        (
            "POST",
            NETS.into(),
            JSON,
            "{\"netloom-host:network\": [".into(),
            400,
            "malformed-message",
        ),
        (
            "POST",
            NETS.into(),
            XML,
            "<network xmlns=\"urn:netloom:yang:netloom-host\"><name>x</name>".into(),
            400,
            "malformed-message",
        ),
        (
            "PUT",
            format!("{NETS}/network=keep"),
            JSON,
            json!({"netloom-host:network": [{"name": "keep", "type": "bridge", "mtu": "big"}]})
                .to_string(),
            400,
            "invalid-value",
        ),
        (
            "POST",
            NETS.into(),
            JSON,
            json!({"netloom-host:network": [{"name": "u", "type": "bridge", "colour": "red"}]})
                .to_string(),
            400,
            "unknown-element",
        ),
        (
            "PUT",
            format!("{NETS}/network=keep"),
            JSON,
            network("other").to_string(),
            400,
            "invalid-value",
        ),
        (
            "POST",
            NETS.into(),
            JSON,
            json!({"netloom-host:bogus": {}}).to_string(),
            400,
            "unknown-element",
        ),
        (
            "GET",
            "/restconf/data/netloom-host:nope".into(),
            JSON,
            String::new(),
            400,
            "unknown-element",
        ),
        // A macvlan network needs an uplink: validation fails the commit.
        (
            "POST",
            NETS.into(),
            JSON,
            json!({"netloom-host:network": [{"name": "m", "type": "macvlan"}]}).to_string(),
            400,
            "invalid-value",
        ),
    ];
    for (method, path, ctype, body, status, tag) in &cases {
        let r = if method == &"GET" {
            c.get(path)
        } else {
            c.send(method, path, ctype, body)
        };
        assert_eq!(r.status, *status, "{method} {path} {body}: {}", r.body);
        assert_eq!(r.error_tag(), *tag, "{method} {path} {body}: {}", r.body);
    }
    // 50 levels of nesting.
    let bomb = format!(
        "{}{}",
        "{\"netloom-host:networks\":".to_owned() + &"{\"a\":".repeat(50),
        "1".to_owned() + &"}".repeat(51)
    );
    assert_eq!(c.send("PUT", NETS, JSON, &bomb).status, 400);
    let xml_bomb = format!(
        "<networks xmlns=\"urn:netloom:yang:netloom-host\">{}{}</networks>",
        "<a>".repeat(50),
        "</a>".repeat(50)
    );
    assert_eq!(c.send("PUT", NETS, XML, &xml_bomb).status, 400);
    // Invalid UTF-8.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        b"{\"netloom-host:network\":[{\"name\":\"\xff\xfe\",\"type\":\"bridge\"}]}",
    )
    .unwrap();
    let at = format!("@{}", file.path().display());
    let r = c.req(
        "POST",
        NETS,
        &[
            "-H",
            "Content-Type: application/yang-data+json",
            "--data-binary",
            &at,
        ],
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.error_tag(), "malformed-message");
    // A 1 GB body, streamed without a length: cut off at the limit with 413. The server
    // answers before the upload ends and closes; the client may then see the reset before the
    // answer (curl's 000, or 100 when it saw only the interim answer), so some of up to 20
    // tries must show the 413 and none may succeed.
    let mut codes = Vec::new();
    for _ in 0..20 {
        let big = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "head -c 1073741824 /dev/zero | curl -s -o /dev/null -w '%{{http_code}}' -u {} -X PUT -H 'Expect:' -H 'Content-Type: application/yang-data+json' -T - {}",
                c.user,
                c.url(NETS)
            ))
            .output()
            .unwrap();
        let code = String::from_utf8_lossy(&big.stdout).into_owned();
        assert!(["413", "000", "100"].contains(&code.as_str()), "{code}");
        codes.push(code);
        if codes.last().map(String::as_str) == Some("413") {
            break;
        }
    }
    assert_eq!(codes.last().map(String::as_str), Some("413"), "{codes:?}");
    // ... and with a declared length, refused before reading.
    let declared = c.req(
        "PUT",
        NETS,
        &[
            "-H",
            "Content-Type: application/yang-data+json",
            "-H",
            "Content-Length: 1073741824",
            "--data-binary",
            "{}",
        ],
    );
    assert_eq!(declared.status, 413);
    // Module download: exact names only.
    for bad in [
        "..%2F..%2Fetc%2Fpasswd",
        "../../etc/passwd.yang",
        "%2Fetc%2Fpasswd.yang",
        "netloom-host@..%2F.yang",
    ] {
        let r = c.get(&format!("/restconf/yang/{bad}"));
        assert_eq!(r.status, 404, "{bad}");
        assert!(!r.body.contains("root:"), "{bad}");
    }
    let good = c.get("/restconf/yang/netloom-host.yang");
    assert_eq!(good.status, 200);
    assert!(good.body.starts_with("module netloom-host"));
    let lib = c
        .get("/restconf/data/ietf-yang-library:yang-library")
        .json();
    let set = &lib["ietf-yang-library:yang-library"]["module-set"][0];
    let modules = set["module"]
        .as_array()
        .unwrap()
        .iter()
        .chain(set["import-only-module"].as_array().unwrap());
    let mut names = Vec::new();
    for m in modules {
        let loc = m["location"][0].as_str().unwrap();
        let r = curl(&["-u", &c.user, loc]);
        assert_eq!(r.status, 200, "{loc}");
        assert!(
            r.body
                .starts_with(&format!("module {}", m["name"].as_str().unwrap())),
            "{loc}"
        );
        names.push(m["name"].as_str().unwrap().to_owned());
    }
    assert!(names.iter().any(|n| n == "netloom-host"), "{names:?}");

    let after = c.get("/restconf/data?content=config");
    assert_eq!(
        after.header("etag").unwrap(),
        etag,
        "a refused write changed the datastore"
    );
    assert_eq!(after.json(), before.json());
    assert!(d.log().iter().all(|l| !l.contains("panicked")));
}

#[test]
fn entity_tags_stop_lost_updates() {
    let d = Daemon::start(&["--restconf-plaintext"]);
    let c = Client::admin(&d);
    assert_eq!(
        c.send("POST", NETS, JSON, &network("e").to_string()).status,
        201
    );
    let path = format!("{NETS}/network=e");
    let seen = c.get(&path);
    let etag = seen.header("etag").unwrap().to_owned();
    let modified = seen.header("last-modified").unwrap().to_owned();
    let inm = format!("If-None-Match: {etag}");
    assert_eq!(c.req("GET", &path, &["-H", &inm]).status, 304);
    let ims = format!("If-Modified-Since: {modified}");
    assert_eq!(c.req("GET", &path, &["-H", &ims]).status, 304);

    // Two clients read the same tag; the first write wins, the second gets 412.
    let if_match = format!("If-Match: {etag}");
    let body = |mtu: u32| {
        json!({"netloom-host:network": [{"name": "e", "type": "bridge", "mtu": mtu}]}).to_string()
    };
    let first = c.req(
        "PUT",
        &path,
        &[
            "-H",
            &if_match,
            "-H",
            "Content-Type: application/yang-data+json",
            "--data-binary",
            &body(1500),
        ],
    );
    assert_eq!(first.status, 204, "{}", first.body);
    assert_ne!(first.header("etag").unwrap(), etag);
    let second = c.req(
        "PUT",
        &path,
        &[
            "-H",
            &if_match,
            "-H",
            "Content-Type: application/yang-data+json",
            "--data-binary",
            &body(9000),
        ],
    );
    assert_eq!(second.status, 412);
    assert_eq!(
        c.get(&format!("{path}/mtu")).json(),
        json!({"netloom-host:mtu": 1500})
    );
    let ius = "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT";
    assert_eq!(c.req("DELETE", &path, &["-H", ius]).status, 412);
    assert_eq!(
        c.send("POST", NETS, JSON, &network("e").to_string()).status,
        409
    );
    assert_eq!(
        c.req(
            "PUT",
            &path,
            &[
                "-H",
                "If-None-Match: *",
                "-H",
                "Content-Type: application/yang-data+json",
                "--data-binary",
                &body(1)
            ]
        )
        .status,
        412
    );

    // Many clients racing with one tag: exactly one write lands.
    let tag = c.get(&path).header("etag").unwrap().to_owned();
    let handles: Vec<_> = (0..8u32)
        .map(|i| {
            let (url, user, tag, b) = (c.url(&path), c.user.clone(), tag.clone(), body(2000 + i));
            std::thread::spawn(move || {
                curl(&[
                    "-u",
                    &user,
                    "-X",
                    "PATCH",
                    &url,
                    "-H",
                    &format!("If-Match: {tag}"),
                    "-H",
                    "Content-Type: application/yang-data+json",
                    "--data-binary",
                    &b,
                ])
                .status
            })
        })
        .collect();
    let mut statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    statuses.sort();
    assert_eq!(statuses, vec![204, 412, 412, 412, 412, 412, 412, 412]);
}

#[test]
fn candidate_operations_and_datastores() {
    let d = Daemon::start(&["--restconf-plaintext"]);
    let c = Client::admin(&d);
    let cand = "/restconf/ds/ietf-datastores:candidate/netloom-host:networks";
    let r = c.send("POST", cand, JSON, &network("c1").to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.header("location"),
        Some("/restconf/ds/ietf-datastores:candidate/netloom-host:networks/network=c1")
    );
    assert_eq!(
        c.get(&format!("{NETS}/network=c1")).status,
        404,
        "candidate edits wait for commit"
    );
    assert_eq!(c.get(&format!("{cand}/network=c1")).status, 200);

    let list = c.get("/restconf/operations").json();
    assert!(list["ietf-restconf:operations"]
        .get("netloom-host:commit")
        .is_some());
    let commit = c.send(
        "POST",
        "/restconf/operations/netloom-host:commit",
        JSON,
        &json!({"netloom-host:input": {"comment": "via restconf"}}).to_string(),
    );
    assert_eq!(commit.status, 200, "{}", commit.body);
    let first_id: u64 = commit.json()["netloom-host:output"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(c.get(&format!("{NETS}/network=c1")).status, 200);
    for ds in ["running", "intended", "operational"] {
        let r = c.get(&format!(
            "/restconf/ds/ietf-datastores:{ds}/netloom-host:networks/network=c1"
        ));
        assert_eq!(r.status, 200, "{ds}");
    }
    let op = c.get("/restconf/ds/ietf-datastores:operational");
    assert!(op.json()["ietf-restconf:data"]
        .get("netloom-host:state")
        .is_some());
    assert!(op.header("etag").is_none());

    // Running directly, then roll back to the first commit.
    assert_eq!(
        c.send("POST", NETS, JSON, &network("r1").to_string())
            .status,
        201
    );
    let xml_input =
        format!("<input xmlns=\"urn:netloom:yang:netloom-host\"><id>{first_id}</id></input>");
    let rb = c.req(
        "POST",
        "/restconf/operations/netloom-host:rollback",
        &[
            "-H",
            "Content-Type: application/yang-data+xml",
            "-H",
            "Accept: application/yang-data+xml",
            "--data-binary",
            &xml_input,
        ],
    );
    assert_eq!(rb.status, 200, "{}", rb.body);
    assert!(rb.body.contains("<id>"), "{}", rb.body);
    assert_eq!(c.get(&format!("{NETS}/network=r1")).status, 404);
    let unknown = c.send(
        "POST",
        "/restconf/operations/netloom-host:rollback",
        JSON,
        &json!({"netloom-host:input": {"id": "999999"}}).to_string(),
    );
    assert_eq!(unknown.status, 400);

    // Confirmed commits need persist over RESTCONF; cancel-commit undoes one.
    assert_eq!(
        c.send("POST", cand, JSON, &network("c2").to_string())
            .status,
        201
    );
    let no_persist = c.send(
        "POST",
        "/restconf/operations/netloom-host:commit",
        JSON,
        &json!({"netloom-host:input": {"confirmed": [null]}}).to_string(),
    );
    assert_eq!(no_persist.status, 400);
    let confirmed = c.send("POST", "/restconf/operations/netloom-host:commit", JSON, &json!({"netloom-host:input": {"confirmed": [null], "confirm-timeout": 60, "persist": "p1"}}).to_string());
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert_eq!(c.get(&format!("{NETS}/network=c2")).status, 200);
    let cancel = c.send(
        "POST",
        "/restconf/operations/netloom-host:cancel-commit",
        JSON,
        &json!({"netloom-host:input": {"persist-id": "p1"}}).to_string(),
    );
    assert_eq!(cancel.status, 204, "{}", cancel.body);
    assert_eq!(c.get(&format!("{NETS}/network=c2")).status, 404);
    assert_eq!(
        c.req("POST", "/restconf/operations/netloom-host:reboot", &[])
            .status,
        404
    );

    // Startup is its own datastore.
    let su = c.send(
        "PUT",
        "/restconf/ds/ietf-datastores:startup/netloom-host:networks/network=s",
        JSON,
        &network("s").to_string(),
    );
    assert_eq!(su.status, 201, "{}", su.body);
    assert_eq!(
        c.get("/restconf/ds/ietf-datastores:startup/netloom-host:networks/network=s")
            .status,
        200
    );
    assert_eq!(c.get(&format!("{NETS}/network=s")).status, 404);
}

#[test]
fn yang_patch_is_all_or_nothing_with_per_edit_errors() {
    let d = Daemon::start(&["--restconf-plaintext"]);
    let c = Client::admin(&d);
    let ok = json!({"ietf-yang-patch:yang-patch": {"patch-id": "p1", "edit": [
        {"edit-id": "1", "operation": "create", "target": "/network=p", "value": network("p")},
        {"edit-id": "2", "operation": "merge", "target": "/network=p/mtu", "value": {"netloom-host:mtu": 1450}},
    ]}});
    let r = c.send(
        "PATCH",
        NETS,
        "application/yang-patch+json",
        &ok.to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["ietf-yang-patch:yang-patch-status"]["ok"],
        json!([null])
    );
    assert_eq!(
        c.get(&format!("{NETS}/network=p/mtu")).json(),
        json!({"netloom-host:mtu": 1450})
    );

    let bad = json!({"ietf-yang-patch:yang-patch": {"patch-id": "p2", "edit": [
        {"edit-id": "new", "operation": "create", "target": "/network=q", "value": network("q")},
        {"edit-id": "dup", "operation": "create", "target": "/network=p", "value": network("p")},
    ]}});
    let r = c.send(
        "PATCH",
        NETS,
        "application/yang-patch+json",
        &bad.to_string(),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    let st = &r.json()["ietf-yang-patch:yang-patch-status"]["edit-status"]["edit"][0];
    assert_eq!(st["edit-id"], "dup");
    assert_eq!(st["errors"]["error"][0]["error-tag"], "data-exists");
    assert_eq!(
        c.get(&format!("{NETS}/network=q")).status,
        404,
        "nothing of a failed patch lands"
    );

    let invalid = json!({"ietf-yang-patch:yang-patch": {"patch-id": "p3", "edit": [
        {"edit-id": "mv", "operation": "create", "target": "/network=mv", "value": {"netloom-host:network": [{"name": "mv", "type": "macvlan"}]}},
    ]}});
    let r = c.send(
        "PATCH",
        NETS,
        "application/yang-patch+json",
        &invalid.to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(c.get(&format!("{NETS}/network=mv")).status, 404);
}

#[test]
fn event_stream_delivers_changes_and_replays() {
    let d = Daemon::start(&["--restconf-plaintext"]);
    let c = Client::admin(&d);
    assert_eq!(
        c.send("POST", NETS, JSON, &network("before").to_string())
            .status,
        201
    );
    let mon = c
        .get("/restconf/data/ietf-restconf-monitoring:restconf-state/streams")
        .json();
    let loc = mon["ietf-restconf-monitoring:streams"]["stream"][0]["access"][0]["location"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(loc.ends_with("/restconf/streams/NETCONF/json"), "{loc}");

    let mut child = Command::new("curl")
        .args([
            "-s",
            "-N",
            "--max-time",
            "30",
            "-u",
            &c.user,
            &format!("{loc}?start-time=2000-01-01T00:00:00Z"),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut next_data = |want: &str| -> Value {
        while Instant::now() < deadline {
            let line = lines.next().expect("stream open").unwrap();
            if let Some(data) = line.strip_prefix("data: ") {
                if data.contains(want) {
                    return serde_json::from_str(data).unwrap();
                }
            }
        }
        panic!("no notification with {want}");
    };
    // The replay holds the earlier commit, then says it is complete.
    let replayed = next_data("network[name='before']");
    assert_eq!(
        replayed["ietf-restconf:notification"]["ietf-netconf-notifications:netconf-config-change"]
            ["edit"][0]["operation"],
        "create"
    );
    next_data("replayComplete");
    // A change by another client arrives live.
    assert_eq!(
        c.send("POST", NETS, JSON, &network("live").to_string())
            .status,
        201
    );
    let live = next_data("network[name='live']");
    let change =
        &live["ietf-restconf:notification"]["ietf-netconf-notifications:netconf-config-change"];
    assert_eq!(change["changed-by"]["username"], "admin");
    assert_eq!(change["datastore"], "running");
    let _ = child.kill();
    let _ = child.wait();

    // With a stop-time in the past the stream ends by itself.
    let ended = c.get("/restconf/streams/NETCONF/json?start-time=2000-01-01T00:00:00Z&stop-time=2000-01-02T00:00:00Z");
    assert_eq!(ended.header("content-type"), Some("text/event-stream"));
    assert!(
        ended.body.contains("notificationComplete"),
        "{}",
        ended.body
    );
}

#[test]
fn https_with_the_daemon_certificate() {
    let d = Daemon::start(&[]);
    let url = format!("https://{}/restconf/data/netloom-host:system", d.restconf);
    let user = format!("admin:{ADMIN_PASSWORD}");
    let r = curl(&["-k", "-u", &user, &url]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["netloom-host:system"]["user"].is_array());
    // Pinned to the generated certificate, verification passes too.
    let cert = std::fs::read_dir(&d.data_dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "pem") && p.to_string_lossy().contains("cert")
        });
    if let Some(cert) = cert {
        let pinned = curl(&[
            "--cacert",
            cert.to_str().unwrap(),
            "--resolve",
            &format!("localhost:{}:127.0.0.1", d.restconf.port()),
            "-u",
            &user,
            &format!("https://localhost:{}/restconf", d.restconf.port()),
        ]);
        assert_eq!(pinned.status, 200, "{}", pinned.body);
    }
    // Plain HTTP on the TLS port is not served.
    let plain = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
            &format!("http://{}/restconf", d.restconf),
        ])
        .output()
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "200");
}

#[test]
fn plaintext_refuses_non_loopback_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(netloomd_path())
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "--restconf",
            &format!("0.0.0.0:{}", free_port()),
            "--restconf-plaintext",
        ])
        .args([
            "--netconf",
            &format!("127.0.0.1:{}", free_port()),
            "--gnmi",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .arg("--cni-socket")
        .arg(dir.path().join("cni.sock"))
        .env("NETLOOM_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("loopback"), "{err}");
}
