//! RFC 6242 message framing: base:1.0 end-of-message (`]]>]]>`) and base:1.1 chunked framing,
//! with a limit on the size of one message so a client cannot make the daemon buffer without
//! bound.

use tokio::io::{AsyncRead, AsyncReadExt};

/// The end-of-message marker of base:1.0.
pub(crate) const EOM: &[u8] = b"]]>]]>";
/// RFC 6242 section 4.2: chunk-size is at most 4294967295.
const MAX_CHUNK: u64 = 4_294_967_295;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    EndOfMessage,
    Chunked,
}

#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    #[error("reading the channel: {0}")]
    Io(#[from] std::io::Error),
    #[error("a message is larger than the limit of {limit} bytes")]
    TooBig { limit: usize },
    #[error("bad chunked framing: {0}")]
    Bad(String),
    #[error("the channel closed in the middle of a message")]
    Truncated,
}

/// Reads whole messages from a byte stream.
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
    max: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        FrameReader {
            inner,
            buf: Vec::new(),
            max,
        }
    }

    /// Read more input; false at end of stream.
    async fn fill(&mut self) -> Result<bool, FramingError> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.inner.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// The next message, or None when the stream ended cleanly between messages.
    pub async fn read(&mut self, framing: Framing) -> Result<Option<Vec<u8>>, FramingError> {
        match framing {
            Framing::EndOfMessage => self.read_eom().await,
            Framing::Chunked => self.read_chunked().await,
        }
    }

    async fn read_eom(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        let mut searched: usize = 0;
        loop {
            let from = searched.saturating_sub(EOM.len() - 1);
            if let Some(i) = find(&self.buf[from..], EOM) {
                let end = from + i;
                let msg = self.buf[..end].to_vec();
                self.buf.drain(..end + EOM.len());
                return Ok(Some(msg));
            }
            searched = self.buf.len();
            if self.buf.len() > self.max {
                return Err(FramingError::TooBig { limit: self.max });
            }
            if !self.fill().await? {
                return if self.buf.iter().all(u8::is_ascii_whitespace) {
                    Ok(None)
                } else {
                    Err(FramingError::Truncated)
                };
            }
        }
    }

    /// Make sure `n` bytes are buffered; false if the stream ended first.
    async fn need(&mut self, n: usize) -> Result<bool, FramingError> {
        while self.buf.len() < n {
            if !self.fill().await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    async fn read_chunked(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        let mut msg = Vec::new();
        loop {
            // "\n#" then either "#\n" (end of chunks) or chunk-size "\n".
            if !self.need(2).await? {
                return if self.buf.is_empty() && msg.is_empty() {
                    Ok(None)
                } else {
                    Err(FramingError::Truncated)
                };
            }
            if &self.buf[..2] != b"\n#" {
                return Err(FramingError::Bad("expected LF '#' before a chunk".into()));
            }
            if !self.need(3).await? {
                return Err(FramingError::Truncated);
            }
            if self.buf[2] == b'#' {
                if !self.need(4).await? {
                    return Err(FramingError::Truncated);
                }
                if self.buf[3] != b'\n' {
                    return Err(FramingError::Bad("expected LF after '##'".into()));
                }
                self.buf.drain(..4);
                if msg.is_empty() {
                    return Err(FramingError::Bad("a message with no chunks".into()));
                }
                return Ok(Some(msg));
            }
            let size = self.chunk_size().await?;
            if msg.len() + size > self.max {
                return Err(FramingError::TooBig { limit: self.max });
            }
            if !self.need(size).await? {
                return Err(FramingError::Truncated);
            }
            msg.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size);
        }
    }

    /// Read "<digits>\n" after "\n#"; consumes the header.
    async fn chunk_size(&mut self) -> Result<usize, FramingError> {
        // At most 10 digits and the LF after "\n#".
        let end = loop {
            if let Some(i) = self.buf[2..].iter().position(|&b| b == b'\n') {
                break i + 2;
            }
            if self.buf.len() > 2 + 11 {
                return Err(FramingError::Bad("chunk-size too long".into()));
            }
            if !self.fill().await? {
                return Err(FramingError::Truncated);
            }
        };
        let digits = &self.buf[2..end];
        let valid = !digits.is_empty()
            && digits.len() <= 10
            && digits[0] != b'0'
            && digits.iter().all(u8::is_ascii_digit);
        let size = std::str::from_utf8(digits)
            .ok()
            .filter(|_| valid)
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|&n| (1..=MAX_CHUNK).contains(&n))
            .ok_or_else(|| {
                FramingError::Bad(format!(
                    "invalid chunk-size '{}'",
                    String::from_utf8_lossy(digits)
                ))
            })?;
        self.buf.drain(..end + 1);
        usize::try_from(size).map_err(|_| FramingError::TooBig { limit: self.max })
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(input: &[u8], framing: Framing, max: usize) -> Vec<Result<Vec<u8>, String>> {
        let mut r = FrameReader::new(input, max);
        let mut out = Vec::new();
        loop {
            match r.read(framing).await {
                Ok(Some(m)) => out.push(Ok(m)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    break;
                }
            }
        }
        out
    }

    #[tokio::test]
    async fn end_of_message_framing() {
        let got = read_all(b"<a/>]]>]]><b/>]]>]]>\n", Framing::EndOfMessage, 100).await;
        assert_eq!(got, vec![Ok(b"<a/>".to_vec()), Ok(b"<b/>".to_vec())]);
        let got = read_all(b"<a/>]]>", Framing::EndOfMessage, 100).await;
        assert!(got[0].is_err());
        let big = vec![b'x'; 300];
        let got = read_all(&big, Framing::EndOfMessage, 100).await;
        assert!(got[0].as_ref().unwrap_err().contains("larger"));
    }

    #[tokio::test]
    async fn chunked_framing() {
        let input = b"\n#4\n<rpc\n#2\n/>\n##\n\n#3\n<b/\n#1\n>\n##\n";
        let got = read_all(input, Framing::Chunked, 100).await;
        assert_eq!(got, vec![Ok(b"<rpc/>".to_vec()), Ok(b"<b/>".to_vec())]);
        for bad in [
            &b"\n#0\n\n##\n"[..],
            b"\n#04\nabcd\n##\n",
            b"\n#x\n",
            b"\n#99999999999\n",
            b"\n##\n",
            b"#4\nabcd",
            b"\n#4\nab",
        ] {
            let got = read_all(bad, Framing::Chunked, 100).await;
            assert!(
                got.last().unwrap().is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let got = read_all(b"\n#200\n", Framing::Chunked, 100).await;
        assert!(got[0].as_ref().unwrap_err().contains("larger"));
    }
}
