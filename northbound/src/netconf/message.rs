//! An outgoing message (reply, notification, hello) built in the buffer it is sent from: room
//! for the chunk header is kept in front of the body, the framing's end is appended, and the
//! whole buffer goes to the SSH channel as one `Bytes` without being copied again. A large
//! reply (a get-config of thousands of entries) is otherwise copied once to wrap it in
//! `<rpc-reply>`, once more to frame it, and once more into the channel's packets.
//!
//! A reply whose body is a whole read (see `reply_cache.rs`) carries that body as a
//! [`SharedBody`]: framed once as a chunk of its own when it was rendered, and sent by every
//! reply that carries it as the same bytes, between the reply's head and its tail.

use bytes::Bytes;

use super::framing::{Framing, EOM};

/// "\n#" + up to 20 digits + "\n".
const HEADROOM: usize = 24;

pub(crate) struct Message {
    /// HEADROOM placeholder bytes, then the body (up to `shared`, if any).
    buf: String,
    /// A body shared with the reply cache, sent after `buf` without being copied.
    shared: Option<SharedBody>,
    /// What was appended after `shared`.
    tail: String,
}

impl Message {
    /// An empty message with room for `capacity` bytes of body.
    pub fn with_capacity(capacity: usize) -> Self {
        Message {
            buf: with_headroom(capacity + EOM.len()),
            shared: None,
            tail: String::new(),
        }
    }

    pub fn push_str(&mut self, s: &str) {
        self.as_mut_string().push_str(s);
    }

    /// The buffer, for writers that append to a `String`; only appending keeps the message
    /// valid.
    pub fn as_mut_string(&mut self) -> &mut String {
        match self.shared {
            Some(_) => &mut self.tail,
            None => &mut self.buf,
        }
    }

    /// Append a shared body; what is pushed afterwards follows it. A message carries one:
    /// a second is copied in.
    pub fn push_shared(&mut self, body: SharedBody) {
        match self.shared {
            Some(_) => self.tail.push_str(body.text()),
            None => self.shared = Some(body),
        }
    }

    /// The bytes to send, in order: the body framed for `framing`. One buffer, or three when
    /// the message carries a shared body (head, body, tail: chunks of one message).
    pub fn framed(mut self, framing: Framing) -> Vec<Bytes> {
        let Some(shared) = self.shared.take() else {
            let end: &[u8] = match framing {
                Framing::EndOfMessage => EOM,
                Framing::Chunked => b"\n##\n",
            };
            return vec![frame_in_place(self.buf, framing, end)];
        };
        let mut parts = Vec::with_capacity(3);
        if self.buf.len() > HEADROOM {
            parts.push(frame_in_place(self.buf, framing, b""));
        }
        let mut tail = String::with_capacity(self.tail.len() + 32);
        match framing {
            Framing::EndOfMessage => {
                parts.push(shared.chunk.slice(shared.header..));
                tail.push_str(&self.tail);
                tail.push_str(std::str::from_utf8(EOM).unwrap_or_default());
            }
            Framing::Chunked => {
                if shared.chunk.len() > shared.header {
                    parts.push(shared.chunk);
                }
                if !self.tail.is_empty() {
                    tail.push_str(&format!("\n#{}\n", self.tail.len()));
                    tail.push_str(&self.tail);
                }
                tail.push_str("\n##\n");
            }
        }
        parts.push(Bytes::from(tail.into_bytes()));
        parts
    }
}

/// An empty buffer of HEADROOM placeholder bytes, with room for `capacity` more.
fn with_headroom(capacity: usize) -> String {
    let mut buf = String::with_capacity(HEADROOM + capacity);
    buf.extend(std::iter::repeat_n(' ', HEADROOM));
    buf
}

/// `buf` (HEADROOM, then content) as one chunk (or as is, for end-of-message framing),
/// followed by `end`; the chunk header is written into the headroom.
fn frame_in_place(mut buf: String, framing: Framing, end: &[u8]) -> Bytes {
    let len = buf.len() - HEADROOM;
    let start = match framing {
        Framing::EndOfMessage => HEADROOM,
        Framing::Chunked => {
            let header = format!("\n#{len}\n");
            let start = HEADROOM - header.len();
            buf.replace_range(start..HEADROOM, &header);
            start
        }
    };
    let mut bytes = buf.into_bytes();
    bytes.extend_from_slice(end);
    Bytes::from(bytes).slice(start..)
}

