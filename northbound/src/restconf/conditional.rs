//! Entity tags and `Last-Modified` on datastore resources (RFC 8040 sections 3.4.1.2-3,
//! RFC 7232). A datastore's tag is its snapshot version, so one tag covers every resource of
//! that datastore: a write anywhere in it changes the tag of all of them (conservative: a
//! client may see a 412 for a change elsewhere, never a silent overwrite).
//!
//! Race-free: the precondition is evaluated here against the snapshot the client's request
//! was judged on, and the write then travels to the engine as `Request::IfVersion` with that
//! snapshot's version, so a commit that lands in between fails the write with 412.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap, HeaderValue};
use netloom_store::{DatastoreId, Snapshot};

use super::error::Error;

/// The validators of one datastore snapshot.
#[derive(Debug, Clone)]
pub struct Validators {
    pub version: u64,
    pub etag: String,
    /// Seconds since the epoch (HTTP dates have no finer resolution).
    pub modified_secs: u64,
}

impl Validators {
    pub fn of(datastore: DatastoreId, snap: &Snapshot) -> Self {
        Validators {
            version: snap.version,
            etag: format!("\"{}-{}\"", datastore.as_str(), snap.version),
            modified_secs: u64::try_from(snap.modified_ms.max(0) / 1000).unwrap_or(0),
        }
    }

    pub fn last_modified(&self) -> String {
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(self.modified_secs))
    }

    /// Put `ETag` and `Last-Modified` on a response.
    pub fn apply(&self, headers: &mut HeaderMap) {
        if let Ok(v) = HeaderValue::from_str(&self.etag) {
            headers.insert(header::ETAG, v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.last_modified()) {
            headers.insert(header::LAST_MODIFIED, v);
        }
    }

    fn matches(&self, list: &str) -> bool {
        list.split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.trim_start_matches("W/") == self.etag)
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn http_date_secs(text: &str) -> Result<u64, Error> {
    let t: SystemTime = httpdate::parse_http_date(text)
        .map_err(|_| Error::Malformed(format!("'{text}' is not an HTTP date")))?;
    Ok(t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0))
}

/// For GET/HEAD: `true` when the client's copy is current (answer 304).
pub fn not_modified(headers: &HeaderMap, v: &Validators) -> Result<bool, Error> {
    if let Some(inm) = header_str(headers, header::IF_NONE_MATCH) {
        return Ok(v.matches(inm));
    }
    if let Some(ims) = header_str(headers, header::IF_MODIFIED_SINCE) {
        return Ok(v.modified_secs <= http_date_secs(ims)?);
    }
    Ok(false)
}

/// For writes: check the preconditions; `Some(version)` when the write must be guarded
/// (any precondition was given), `exists` says whether the target resource exists now.
pub fn check_write(
    headers: &HeaderMap,
    v: &Validators,
    exists: bool,
) -> Result<Option<u64>, Error> {
    let mut conditional = false;
    if let Some(im) = header_str(headers, header::IF_MATCH) {
        conditional = true;
        let ok = if im.trim() == "*" {
            exists
        } else {
            v.matches(im)
        };
        if !ok {
            return Err(Error::Precondition(format!(
                "If-Match {im}: the datastore is at {}",
                v.etag
            )));
        }
    }
    if let Some(inm) = header_str(headers, header::IF_NONE_MATCH) {
        conditional = true;
        let hit = if inm.trim() == "*" {
            exists
        } else {
            v.matches(inm)
        };
        if hit {
            return Err(Error::Precondition(format!("If-None-Match {inm} matched")));
        }
    }
    if let Some(ius) = header_str(headers, header::IF_UNMODIFIED_SINCE) {
        conditional = true;
        if v.modified_secs > http_date_secs(ius)? {
            return Err(Error::Precondition(format!(
                "modified at {}, after {ius}",
                v.last_modified()
            )));
        }
    }
    if let Some(ims) = header_str(headers, header::IF_MODIFIED_SINCE) {
        conditional = true;
        if v.modified_secs <= http_date_secs(ims)? {
            return Err(Error::Precondition(format!("not modified since {ims}")));
        }
    }
    Ok(conditional.then_some(v.version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v() -> Validators {
        let snap = Snapshot {
            version: 7,
            modified_ms: 1_700_000_000_500,
            ..Snapshot::default()
        };
        Validators::of(DatastoreId::Running, &snap)
    }

    #[test]
    fn preconditions() {
        let v = v();
        let mut h = HeaderMap::new();
        assert_eq!(check_write(&h, &v, true).unwrap(), None);
        h.insert(header::IF_MATCH, HeaderValue::from_static("\"running-7\""));
        assert_eq!(check_write(&h, &v, true).unwrap(), Some(7));
        h.insert(header::IF_MATCH, HeaderValue::from_static("\"running-6\""));
        assert!(matches!(
            check_write(&h, &v, true),
            Err(Error::Precondition(_))
        ));
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(check_write(&h, &v, true).is_err());
        assert!(check_write(&h, &v, false).is_ok());
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_str(&v.last_modified()).unwrap(),
        );
        assert!(not_modified(&h, &v).unwrap());
        h.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert!(!not_modified(&h, &v).unwrap());
    }
}
