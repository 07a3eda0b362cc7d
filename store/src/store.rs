//! The store: the SQLite connection, the in-memory snapshots of each datastore, and every
//! write as one transaction. Only the engine (the single writer) holds a `Store`; readers get
//! `Arc<Snapshot>`s from it.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use netloom_yang::{Schema, UnitKey, UnitMap};
use rusqlite::{params, Connection, OptionalExtension};

use crate::attachment::Attachment;
use crate::checkpoint::Checkpointer;
use crate::commit_log::{self, CommitMeta, CommitRecord, ConfirmState, UnitChange};
use crate::confirmed::PendingConfirm;
use crate::datastore::{DatastoreId, Snapshot};
use crate::db;
use crate::durable::{Durable, WalSyncer};
use crate::error::{Error, SqlContext};
use crate::ipam::Allocation;
use crate::journal::{self, Op};
use crate::locks::Locks;
use crate::materialize::{self, Unmaterialized};

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The candidate's difference from running: unit path to its candidate text (`None`:
/// deleted in the candidate).
type Overlay = imbl::OrdMap<UnitKey, Option<Arc<str>>>;

/// A unit and its text at some moment (`None`: absent).
pub type UnitValue = (UnitKey, Option<Arc<str>>);

pub struct Store {
    conn: Connection,
    path: String,
    schema: Arc<Schema>,
    running: Arc<Snapshot>,
    overlay: Overlay,
    /// What the candidate's journal holds: rows, and their total size in bytes.
    journal_rows: u64,
    journal_bytes: u64,
    /// The size of one journal row holding the whole overlay.
    overlay_bytes: u64,
    candidate: Arc<Snapshot>,
    startup: Arc<Snapshot>,
    last_commit: u64,
    /// Commits whose running rows are still to be written (see `materialize`).
    unmaterialized: Unmaterialized,
    version: u64,
    fresh: bool,
    /// Inside a group commit ([`Store::begin_group`]): batches are savepoints.
    grouped: bool,
    pub locks: Locks,
    checkpointer: Checkpointer,
    /// Makes group commits durable off the writer's thread.
    syncer: WalSyncer,
}

impl Drop for Store {
    fn drop(&mut self) {
        // best effort: what is not written now is replayed from the log on the next open
        if let Err(e) = self.materialize() {
            tracing::warn!(error = %e, "writing running's rows at close failed");
        }
        // the hook holds a sender: without it the checkpoint thread sees the store close
        let _ = self.conn.commit_hook(None::<fn() -> bool>);
        self.checkpointer.stop();
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("running_units", &self.running.units.len())
            .field("last_commit", &self.last_commit)
            .finish()
    }
}

/// Commits with at least this many changes encode their log entry on a second thread.
const PARALLEL_ENCODE: usize = 4096;

/// Commits with at least this many changes (and at most [`DEFER_MAX_ROWS`]) store only their
/// log row; their running rows are written when the writer is idle ([`Store::materialize`]).
pub const DEFER_ROWS: usize = 1024;

/// Larger commits (a bulk load) write their rows themselves: left for later, their rows
/// and the fsync that flushes them would slow the requests of the next ~100 ms instead.
const DEFER_MAX_ROWS: usize = 16384;

/// At most this many commits wait for their rows: a commit finding more writes them first.
const MAX_UNMATERIALIZED: usize = 64;

/// The candidate's journal is compacted into one row when a write would take it past this
/// many rows (or past twice the size of the overlay it stands for), so many small edits
/// cannot grow it, or the replay on open, without bound.
const JOURNAL_ROWS: u64 = 64;

impl Store {
    /// Open the database at `path`, creating it when absent.
    pub fn open(path: &Path, schema: Arc<Schema>) -> Result<Self, Error> {
        let mut conn = db::open(path)?;
        let checkpointer = Checkpointer::start(path, &mut conn)?;
        let shown = path.display().to_string();
        let syncer = WalSyncer::start(path.to_path_buf()).map_err(|e| Error::Refused {
            path: shown.clone(),
            reason: format!("no WAL syncer thread: {e}"),
        })?;
        let mut store = Store {
            conn,
            path: shown,
            schema,
            running: Arc::default(),
            overlay: Overlay::new(),
            journal_rows: 0,
            journal_bytes: 0,
            overlay_bytes: journal::EMPTY_ROW,
            candidate: Arc::default(),
            startup: Arc::default(),
            last_commit: 0,
            unmaterialized: Unmaterialized::default(),
            version: 0,
            fresh: true,
            grouped: false,
            locks: Locks::default(),
            checkpointer,
            syncer,
        };
        store.load()?;
        Ok(store)
    }

