//! Opening the database file: refuse (and leave untouched) anything that is not a netloom
//! database, create the tables in a new one, bring a database of an older layout up to this
//! one, and set WAL with full fsync so a commit that returned is on disk.

use std::io::Read;
use std::path::Path;

use rusqlite::Connection;

use crate::error::{Error, SqlContext};
use crate::journal;

/// "NLOM": marks the file as netloom's (SQLite header offset 68).
pub(crate) const APPLICATION_ID: u32 = 0x4E4C_4F4D;
/// The table layout version (SQLite header offset 60). 2: the candidate is an edit journal
/// (`candidate_edit`) instead of one row per unit (`candidate`).
pub(crate) const LAYOUT_VERSION: u32 = 2;

const TABLES: &str = "
CREATE TABLE unit (
    ds INTEGER NOT NULL,
    path TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (ds, path)
) WITHOUT ROWID;
CREATE TABLE candidate_edit (
    seq INTEGER PRIMARY KEY,
    changes BLOB NOT NULL
);
CREATE TABLE commit_log (
    id INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    user TEXT NOT NULL,
    comment TEXT,
    changes INTEGER NOT NULL,
    confirm TEXT NOT NULL,
    diff TEXT NOT NULL
);
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE pending_confirm (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    commit_id INTEGER NOT NULL,
    rollback_to INTEGER NOT NULL,
    deadline_ms INTEGER NOT NULL,
    persist_id TEXT,
    session INTEGER NOT NULL
);
CREATE TABLE ipam_ledger (
    network TEXT NOT NULL,
    address TEXT NOT NULL,
    pool TEXT NOT NULL,
    owner TEXT NOT NULL,
    interface TEXT NOT NULL,
    allocated_ms INTEGER NOT NULL,
    PRIMARY KEY (network, address)
) WITHOUT ROWID;
CREATE INDEX ipam_owner ON ipam_ledger (owner);
CREATE TABLE attachment (
    container_id TEXT NOT NULL,
    interface TEXT NOT NULL,
    netns TEXT NOT NULL,
    pod_namespace TEXT NOT NULL,
    pod_name TEXT NOT NULL,
    network TEXT NOT NULL,
    result TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (container_id, interface)
) WITHOUT ROWID;
";

fn refuse(path: &str, reason: impl Into<String>) -> Error {
    Error::Refused {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Read the SQLite header without opening the file as a database, so a foreign or damaged
/// file is refused before anything could write to it. Returns false for a new (absent or
/// empty) file, else the file's layout version.
fn inspect(path: &Path, shown: &str) -> Result<Option<u32>, Error> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(refuse(shown, format!("cannot read: {e}"))),
    };
    let mut header = [0u8; 100];
    let mut n = 0;
    while n < header.len() {
        match file.read(&mut header[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(refuse(shown, format!("cannot read: {e}"))),
        }
    }
    if n == 0 {
        return Ok(None);
    }
    if n < header.len() || &header[..16] != b"SQLite format 3\0" {
        return Err(refuse(
            shown,
            "not an SQLite database; refusing to touch it",
        ));
    }
    let be =
        |o: usize| u32::from_be_bytes([header[o], header[o + 1], header[o + 2], header[o + 3]]);
    let (app, layout) = (be(68), be(60));
    if app != APPLICATION_ID {
        return Err(refuse(
            shown,
            format!(
                "an SQLite database of another application (id {app:#x}); refusing to touch it"
            ),
        ));
    }
    if layout == 0 || layout > LAYOUT_VERSION {
        return Err(refuse(
            shown,
            format!("netloom database layout {layout}, this netloomd knows up to {LAYOUT_VERSION}"),
        ));
    }
    Ok(Some(layout))
}

/// Make a new database at `path`: built complete under a temporary name (rollback
/// journal, so the header with netloom's id is in the main file from the start) and renamed
/// into place, so a crash never leaves a half-made file that would look foreign.
fn create(path: &Path, shown: &str) -> Result<(), Error> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = std::path::PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    {
        let conn = Connection::open(&tmp).db(shown)?;
        conn.pragma_update(None, "journal_mode", "DELETE")
            .db(shown)?;
        conn.pragma_update(None, "application_id", APPLICATION_ID as i32)
            .db(shown)?;
        conn.pragma_update(None, "user_version", LAYOUT_VERSION as i32)
            .db(shown)?;
        let tx = conn.unchecked_transaction().db(shown)?;
        tx.execute_batch(TABLES).db(shown)?;
        tx.commit().db(shown)?;
        conn.pragma_update(None, "journal_mode", "WAL").db(shown)?;
    }
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| refuse(shown, format!("creating: {e}")))?;
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// The size (bytes) the write-ahead log file is cut back to when it starts over.
const LOG_SIZE_LIMIT: i64 = 16 << 20;