/// A reply body rendered once and sent by many replies: the text framed as one chunk
/// (`header` bytes of chunk header, then the text). Cloning shares the bytes.
#[derive(Clone)]
pub(crate) struct SharedBody {
    chunk: Bytes,
    header: usize,
}

impl SharedBody {
    /// A buffer to render a body into, for [`SharedBody::new`].
    pub fn buffer(capacity: usize) -> String {
        with_headroom(capacity)
    }

    /// The body rendered into `buf` (from [`SharedBody::buffer`], only appended to).
    pub fn new(buf: String) -> Self {
        let chunk = frame_in_place(buf, Framing::Chunked, b"");
        let header = chunk
            .iter()
            .skip(1)
            .position(|&b| b == b'\n')
            .map_or(0, |i| i + 2);
        SharedBody { chunk, header }
    }

    /// A body of this text, as a renderer would make it: for tests.
    #[cfg(test)]
    pub(crate) fn from_text(text: &str) -> Self {
        let mut buf = SharedBody::buffer(text.len());
        buf.push_str(text);
        SharedBody::new(buf)
    }

    /// The body's text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.chunk[self.header..]).unwrap_or_default()
    }

    /// The body's length in bytes.
    pub fn len(&self) -> usize {
        self.chunk.len() - self.header
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

    /// The message as the peer gets it: its parts one after the other.
    fn wire(m: Message, framing: Framing) -> Vec<u8> {
        m.framed(framing).concat()
    }

    #[test]
    fn framed_in_place() {
        let m = Message::from("<a/>");
        assert_eq!(wire(m, Framing::Chunked), b"\n#4\n<a/>\n##\n");
        let m = Message::from("<a/>");
        assert_eq!(wire(m, Framing::EndOfMessage), b"<a/>]]>]]>");
        let big = "x".repeat(1_234_567);
        let mut m = Message::with_capacity(0);
        m.as_mut_string().push_str(&big);
        let framed = m.framed(Framing::Chunked);
        assert_eq!(framed.len(), 1, "one buffer, sent as is");
        assert!(framed[0].starts_with(b"\n#1234567\nxxx"));
        assert!(framed[0].ends_with(b"xxx\n##\n"));
        assert_eq!(framed[0].len(), big.len() + 10 + 4);
    }

    #[test]
    fn a_shared_body_is_a_chunk_of_its_own() {
        let body = SharedBody::from_text("<data>x</data>");
        assert_eq!((body.text(), body.len()), ("<data>x</data>", 14));
        let mut m = Message::from("<rpc-reply>");
        m.push_shared(body.clone());
        m.push_str("</rpc-reply>");
        let parts = m.framed(Framing::Chunked);
        assert_eq!(parts.len(), 3);
        assert_eq!(
            parts.concat(),
            b"\n#11\n<rpc-reply>\n#14\n<data>x</data>\n#12\n</rpc-reply>\n##\n"
        );
        // The body is sent as the bytes the cache holds, not a copy.
        assert_eq!(parts[1].as_ptr(), body.chunk.as_ptr());

        let mut m = Message::from("<rpc-reply>");
        m.push_shared(body.clone());
        m.push_str("</rpc-reply>");
        assert_eq!(
            wire(m, Framing::EndOfMessage),
            b"<rpc-reply><data>x</data></rpc-reply>]]>]]>"
        );
        // Nothing after the body: the end of chunks alone.
        let mut m = Message::with_capacity(0);
        m.push_shared(body.clone());
        assert_eq!(wire(m, Framing::Chunked), b"\n#14\n<data>x</data>\n##\n");
        // A second shared body is copied in after the first.
        let mut m = Message::from("<r>");
        m.push_shared(body.clone());
        m.push_shared(SharedBody::from_text("<b/>"));
        assert_eq!(
            wire(m, Framing::EndOfMessage),
            b"<r><data>x</data><b/>]]>]]>"
        );
    }
}
