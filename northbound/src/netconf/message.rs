//! An outgoing message (reply, notification, hello) built in the buffer it is sent from: room
//! for the chunk header is kept in front of the body, the framing's end is appended, and the
//! whole buffer goes to the SSH channel as one `Bytes` without being copied again. A large
//! reply (a get-config of thousands of entries) is otherwise copied once to wrap it in
//! `<rpc-reply>`, once more to frame it, and once more into the channel's packets.

use bytes::Bytes;

use super::framing::{Framing, EOM};

/// "\n#" + up to 20 digits + "\n".
const HEADROOM: usize = 24;

pub(crate) struct Message {
    /// HEADROOM placeholder bytes, then the body.
    buf: String,
}

impl Message {
    /// An empty message with room for `capacity` bytes of body.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut buf = String::with_capacity(HEADROOM + capacity + EOM.len());
        buf.extend(std::iter::repeat_n(' ', HEADROOM));
        Message { buf }
    }

    pub fn push_str(&mut self, s: &str) {
        self.buf.push_str(s);
    }

    /// The buffer, for writers that append to a `String`; only appending keeps the message
    /// valid.
    pub fn as_mut_string(&mut self) -> &mut String {
        &mut self.buf
    }

    /// The bytes to send: the body framed for `framing`.
    pub fn framed(mut self, framing: Framing) -> Bytes {
        let body = self.buf.len() - HEADROOM;
        let start = match framing {
            Framing::EndOfMessage => {
                self.buf
                    .push_str(std::str::from_utf8(EOM).unwrap_or_default());
                HEADROOM
            }
            Framing::Chunked => {
                let header = format!("\n#{body}\n");
                let start = HEADROOM - header.len();
                self.buf.replace_range(start..HEADROOM, &header);
                self.buf.push_str("\n##\n");
                start
            }
        };
        Bytes::from(self.buf.into_bytes()).slice(start..)
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        let mut m = Message::with_capacity(s.len());
        m.push_str(s);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_in_place() {
        let m = Message::from("<a/>");
        assert_eq!(&m.framed(Framing::Chunked)[..], b"\n#4\n<a/>\n##\n");
        let m = Message::from("<a/>");
        assert_eq!(&m.framed(Framing::EndOfMessage)[..], b"<a/>]]>]]>");
        let big = "x".repeat(1_234_567);
        let mut m = Message::with_capacity(0);
        m.as_mut_string().push_str(&big);
        let framed = m.framed(Framing::Chunked);
        assert!(framed.starts_with(b"\n#1234567\nxxx"));
        assert!(framed.ends_with(b"xxx\n##\n"));
        assert_eq!(framed.len(), big.len() + 10 + 4);
    }
}