/// Open (or create) the database at `path`.
pub(crate) fn open(path: &Path) -> Result<Connection, Error> {
    let shown = path.display().to_string();
    let layout = inspect(path, &shown)?;
    if layout.is_none() {
        create(path, &shown)?;
    }
    let mut conn = Connection::open(path).db(&shown)?;
    if layout.is_some() {
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| refuse(&shown, format!("damaged: {e}")))?;
        if check != "ok" {
            return Err(refuse(&shown, format!("damaged: {check}")));
        }
    }
    conn.pragma_update(None, "journal_mode", "WAL").db(&shown)?;
    conn.pragma_update(None, "synchronous", "FULL").db(&shown)?;
    conn.pragma_update(None, "cache_size", -65536).db(&shown)?;
    // After a burst (a 100k-entry commit, or a stream of writes the checkpoints never got
    // ahead of) the log file keeps its size; the first commit after the log starts over cuts
    // it back to this.
    conn.pragma_update(None, "journal_size_limit", LOG_SIZE_LIMIT)
        .db(&shown)?;
    if let Some(from) = layout.filter(|&l| l < LAYOUT_VERSION) {
        migrate(&mut conn, from, &shown)?;
    }
    Ok(conn)
}

/// Bring a database of layout `from` up to [`LAYOUT_VERSION`], in one transaction (a crash
/// leaves it at `from`, to be migrated again on the next open).
fn migrate(conn: &mut Connection, from: u32, shown: &str) -> Result<(), Error> {
    let tx = conn.transaction().db(shown)?;
    if from < 2 {
        candidate_rows_to_journal(&tx, shown)?;
    }
    tx.pragma_update(None, "user_version", LAYOUT_VERSION as i32)
        .db(shown)?;
    tx.commit().db(shown)?;
    tracing::info!(
        database = shown,
        from,
        to = LAYOUT_VERSION,
        "database layout migrated"
    );
    Ok(())
}

/// Layout 1 -> 2: the candidate's per-unit rows (the overlay) become one journal row.
fn candidate_rows_to_journal(tx: &rusqlite::Transaction<'_>, shown: &str) -> Result<(), Error> {
    let mut row = journal::RowWriter::with_capacity(0);
    {
        let mut stmt = tx
            .prepare("SELECT path, json FROM candidate ORDER BY path")
            .db(shown)?;
        let mut rows = stmt.query([]).db(shown)?;
        while let Some(r) = rows.next().db(shown)? {
            let path: String = r.get(0).db(shown)?;
            let json: Option<String> = r.get(1).db(shown)?;
            row.push(
                &path,
                match &json {
                    Some(t) => journal::Op::Set(t),
                    None => journal::Op::Absent,
                },
            );
        }
    }
    tx.execute_batch(
        "CREATE TABLE candidate_edit (seq INTEGER PRIMARY KEY, changes BLOB NOT NULL);
         DROP TABLE candidate;",
    )
    .db(shown)?;
    if !row.is_empty() {
        tx.execute(
            "INSERT INTO candidate_edit (seq, changes) VALUES (1, ?1)",
            [row.finish()],
        )
        .db(shown)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_file_is_cut_back_once_it_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.db");
        let conn = open(&path).unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        let wal = dir.path().join("n.db-wal");
        let size = || std::fs::metadata(&wal).unwrap().len() as i64;
        conn.execute_batch("CREATE TABLE blob (b)").unwrap();
        let tx = conn.unchecked_transaction().unwrap();
        for _ in 0..48 {
            tx.execute("INSERT INTO blob VALUES (zeroblob(512 * 1024))", [])
                .unwrap();
        }
        tx.commit().unwrap();
        let burst = size();
        assert!(burst > LOG_SIZE_LIMIT, "{burst}");
        let (busy, log, copied): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!((busy, log), (0, copied));
        // a size the file keeps until the log starts over
        assert_eq!(size(), burst);
        conn.execute("DELETE FROM blob", []).unwrap();
        let after = size();
        assert!(after <= LOG_SIZE_LIMIT, "{burst} -> {after}");
    }

    #[test]
    fn refuses_foreign_and_garbage_files_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x5au8; 4096]).unwrap();
        let e = open(&garbage).unwrap_err();
        assert!(e.to_string().contains("not an SQLite database"), "{e}");
        assert_eq!(std::fs::read(&garbage).unwrap(), vec![0x5au8; 4096]);

        let foreign = dir.path().join("foreign.db");
        {
            let c = Connection::open(&foreign).unwrap();
            c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
                .unwrap();
        }
        let before = std::fs::read(&foreign).unwrap();
        let e = open(&foreign).unwrap_err();
        assert!(e.to_string().contains("another application"), "{e}");
        assert_eq!(std::fs::read(&foreign).unwrap(), before);
        assert!(!dir.path().join("foreign.db-wal").exists());

        let ours = dir.path().join("ours.db");
        drop(open(&ours).unwrap());
        drop(open(&ours).unwrap());
    }
}
