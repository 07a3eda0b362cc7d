//! The harness itself: the daemon starts on free ports, restarts on the same data dir, stops.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use netloom_tests::Daemon;

#[test]
fn starts_restarts_and_stops() {
    let mut d = Daemon::start(&[]);
    assert!(d.pid().is_some());
    let first = d.pid();
    d.restart();
    assert_ne!(d.pid(), first);
    assert!(
        d.log()
            .iter()
            .filter(|l| l.contains("netloomd ready"))
            .count()
            >= 2
    );
    let status = d.stop().unwrap();
    assert!(status.success(), "{status:?}");
}
