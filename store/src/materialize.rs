//! Running's unit rows, brought up to date off a large commit's critical path.
//!
//! A commit is durable once its commit_log row (which carries every changed unit's new
//! text) is; writing the same texts again as `unit` rows only makes the next open cheaper.
//! So a large commit stores just its log row, and its unit rows are written later, when the
//! writer is idle ([`crate::Store::materialize`]), in one transaction that also records
//! `materialized-commit` in `meta`: the rows always reflect exactly that commit. Opening
//! loads the rows and replays the logged diffs after it; the log is never pruned past it.

use std::sync::Arc;

use rusqlite::{params, Transaction};

use crate::commit_log::UnitChange;
use crate::error::{Error, SqlContext};

/// The `meta` key naming the commit the running rows reflect (absent: the last commit, as
/// every commit before this key existed wrote its rows).
pub(crate) const KEY: &str = "materialized-commit";

/// A unit's path and its new text (`None`: deleted).
type Entry = (Arc<str>, Option<Arc<str>>);

/// Commits whose running rows are not written yet.
#[derive(Debug, Default)]
pub(crate) struct Unmaterialized {
    /// Oldest first.
    commits: Vec<(u64, Vec<Entry>)>,
    /// The commit the rows reflect.
    upto: u64,
}

impl Unmaterialized {
    pub(crate) fn new(upto: u64) -> Self {
        Unmaterialized {
            commits: Vec::new(),
            upto,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.commits.is_empty()
    }

    /// How many commits wait.
    pub(crate) fn len(&self) -> usize {
        self.commits.len()
    }

    /// The commit the rows reflect: the log must keep every commit after it.
    pub(crate) fn upto(&self) -> u64 {
        self.upto
    }

    /// Commit `id` wrote its own rows (nothing was waiting before it).
    pub(crate) fn written(&mut self, id: u64) {
        debug_assert!(self.commits.is_empty());
        self.upto = id;
    }

    /// Commit `id` is stored without its rows.
    pub(crate) fn defer(&mut self, id: u64, entries: Vec<Entry>) {
        self.commits.push((id, entries));
    }

    /// Write every waiting commit's rows and record the last one, in `tx`. The caller
    /// commits `tx` and then calls [`Unmaterialized::done`].
    pub(crate) fn write(&self, tx: &Transaction<'_>, db: &str) -> Result<Option<u64>, Error> {
        let Some(&(last, _)) = self.commits.last() else {
            return Ok(None);
        };
        // a unit changed by several waiting commits is written once, with its last text
        let mut latest = std::collections::HashMap::new();
        for (_, entries) in &self.commits {
            for (path, text) in entries {
                latest.insert(&**path, text.as_deref());
            }
        }
        write_rows(tx, latest.into_iter(), db)?;
        record(tx, last, db)?;
        Ok(Some(last))
    }

    /// The rows of every commit up to `id` are stored.
    pub(crate) fn done(&mut self, id: u64) {
        self.commits.retain(|(c, _)| *c > id);
        self.upto = id;
    }
}

/// Each change's path and new text, as a deferred commit keeps them.
pub(crate) fn entries(changes: &[UnitChange]) -> Vec<Entry> {
    changes
        .iter()
        .map(|c| (c.path.clone(), c.new.clone()))
        .collect()
}

/// Write running rows: a text is upserted, `None` deletes the row.
pub(crate) fn write_rows<'a>(
    tx: &Transaction<'_>,
    rows: impl Iterator<Item = (&'a str, Option<&'a str>)>,
    db: &str,
) -> Result<(), Error> {
    let mut upsert = tx
        .prepare_cached("INSERT OR REPLACE INTO unit (ds, path, json) VALUES (0, ?1, ?2)")
        .db(db)?;
    let mut delete = tx
        .prepare_cached("DELETE FROM unit WHERE ds = 0 AND path = ?1")
        .db(db)?;
    for (path, text) in rows {
        match text {
            Some(text) => upsert.execute(params![path, text]).db(db)?,
            None => delete.execute(params![path]).db(db)?,
        };
    }
    Ok(())
}

/// Record that the rows reflect commit `id`.
pub(crate) fn record(tx: &Transaction<'_>, id: u64, db: &str) -> Result<(), Error> {
    tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")
        .db(db)?
        .execute(params![KEY, id.to_string()])
        .db(db)?;
    Ok(())
}
