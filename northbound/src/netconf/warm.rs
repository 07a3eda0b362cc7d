//! Renders the XML of changed list entries as soon as a datastore changes, so the first read
//! after a commit (or an edit of the candidate) copies renderings instead of making them.
//! Only what changed is rendered: the maps of two published snapshots share every subtree a
//! change did not touch, and the diff skips those.

use std::sync::Arc;

use netloom_store::DatastoreId;
use netloom_yang::{Schema, UnitMap, XmlCache};
use tokio::sync::watch;

use crate::api::Snapshots;

/// Keep `cache` warm with every snapshot `snapshots` publishes, until its sender goes.
/// Rendering runs on a blocking thread, one published state at a time: states published
/// meanwhile are taken together by the next diff, against the last state rendered, so none
/// is missed and a burst of commits costs one pass.
pub async fn keep_warm(
    mut snapshots: watch::Receiver<Arc<Snapshots>>,
    schema: Arc<Schema>,
    cache: Arc<XmlCache>,
) {
    let mut rendered: Option<Arc<Snapshots>> = None;
    loop {
        let now = snapshots.borrow_and_update().clone();
        let before = rendered.replace(now.clone());
        let (schema, cache) = (schema.clone(), cache.clone());
        let warmed = tokio::task::spawn_blocking(move || {
            let empty = UnitMap::new();
            [
                DatastoreId::Running,
                DatastoreId::Candidate,
                DatastoreId::Startup,
            ]
            .into_iter()
            .map(|ds| {
                let old = before.as_ref().map_or(&empty, |b| &b.get(ds).units);
                cache.warm(&schema, old, &now.get(ds).units)
            })
            .sum::<usize>()
        })
        .await;
        match warmed {
            Ok(n) if n > 0 => tracing::debug!(rendered = n, "XML of changed entries rendered"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "rendering changed entries failed"),
        }
        if snapshots.changed().await.is_err() {
            return;
        }
    }
}
