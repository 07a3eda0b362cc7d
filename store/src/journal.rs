//! The candidate's edit journal: each candidate edit is stored as ONE row holding every unit
//! it touched, instead of one row per unit, so a 10k-entry edit writes one blob rather than
//! 10k B-tree rows. Opening replays the rows in order to rebuild the overlay.
//!
//! A row is a compact length-prefixed layout (no general-purpose serializer: it is written
//! on the edit's critical path and read only here):
//!
//! ```text
//! version:u8 (=1)  count:u32le  count x { path_len:u32le path  tag:u8  [text_len:u32le text] }
//! ```
//!
//! tag 0: the unit is absent in the candidate; 1: the candidate's text follows; 2: the
//! candidate is back to running for this unit (drop it from the overlay). A reset is recorded
//! as such rather than as the text, because running may change under the candidate (a commit
//! that keeps it) and the replay must do exactly what the edit did in memory.

use std::sync::Arc;

use crate::error::Error;

const FORMAT: u8 = 1;
const HEADER: usize = 5;

const ABSENT: u8 = 0;
const TEXT: u8 = 1;
const RESET: u8 = 2;

/// What one journal entry does to a unit of the overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op<'a> {
    /// The candidate holds this text.
    Set(&'a str),
    /// The candidate deleted the unit.
    Absent,
    /// The candidate equals running again: no overlay entry.
    Reset,
}

impl<'a> Op<'a> {
    /// The overlay value an entry stands for (`None` for [`Op::Reset`]).
    pub(crate) fn from_overlay(v: &'a Option<Arc<str>>) -> Self {
        match v {
            Some(t) => Op::Set(t),
            None => Op::Absent,
        }
    }
}

/// The size an overlay entry takes in a row: what compaction compares the journal against.
pub(crate) fn entry_size(path: &str, value: &Option<Arc<str>>) -> u64 {
    (4 + path.len() + 1 + value.as_ref().map_or(0, |t| 4 + t.len())) as u64
}

/// The size of a row holding no entries.
pub(crate) const EMPTY_ROW: u64 = HEADER as u64;

/// Builds one journal row.
pub(crate) struct RowWriter {
    buf: Vec<u8>,
    count: u32,
}

impl RowWriter {
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes.max(HEADER));
        buf.push(FORMAT);
        buf.extend_from_slice(&[0; 4]);
        RowWriter { buf, count: 0 }
    }

    pub(crate) fn push(&mut self, path: &str, op: Op<'_>) {
        put_str(&mut self.buf, path);
        match op {
            Op::Set(text) => {
                self.buf.push(TEXT);
                put_str(&mut self.buf, text);
            }
            Op::Absent => self.buf.push(ABSENT),
            Op::Reset => self.buf.push(RESET),
        }
        self.count += 1;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf[1..HEADER].copy_from_slice(&self.count.to_le_bytes());
        self.buf
    }
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    // a unit's text is far below 4 GiB: the config it belongs to is held in memory
    buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

/// Hand every entry of `row` to `each`, in order. Corrupt input (bad version, truncation,
/// bad tag, invalid UTF-8, trailing bytes) is an error, never a panic; entries before the
/// damage may already have been handed over.
pub(crate) fn read_row(row: &[u8], mut each: impl FnMut(&str, Op<'_>)) -> Result<(), String> {
    let mut r = Reader { row, at: 0 };
    let format = r.byte()?;
    if format != FORMAT {
        return Err(format!("unknown format {format}"));
    }
    let count = r.u32()?;
    for i in 0..count {
        let path = r.str().map_err(|e| format!("entry {i}: {e}"))?;
        let op = match r.byte()? {
            TEXT => Op::Set(r.str().map_err(|e| format!("entry {i}: {e}"))?),
            ABSENT => Op::Absent,
            RESET => Op::Reset,
            tag => return Err(format!("entry {i}: unknown tag {tag}")),
        };
        each(path, op);
    }
    if r.at != row.len() {
        return Err(format!("{} bytes after the last entry", row.len() - r.at));
    }
    Ok(())
}

struct Reader<'a> {
    row: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.row.len())
            .ok_or_else(|| format!("truncated at byte {}", self.at))?;
        let bytes = &self.row[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn str(&mut self) -> Result<&'a str, String> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).map_err(|e| format!("not UTF-8: {e}"))
    }
}

/// Turn a database's corrupt row into the store's error, naming the database and the row.
pub(crate) fn corrupt(db: &str, seq: i64, reason: &str) -> Error {
    Error::Corrupt(format!("{db}: candidate edit {seq}: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(entries: &[(&str, Op<'_>)]) -> Vec<u8> {
        let mut w = RowWriter::with_capacity(0);
        for (p, op) in entries {
            w.push(p, *op);
        }
        w.finish()
    }

    fn read(row: &[u8]) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        read_row(row, |p, op| out.push((p.to_owned(), format!("{op:?}"))))?;
        Ok(out)
    }

    #[test]
    fn rows_round_trip() {
        let r = row(&[
            ("/a", Op::Set("{\"x\":\"é\"}")),
            ("/b", Op::Absent),
            ("/c", Op::Reset),
            ("", Op::Set("")),
        ]);
        let got = read(&r).unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(
            got[0],
            ("/a".into(), "Set(\"{\\\"x\\\":\\\"é\\\"}\")".into())
        );
        assert_eq!(got[1].1, "Absent");
        assert_eq!(got[2].1, "Reset");
        assert_eq!(read(&row(&[])).unwrap(), vec![]);
        // the compaction estimate is exactly a compacted row's size
        let v: Option<Arc<str>> = Some("{\"x\":\"é\"}".into());
        let compacted = row(&[("/a", Op::from_overlay(&v)), ("/b", Op::Absent)]);
        assert_eq!(
            entry_size("/a", &v) + entry_size("/b", &None) + EMPTY_ROW,
            compacted.len() as u64
        );
    }

    #[test]
    fn every_truncation_and_damage_is_an_error() {
        let r = row(&[("/a", Op::Set("text")), ("/b", Op::Absent)]);
        for n in 0..r.len() {
            assert!(read(&r[..n]).is_err(), "truncated to {n}");
        }
        let mut extra = r.clone();
        extra.push(0);
        assert!(read(&extra).unwrap_err().contains("after the last entry"));
        let mut version = r.clone();
        version[0] = 9;
        assert!(read(&version).unwrap_err().contains("format"));
        let mut tag = r.clone();
        tag[5 + 4 + 2] = 7;
        assert!(read(&tag).unwrap_err().contains("tag"));
        let mut utf8 = r.clone();
        utf8[5 + 4] = 0xff;
        assert!(read(&utf8).unwrap_err().contains("UTF-8"));
        let mut huge = r;
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(read(&huge).is_err());
        // arbitrary bytes never panic
        let mut seed = 0x9e37_79b9_u32;
        for _ in 0..2000 {
            let len = (seed % 64) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8
                })
                .collect();
            let _ = read(&bytes);
        }
    }
}
