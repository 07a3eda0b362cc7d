//! Running's unit rows, brought up to date off a large commit's critical path.
//!
//! A commit is durable once its commit_log row (which carries every changed unit's new
//! text) is; writing the same texts again as `unit` rows only makes the next open cheaper.
//! So a large commit stores just its log row, and its unit rows are written later, when the
//! writer is idle, a slice of rows per transaction ([`crate::Store::materialize_some`]),
//! recording in `meta` the last commit whose rows are all written (`materialized-commit`).
//! Opening loads the rows and replays the logged diffs after that commit; the log is never
//! pruned past it.

use std::collections::VecDeque;
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
    commits: VecDeque<(u64, Vec<Entry>)>,
    /// How many entries of the oldest commit are written already.
    started: usize,
    /// The commit the rows reflect.
    upto: u64,
}

/// What one transaction of [`Unmaterialized::write`] stored.
#[derive(Debug)]
pub(crate) struct Progress {
    /// Commits whose rows are now all written.
    finished: usize,
    /// Entries of the next commit written.
    started: usize,
    upto: u64,
}

impl Unmaterialized {
    pub(crate) fn new(upto: u64) -> Self {
        Unmaterialized {
            upto,
            ..Unmaterialized::default()
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
        self.commits.push_back((id, entries));
    }

    /// Write up to `max_rows` waiting rows, oldest commit first, in `tx`, and record the
    /// last commit whose rows are then all written. A commit may be written over several
    /// transactions: `materialized-commit` moves only once it is complete, and until then
    /// its written rows hold its own new texts, which replaying it from the log sets again
    /// (every unit ends at the text of the last commit that changed it, whichever of these
    /// commits' texts its row held). The caller commits `tx`, then calls [`Self::done`].
    pub(crate) fn write(
        &self,
        tx: &Transaction<'_>,
        max_rows: usize,
        db: &str,
    ) -> Result<Progress, Error> {
        let mut progress = Progress {
            finished: 0,
            started: self.started,
            upto: self.upto,
        };
        let mut budget = max_rows;
        for (id, entries) in &self.commits {
            let end = entries.len().min(progress.started.saturating_add(budget));
            let rows = entries[progress.started..end]
                .iter()
                .map(|(path, text)| (&**path, text.as_deref()));
            write_rows(tx, rows, db)?;
            budget -= end - progress.started;
            if end < entries.len() {
                progress.started = end;
                break;
            }
            progress.finished += 1;
            progress.started = 0;
            progress.upto = *id;
            if budget == 0 {
                break;
            }
        }
        if progress.upto != self.upto {
            record(tx, progress.upto, db)?;
        }
        Ok(progress)
    }

    /// `progress`'s transaction is committed.
    pub(crate) fn done(&mut self, progress: Progress) {
        self.commits.drain(..progress.finished);
        self.started = progress.started;
        self.upto = progress.upto;
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