    fn load(&mut self) -> Result<(), Error> {
        let p = self.path.clone();
        let mut running = UnitMap::new();
        let mut startup = UnitMap::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT ds, path, json FROM unit")
                .db(&p)?;
            let mut rows = stmt.query([]).db(&p)?;
            while let Some(row) = rows.next().db(&p)? {
                let ds: i64 = row.get(0).db(&p)?;
                let path: String = row.get(1).db(&p)?;
                let json: String = row.get(2).db(&p)?;
                let key = self.schema.unit_of_path(&path).ok_or_else(|| {
                    Error::Corrupt(format!("stored unit {path} is not in the schema"))
                })?;
                let target = if ds == DatastoreId::Startup.code() {
                    &mut startup
                } else {
                    &mut running
                };
                target.insert(key, Arc::from(json));
            }
        }
        self.load_candidate()?;
        self.last_commit = self
            .meta("last-commit")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let upto = self
            .meta(materialize::KEY)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(self.last_commit);
        self.unmaterialized = Unmaterialized::new(upto);
        if upto < self.last_commit {
            self.replay(&mut running, upto)?;
        }
        self.fresh = self.meta("running-set")?.is_none();
        let now = now_ms();
        self.running = Arc::new(Snapshot {
            units: running,
            commit_id: self.last_commit,
            version: 1,
            modified_ms: now,
        });
        self.startup = Arc::new(Snapshot {
            units: startup,
            commit_id: 0,
            version: 1,
            modified_ms: now,
        });
        self.version = 1;
        self.rebuild_candidate();
        Ok(())
    }

    /// Rebuild the candidate's overlay by replaying its journal in order: each entry does
    /// what the edit that wrote it did in memory.
    fn load_candidate(&mut self) -> Result<(), Error> {
        let p = &self.path;
        let mut overlay = Overlay::new();
        let (mut rows_read, mut bytes) = (0, 0);
        let mut stmt = self
            .conn
            .prepare("SELECT seq, changes FROM candidate_edit ORDER BY seq")
            .db(p)?;
        let mut rows = stmt.query([]).db(p)?;
        while let Some(row) = rows.next().db(p)? {
            let seq: i64 = row.get(0).db(p)?;
            let blob = row
                .get_ref(1)
                .db(p)?
                .as_blob()
                .map_err(|e| journal::corrupt(p, seq, &e.to_string()))?;
            journal::read_row(blob, |path, op| {
                // a unit the schema no longer has is left out, as running's loader cannot
                let Some(key) = self.schema.unit_of_path(path) else {
                    return;
                };
                match op {
                    Op::Set(text) => overlay.insert(key, Some(Arc::from(text))),
                    Op::Absent => overlay.insert(key, None),
                    Op::Reset => overlay.remove(&key),
                };
            })
            .map_err(|e| journal::corrupt(p, seq, &e))?;
            rows_read += 1;
            bytes += blob.len() as u64;
        }
        drop(rows);
        drop(stmt);
        self.overlay_bytes = journal::EMPTY_ROW
            + overlay
                .iter()
                .map(|(k, v)| journal::entry_size(&k.path, v))
                .sum::<u64>();
        self.overlay = overlay;
        self.journal_rows = rows_read;
        self.journal_bytes = bytes;
        Ok(())
    }

    /// Bring `running` (the rows, which reflect commit `upto`) to the last commit by
    /// replaying the logged diffs after `upto`; they stay to be materialized.
    fn replay(&mut self, running: &mut UnitMap, upto: u64) -> Result<(), Error> {
        let p = self.path.clone();
        let mut expect = upto + 1;
        let mut stmt = self
            .conn
            .prepare("SELECT id, diff FROM commit_log WHERE id > ?1 ORDER BY id")
            .db(&p)?;
        let mut rows = stmt.query([upto as i64]).db(&p)?;
        while let Some(row) = rows.next().db(&p)? {
            let id = row.get::<_, i64>(0).db(&p)? as u64;
            if id != expect {
                break;
            }
            let diff: String = row.get(1).db(&p)?;
            let changes = commit_log::decode(&diff)?;
            for c in &changes {
                let key = self.schema.unit_of_path(&c.path).ok_or_else(|| {
                    Error::Corrupt(format!(
                        "{p}: commit {id} changes {} (not in the schema)",
                        c.path
                    ))
                })?;
                match &c.new {
                    Some(t) => running.insert(key, t.clone()),
                    None => running.remove(&key),
                };
            }
            self.unmaterialized
                .defer(id, materialize::entries(&changes));
            expect += 1;
        }
        if expect != self.last_commit + 1 {
            return Err(Error::Corrupt(format!(
                "{p}: commit {expect} is missing from the log; running's rows reflect commit {upto}, the last commit is {}",
                self.last_commit
            )));
        }
        tracing::debug!(
            from = upto,
            to = self.last_commit,
            "running replayed from the commit log"
        );
        Ok(())
    }

    /// Write every running row the commits that stored only their log row left.
    pub fn materialize(&mut self) -> Result<(), Error> {
        self.materialize_some(usize::MAX)
    }

    /// Write up to `max_rows` of the running rows the commits that stored only their log
    /// row left (the engine calls this when idle, a slice at a time, so a request arriving
    /// meanwhile waits for one slice at most). Its transaction does not wait for the disk:
    /// the commits are durable already, and a crash that loses these rows leaves the log to
    /// replay.
    pub fn materialize_some(&mut self, max_rows: usize) -> Result<(), Error> {
        if self.grouped || self.unmaterialized.is_empty() {
            return Ok(());
        }
        let p = self.path.clone();
        let started = std::time::Instant::now();
        let progress = unsynced(&mut self.conn, &p, |conn| {
            write_unmaterialized(conn, &self.unmaterialized, max_rows, &p)
        })?;
        self.unmaterialized.done(progress);
        // the syncer thread flushes these rows now, so the next commit's own fsync does not
        // find them all still to be written
        drop(self.syncer.issue());
        tracing::debug!(upto = self.unmaterialized.upto(), waiting = self.unmaterialized.len(), took = ?started.elapsed(), "running rows materialized");
        Ok(())
    }

    /// Whether some commits' running rows are still to be written.
    pub fn has_unmaterialized(&self) -> bool {
        !self.unmaterialized.is_empty()
    }

    fn meta(&self, key: &str) -> Result<Option<String>, Error> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .db(&self.path)
    }

    /// True until running has been written once: the daemon then seeds it from startup.
    pub fn is_fresh(&self) -> bool {
        self.fresh
    }

    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    pub fn snapshot(&self, ds: DatastoreId) -> Arc<Snapshot> {
        match ds {
            DatastoreId::Running => self.running.clone(),
            DatastoreId::Candidate => self.candidate.clone(),
            DatastoreId::Startup => self.startup.clone(),
        }
    }

    pub fn last_commit(&self) -> u64 {
        self.last_commit
    }

    fn next_version(&mut self) -> u64 {
        self.version += 1;
        self.version
    }

    fn rebuild_candidate(&mut self) {
        let units = self.overlaid_running();
        self.set_candidate(units);
    }

    /// Running with the candidate's overlay laid on it.
    fn overlaid_running(&self) -> UnitMap {
        let mut units = self.running.units.clone();
        for (k, v) in self.overlay.iter() {
            match v {
                Some(t) => {
                    units.insert(k.clone(), t.clone());
                }
                None => {
                    units.remove(k);
                }
            }
        }
        units
    }

    fn set_candidate(&mut self, units: UnitMap) {
        let version = self.next_version();
        self.candidate = Arc::new(Snapshot {
            units,
            commit_id: self.running.commit_id,
            version,
            modified_ms: now_ms(),
        });
    }

    /// Whether the candidate differs from running.
    pub fn candidate_modified(&self) -> bool {
        !self.overlay.is_empty()
    }

    /// Make running `units` (which differ from the current running by `changes`), record the
    /// commit, and — when `clear_candidate` — reset the candidate to the new running; all in
    /// one transaction. Writes O(changes), not O(config).
    pub fn commit(
        &mut self,
        units: UnitMap,
        changes: Vec<UnitChange>,
        meta: &CommitMeta,
        confirm: ConfirmState,
        clear_candidate: bool,
    ) -> Result<CommitRecord, Error> {
        self.commit_when(units, changes, meta, confirm, clear_candidate, || true)
    }

    /// [`Store::commit`], made only if `go` says so once every row is written (and before
    /// the transaction commits): a caller runs this on a thread of its own while it applies
    /// the same change to the dataplane, and answers `go` with the outcome. When `go` says
    /// no, nothing is stored and nothing changes ([`Error::Abandoned`]).
    pub fn commit_when(
        &mut self,
        units: UnitMap,
        changes: Vec<UnitChange>,
        meta: &CommitMeta,
        confirm: ConfirmState,
        clear_candidate: bool,
        go: impl FnOnce() -> bool,
    ) -> Result<CommitRecord, Error> {
        if self.unmaterialized.len() >= MAX_UNMATERIALIZED {
            self.materialize()?;
        }
        let p = self.path.clone();
        let id = self.last_commit + 1;
        let time_ms = now_ms();
        let (started, rows) = (std::time::Instant::now(), changes.len());
        // a large commit (or one after a deferred one: rows must be written in commit order)
        // leaves its running rows to `materialize`
        let defer = (DEFER_ROWS..=DEFER_MAX_ROWS).contains(&changes.len())
            || !self.unmaterialized.is_empty();
        let mut deferred = None;
        let tx = self.conn.transaction().db(&p)?;
        {
            // A large commit's log entry is encoded while its rows are written.
            let store_rows = || -> Result<Option<_>, Error> {
                if defer {
                    // the key may be absent (it then means "the last commit")
                    materialize::record(&tx, self.unmaterialized.upto(), &p)?;
                    return Ok(Some(materialize::entries(&changes)));
                }
                let rows = changes.iter().map(|c| (&*c.path, c.new.as_deref()));
                materialize::write_rows(&tx, rows, &p)?;
                materialize::record(&tx, id, &p)?;
                Ok(None)
            };
            let diff = if changes.len() >= PARALLEL_ENCODE {
                std::thread::scope(|s| {
                    let encoding = s.spawn(|| commit_log::encode(&changes));
                    let stored = store_rows();
                    let diff = encoding
                        .join()
                        .unwrap_or_else(|_| commit_log::encode(&changes));
                    stored.map(|d| {
                        deferred = d;
                        diff
                    })
                })?
            } else {
                deferred = store_rows()?;
                commit_log::encode(&changes)
            };
            tx.prepare_cached(
                "INSERT INTO commit_log (id, time_ms, user, comment, changes, confirm, diff)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .db(&p)?
            .execute(params![
                id as i64,
                time_ms,
                meta.user,
                meta.comment,
                changes.len() as i64,
                confirm.as_str(),
                diff
            ])
            .db(&p)?;
            // never a commit whose running rows are still to be written
            let keep = i64::from(meta.history.max(1));
            let materialized = if defer {
                self.unmaterialized.upto()
            } else {
                id
            };
            tx.prepare_cached("DELETE FROM commit_log WHERE id <= ?1")
                .db(&p)?
                .execute([(id as i64 - keep).min(materialized as i64)])
                .db(&p)?;
            let mut set_meta = tx
                .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")
                .db(&p)?;
            set_meta
                .execute(params!["last-commit", id.to_string()])
                .db(&p)?;
            if self.fresh {
                set_meta.execute(params!["running-set", "1"]).db(&p)?;
            }
            if clear_candidate && self.journal_rows > 0 {
                tx.execute("DELETE FROM candidate_edit", []).db(&p)?;
            }
        }
        let written = started.elapsed();
        if !go() {
            // dropping the transaction rolls it back
            return Err(Error::Abandoned);
        }
        tx.commit().db(&p)?;
        tracing::debug!(rows, ?written, durable = ?started.elapsed(), deferred = defer, "commit stored");
        match deferred {
            Some(entries) => self.unmaterialized.defer(id, entries),
            None => self.unmaterialized.written(id),
        }
        self.last_commit = id;
        self.fresh = false;
        let version = self.next_version();
        self.running = Arc::new(Snapshot {
            units,
            commit_id: id,
            version,
            modified_ms: time_ms,
        });
        if clear_candidate {
            self.clear_overlay();
        }
        self.rebuild_candidate();
        Ok(CommitRecord {
            id,
            time_ms,
            user: meta.user.clone(),
            comment: meta.comment.clone(),
            changes,
            confirm,
        })
    }

    /// Record the candidate's new content for the units in `changed` (taken from `units`,
    /// the full new candidate: the current one changed at exactly `changed`, which it becomes).
    /// One journal row holds the whole edit. The write does not wait for the disk (see
    /// [`unsynced`]): the candidate is a working copy (RFC 6241 §8.3), so an edit is answered
    /// without a sync of its own, and its row is durable with the next commit or checkpoint.
    pub fn write_candidate(&mut self, units: &UnitMap, changed: &[UnitKey]) -> Result<(), Error> {
        let p = self.path.clone();
        let started = std::time::Instant::now();
        // the in-memory overlay changes only once the row is stored
        let mut overlay = self.overlay.clone();
        let mut overlay_bytes = self.overlay_bytes;
        let mut edit = journal::RowWriter::with_capacity(changed.len() * 160);
        for key in changed {
            let new = units.get(key);
            let old = if new == self.running.units.get(key) {
                edit.push(&key.path, Op::Reset);
                overlay.remove(key)
            } else {
                let value = new.cloned();
                edit.push(&key.path, Op::from_overlay(&value));
                overlay_bytes += journal::entry_size(&key.path, &value);
                overlay.insert(key.clone(), value)
            };
            if let Some(old) = old {
                overlay_bytes -= journal::entry_size(&key.path, &old);
            }
        }
        if !edit.is_empty() {
            let edit = edit.finish();
            let (rows, bytes) = unsynced(&mut self.conn, &p, |conn| {
                let tx = conn.transaction().db(&p)?;
                let kept = if self.journal_rows >= JOURNAL_ROWS
                    || self.journal_bytes + edit.len() as u64 > 2 * overlay_bytes
                {
                    // compaction: the journal becomes one row holding the whole overlay
                    tx.execute("DELETE FROM candidate_edit", []).db(&p)?;
                    if overlay.is_empty() {
                        (0, 0)
                    } else {
                        let mut whole = journal::RowWriter::with_capacity(overlay_bytes as usize);
                        for (k, v) in overlay.iter() {
                            whole.push(&k.path, Op::from_overlay(v));
                        }
                        let whole = whole.finish();
                        append(&tx, &whole).db(&p)?;
                        (1, whole.len() as u64)
                    }
                } else {
                    append(&tx, &edit).db(&p)?;
                    (
                        self.journal_rows + 1,
                        self.journal_bytes + edit.len() as u64,
                    )
                };
                tx.commit().db(&p)?;
                Ok(kept)
            })?;
            tracing::debug!(rows = changed.len(), took = ?started.elapsed(), journal_rows = rows, "candidate stored");
            self.journal_rows = rows;
            self.journal_bytes = bytes;
        }
        self.overlay = overlay;
        self.overlay_bytes = overlay_bytes;
        // `units` is the new candidate already (running with the overlay laid on it): taken
        // as it is, not built again entry by entry from the overlay.
        self.set_candidate(units.clone());
        debug_assert!(
            self.candidate.units == self.overlaid_running(),
            "write_candidate was handed a map that is not the candidate changed at `changed`"
        );
        Ok(())
    }

    /// Make the candidate equal to running again.
    pub fn discard_candidate(&mut self) -> Result<(), Error> {
        // like an edit, a discard need not wait for the disk
        let p = self.path.clone();
        unsynced(&mut self.conn, &p, |conn| {
            conn.execute("DELETE FROM candidate_edit", []).db(&p)
        })?;
        self.clear_overlay();
        self.rebuild_candidate();
        Ok(())
    }

    fn clear_overlay(&mut self) {
        self.overlay = Overlay::new();
        self.overlay_bytes = journal::EMPTY_ROW;
        self.journal_rows = 0;
        self.journal_bytes = 0;
    }

    /// Replace the startup datastore.
    pub fn write_startup(&mut self, units: UnitMap) -> Result<(), Error> {
        let p = self.path.clone();
        let tx = self.conn.transaction().db(&p)?;
        tx.execute("DELETE FROM unit WHERE ds = 2", []).db(&p)?;
        {
            let mut put = tx
                .prepare_cached("INSERT INTO unit (ds, path, json) VALUES (2, ?1, ?2)")
                .db(&p)?;
            for (k, v) in units.iter() {
                put.execute(params![&*k.path, &**v]).db(&p)?;
            }
        }
        tx.commit().db(&p)?;
        let version = self.next_version();
        self.startup = Arc::new(Snapshot {
            units,
            commit_id: 0,
            version,
            modified_ms: now_ms(),
        });
        Ok(())
    }

    /// For every unit changed after commit `id`, its text right after `id` (`None`: absent):
    /// the edit that takes running back to commit `id`.
    pub fn changes_since(&self, id: u64) -> Result<Vec<UnitValue>, Error> {
        let p = &self.path;
        if id > self.last_commit {
            return Err(Error::UnknownCommit(id));
        }
        if id > 0 || self.oldest_commit()? > 1 {
            let kept: Option<i64> = self
                .conn
                .query_row(
                    "SELECT id FROM commit_log WHERE id = ?1",
                    [id as i64],
                    |r| r.get(0),
                )
                .optional()
                .db(p)?;
            if kept.is_none() {
                return Err(Error::UnknownCommit(id));
            }
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT diff FROM commit_log WHERE id > ?1 ORDER BY id")
            .db(p)?;
        let mut rows = stmt.query([id as i64]).db(p)?;
        let mut seen = std::collections::BTreeMap::new();
        while let Some(row) = rows.next().db(p)? {
            let diff: String = row.get(0).db(p)?;
            for c in commit_log::decode(&diff)? {
                if let Some(key) = self.schema.unit_of_path(&c.path) {
                    seen.entry(key).or_insert(c.old);
                }
            }
        }
        Ok(seen.into_iter().collect())
    }

    fn oldest_commit(&self) -> Result<u64, Error> {
        let v: Option<i64> = self
            .conn
            .query_row("SELECT MIN(id) FROM commit_log", [], |r| r.get(0))
            .db(&self.path)?;
        Ok(v.unwrap_or(0) as u64)
    }

    /// Retained commits, newest first, at most `limit`, with or without their diffs.
    pub fn commits(&self, limit: usize, with_diff: bool) -> Result<Vec<CommitRecord>, Error> {
        let p = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, time_ms, user, comment, confirm, CASE WHEN ?2 THEN diff ELSE '[]' END
                 FROM commit_log ORDER BY id DESC LIMIT ?1",
            )
            .db(p)?;
        let mut rows = stmt.query(params![limit as i64, with_diff]).db(p)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().db(p)? {
            let confirm: String = r.get(4).db(p)?;
            let diff: String = r.get(5).db(p)?;
            out.push(CommitRecord {
                id: r.get::<_, i64>(0).db(p)? as u64,
                time_ms: r.get(1).db(p)?,
                user: r.get(2).db(p)?,
                comment: r.get(3).db(p)?,
                changes: commit_log::decode(&diff)?,
                confirm: ConfirmState::parse(&confirm),
            });
        }
        Ok(out)
    }

    /// How many commits the log holds.
    pub fn commit_count(&self) -> Result<u64, Error> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM commit_log", [], |r| r.get(0))
            .db(&self.path)?;
        Ok(n as u64)
    }

    pub fn set_confirm_state(&mut self, id: u64, state: ConfirmState) -> Result<(), Error> {
        self.conn
            .execute(
                "UPDATE commit_log SET confirm = ?2 WHERE id = ?1",
                params![id as i64, state.as_str()],
            )
            .db(&self.path)?;
        Ok(())
    }

    pub fn pending_confirm(&self) -> Result<Option<PendingConfirm>, Error> {
        self.conn
            .query_row(
                "SELECT commit_id, rollback_to, deadline_ms, persist_id, session FROM pending_confirm",
                [],
                |r| {
                    Ok(PendingConfirm {
                        commit_id: r.get::<_, i64>(0)? as u64,
                        rollback_to: r.get::<_, i64>(1)? as u64,
                        deadline_ms: r.get(2)?,
                        persist_id: r.get(3)?,
                        session: r.get::<_, i64>(4)? as u64,
                    })
                },
            )
            .optional()
            .db(&self.path)
    }

    pub fn set_pending_confirm(&mut self, pending: Option<&PendingConfirm>) -> Result<(), Error> {
        let p = self.path.clone();
        match pending {
            None => {
                self.conn
                    .execute("DELETE FROM pending_confirm", [])
                    .db(&p)?;
            }
            Some(c) => {
                self.conn
                    .execute(
                        "INSERT OR REPLACE INTO pending_confirm
                         (one, commit_id, rollback_to, deadline_ms, persist_id, session)
                         VALUES (1, ?1, ?2, ?3, ?4, ?5)",
                        params![
                            c.commit_id as i64,
                            c.rollback_to as i64,
                            c.deadline_ms,
                            c.persist_id,
                            c.session as i64
                        ],
                    )
                    .db(&p)?;
            }
        }
        Ok(())
    }

    /// Run `f` as one SQLite transaction (one fsync for many ledger or attachment writes);
    /// rolled back when `f` fails.
    pub fn batch<T, E: From<Error>>(
        &mut self,
        f: impl FnOnce(&mut Store) -> Result<T, E>,
    ) -> Result<T, E> {
        if self.grouped {
            // part of a group commit: all or nothing on its own, durable with the group
            self.conn
                .execute_batch("SAVEPOINT nl_batch")
                .db(&self.path)?;
            return match f(self) {
                Ok(v) => {
                    self.conn.execute_batch("RELEASE nl_batch").db(&self.path)?;
                    Ok(v)
                }
                Err(e) => {
                    let _ = self
                        .conn
                        .execute_batch("ROLLBACK TO nl_batch; RELEASE nl_batch");
                    Err(e)
                }
            };
        }
        self.conn.execute_batch("BEGIN IMMEDIATE").db(&self.path)?;
        match f(self) {
            Ok(v) => {
                self.conn.execute_batch("COMMIT").db(&self.path)?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Start a group commit: every write until [`Store::end_group`] is one SQLite
    /// transaction, so writes of many concurrent callers cost one fsync; [`Store::batch`]es
    /// inside become savepoints. Only for the non-config tables (ledger, attachments):
    /// config commits open their own transaction and must not run inside a group.
    pub fn begin_group(&mut self) -> Result<(), Error> {
        // the commit writes the WAL without an fsync: the syncer thread does it (see
        // `durable`), so the writer need not wait for the disk
        self.conn
            .execute_batch("PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE")
            .db(&self.path)?;
        self.grouped = true;
        Ok(())
    }

    /// Commit the group (on failure all its writes are rolled back). It is durable once
    /// the returned [`Durable`] says so.
    pub fn end_group(&mut self) -> Result<Durable, Error> {
        self.grouped = false;
        let done = self.conn.execute_batch("COMMIT").db(&self.path);
        if done.is_err() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        // every other transaction syncs as it commits
        let full = self
            .conn
            .execute_batch("PRAGMA synchronous = FULL")
            .db(&self.path);
        done.and(full)?;
        Ok(self.syncer.issue())
    }

    /// Record an allocation; false when the address is already someone's.
    pub fn allocate(&mut self, a: &Allocation) -> Result<bool, Error> {
        let n = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO ipam_ledger
                 (network, address, pool, owner, interface, allocated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .db(&self.path)?
            .execute(params![a.network, a.address, a.pool, a.owner, a.interface, a.allocated_ms])
            .db(&self.path)?;
        Ok(n == 1)
    }

    /// Release every address `owner` holds; returns how many.
    pub fn release(&mut self, owner: &str) -> Result<usize, Error> {
        self.conn
            .prepare_cached("DELETE FROM ipam_ledger WHERE owner = ?1")
            .db(&self.path)?
            .execute([owner])
            .db(&self.path)
    }

    /// Release the addresses `owner` holds for one interface; returns how many.
    pub fn release_interface(&mut self, owner: &str, interface: &str) -> Result<usize, Error> {
        self.conn
            .prepare_cached("DELETE FROM ipam_ledger WHERE owner = ?1 AND interface = ?2")
            .db(&self.path)?
            .execute([owner, interface])
            .db(&self.path)
    }

    /// Release one address of a network, whoever holds it.
    pub fn release_address(&mut self, network: &str, address: &str) -> Result<usize, Error> {
        self.conn
            .prepare_cached("DELETE FROM ipam_ledger WHERE network = ?1 AND address = ?2")
            .db(&self.path)?
            .execute([network, address])
            .db(&self.path)
    }

    /// Remove one attachment row.
    pub fn remove_attachment(
        &mut self,
        container_id: &str,
        interface: &str,
    ) -> Result<usize, Error> {
        self.conn
            .prepare_cached("DELETE FROM attachment WHERE container_id = ?1 AND interface = ?2")
            .db(&self.path)?
            .execute([container_id, interface])
            .db(&self.path)
    }

    pub fn allocations(&self, network: Option<&str>) -> Result<Vec<Allocation>, Error> {
        let p = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT network, pool, address, owner, interface, allocated_ms FROM ipam_ledger
                 WHERE ?1 IS NULL OR network = ?1 ORDER BY network, address",
            )
            .db(p)?;
        let rows = stmt
            .query_map([network], |r| {
                Ok(Allocation {
                    network: r.get(0)?,
                    pool: r.get(1)?,
                    address: r.get(2)?,
                    owner: r.get(3)?,
                    interface: r.get(4)?,
                    allocated_ms: r.get(5)?,
                })
            })
            .db(p)?;
        rows.collect::<Result<_, _>>().db(p)
    }

    pub fn put_attachment(&mut self, a: &Attachment) -> Result<(), Error> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO attachment
                 (container_id, interface, netns, pod_namespace, pod_name, network, result, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .db(&self.path)?
            .execute(params![
                a.container_id,
                a.interface,
                a.netns,
                a.pod_namespace,
                a.pod_name,
                a.network,
                a.result,
                a.created_ms
            ])
            .db(&self.path)?;
        Ok(())
    }

    pub fn remove_attachments(&mut self, container_id: &str) -> Result<usize, Error> {
        self.conn
            .prepare_cached("DELETE FROM attachment WHERE container_id = ?1")
            .db(&self.path)?
            .execute([container_id])
            .db(&self.path)
    }

    pub fn attachments(&self) -> Result<Vec<Attachment>, Error> {
        let p = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT container_id, interface, netns, pod_namespace, pod_name, network, result, created_ms
                 FROM attachment ORDER BY container_id, interface",
            )
            .db(p)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Attachment {
                    container_id: r.get(0)?,
                    interface: r.get(1)?,
                    netns: r.get(2)?,
                    pod_namespace: r.get(3)?,
                    pod_name: r.get(4)?,
                    network: r.get(5)?,
                    result: r.get(6)?,
                    created_ms: r.get(7)?,
                })
            })
            .db(p)?;
        rows.collect::<Result<_, _>>().db(p)
    }
}

/// Run `write` (its own transactions) without waiting for the disk. What it commits survives
/// a crash of the daemon at once (it is in the kernel's page cache, and SQLite replays the log
/// on open), and a crash of the host once the log is next synced: by the next commit (every
/// config commit syncs the whole log), by the syncer, or by the checkpoint thread, which syncs
/// the log before copying it, at most `checkpoint::INTERVAL` after any write. A host crash
/// before then loses these writes whole, never part of one: the log's frames are checksummed.
fn unsynced<T>(
    conn: &mut Connection,
    db: &str,
    write: impl FnOnce(&mut Connection) -> Result<T, Error>,
) -> Result<T, Error> {
    conn.execute_batch("PRAGMA synchronous = NORMAL").db(db)?;
    let out = write(conn);
    // every other transaction syncs as it commits
    let full = conn.execute_batch("PRAGMA synchronous = FULL").db(db);
    let out = out?;
    full?;
    Ok(out)
}

/// Append one row to the candidate's journal.
fn append(tx: &rusqlite::Transaction<'_>, row: &[u8]) -> rusqlite::Result<usize> {
    tx.prepare_cached("INSERT INTO candidate_edit (changes) VALUES (?1)")?
        .execute([row])
}

/// One transaction writing up to `max_rows` of the waiting commits' rows.
fn write_unmaterialized(
    conn: &mut Connection,
    waiting: &Unmaterialized,
    max_rows: usize,
    db: &str,
) -> Result<materialize::Progress, Error> {
    let tx = conn.transaction().db(db)?;
    let progress = waiting.write(&tx, max_rows, db)?;
    tx.commit().db(db)?;
    Ok(progress)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn synchronous(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn unsynced_writes_skip_the_sync_and_every_later_one_syncs_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("db")).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "FULL").unwrap();
        let n = unsynced(&mut conn, "db", |c| {
            // NORMAL: in WAL mode a commit no longer syncs the log
            assert_eq!(synchronous(c), 1);
            c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1)")
                .db("db")?;
            Ok(c.last_insert_rowid())
        })
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(synchronous(&conn), 2, "FULL again after a write");
        let refused = unsynced(&mut conn, "db", |c| {
            c.execute_batch("INSERT INTO missing VALUES (1)").db("db")
        });
        assert!(refused.is_err());
        assert_eq!(synchronous(&conn), 2, "FULL again after a failed write");
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
    }
}
