//! Subscribe responses as they go on the wire. Most are built and encoded per stream as
//! usual. A sample's updates are encoded once per view, into prost bytes that every
//! subscriber of that view shares, and each subscriber's notification is a few bytes of
//! header (its timestamp) around them: at 100k leaves a second to several subscribers,
//! cloning and encoding every `Path` for every subscriber was nearly all the daemon's work.

use std::ops::Deref;
use std::sync::OnceLock;

use prost::bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::encoding::{self, DecodeContext, WireType};
use prost::{DecodeError, Message};

use super::proto::gnmi::{Path, SubscribeResponse, TypedValue};

/// `SubscribeResponse.update` (a `Notification`).
const RESPONSE_UPDATE: u32 = 1;
/// `Notification.timestamp`, `Notification.update`.
const NOTIFICATION_TIMESTAMP: u32 = 1;
const NOTIFICATION_UPDATE: u32 = 4;
/// `Update.path`, `Update.val`.
const UPDATE_PATH: u32 = 1;
const UPDATE_VAL: u32 = 3;

/// A `SubscribeResponse` as the server's Subscribe sends it.
#[derive(Debug, Clone, PartialEq)]
pub enum WireResponse {
    Built(SubscribeResponse),
    /// A notification at `timestamp` of updates already encoded (each a `Notification.update`
    /// field), shared with other subscribers.
    Encoded {
        timestamp: i64,
        updates: Bytes,
    },
}

impl Default for WireResponse {
    fn default() -> Self {
        WireResponse::Built(SubscribeResponse::default())
    }
}

impl From<SubscribeResponse> for WireResponse {
    fn from(r: SubscribeResponse) -> Self {
        WireResponse::Built(r)
    }
}

fn notification_len(timestamp: i64, updates: &Bytes) -> usize {
    let stamp = if timestamp != 0 {
        encoding::int64::encoded_len(NOTIFICATION_TIMESTAMP, &timestamp)
    } else {
        0
    };
    stamp + updates.len()
}

impl Message for WireResponse {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        match self {
            WireResponse::Built(r) => r.encode_raw(buf),
            WireResponse::Encoded { timestamp, updates } => {
                encoding::encode_key(RESPONSE_UPDATE, WireType::LengthDelimited, buf);
                encoding::encode_varint(notification_len(*timestamp, updates) as u64, buf);
                if *timestamp != 0 {
                    encoding::int64::encode(NOTIFICATION_TIMESTAMP, timestamp, buf);
                }
                buf.put_slice(updates);
            }
        }
    }

    /// Only the server encodes these; decoding (for completeness) builds the response.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        if let WireResponse::Encoded { .. } = self {
            *self = WireResponse::default();
        }
        match self {
            WireResponse::Built(r) => r.merge_field(tag, wire_type, buf, ctx),
            WireResponse::Encoded { .. } => Ok(()),
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            WireResponse::Built(r) => r.encoded_len(),
            WireResponse::Encoded { timestamp, updates } => {
                let n = notification_len(*timestamp, updates);
                encoding::key_len(RESPONSE_UPDATE) + encoding::encoded_len_varint(n as u64) + n
            }
        }
    }

    fn clear(&mut self) {
        *self = WireResponse::default();
    }
}

/// A subscription's encoded values, and (made on first use, once for every subscriber
/// sharing them) their updates encoded in notifications of at most `batch`.
#[derive(Debug)]
pub struct Leaves {
    leaves: Vec<(Path, TypedValue)>,
    batch: usize,
    encoded: OnceLock<Vec<Bytes>>,
}

impl Leaves {
    pub fn new(leaves: Vec<(Path, TypedValue)>, batch: usize) -> Self {
        Leaves {
            leaves,
            batch: batch.max(1),
            encoded: OnceLock::new(),
        }
    }

    /// The updates of each notification, encoded.
    pub fn encoded(&self) -> &[Bytes] {
        self.encoded
            .get_or_init(|| self.leaves.chunks(self.batch).map(encode_updates).collect())
    }
}

impl Deref for Leaves {
    type Target = [(Path, TypedValue)];

    fn deref(&self) -> &Self::Target {
        &self.leaves
    }
}

/// `Notification.update` fields for `leaves`, as prost would write them.
fn encode_updates(leaves: &[(Path, TypedValue)]) -> Bytes {
    let lens: Vec<usize> = leaves
        .iter()
        .map(|(path, val)| {
            encoding::message::encoded_len(UPDATE_PATH, path)
                + encoding::message::encoded_len(UPDATE_VAL, val)
        })
        .collect();
    let total = lens
        .iter()
        .map(|n| {
            encoding::key_len(NOTIFICATION_UPDATE) + encoding::encoded_len_varint(*n as u64) + n
        })
        .sum();
    let mut buf = BytesMut::with_capacity(total);
    for ((path, val), len) in leaves.iter().zip(lens) {
        encoding::encode_key(NOTIFICATION_UPDATE, WireType::LengthDelimited, &mut buf);
        encoding::encode_varint(len as u64, &mut buf);
        encoding::message::encode(UPDATE_PATH, path, &mut buf);
        encoding::message::encode(UPDATE_VAL, val, &mut buf);
    }
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::super::proto::gnmi::subscribe_response::Response as Out;
    use super::super::proto::gnmi::typed_value::Value as Tv;
    use super::super::proto::gnmi::{Notification, PathElem, Update};
    use super::*;

    fn leaf(i: usize) -> (Path, TypedValue) {
        let path = Path {
            elem: vec![PathElem {
                name: "pod".into(),
                key: [("name".to_owned(), format!("p{i}"))].into(),
            }],
            ..Path::default()
        };
        let val = TypedValue {
            value: Some(if i.is_multiple_of(2) {
                Tv::BoolVal(true)
            } else {
                Tv::StringVal(format!("v{i}"))
            }),
        };
        (path, val)
    }

    /// A pre-encoded sample decodes to exactly the response prost builds from the leaves.
    #[test]
    fn encoded_sample_is_the_built_response() {
        let leaves = Leaves::new((0..7).map(leaf).collect(), 3);
        let batches = leaves.encoded();
        assert_eq!(batches.len(), 3);
        for (i, updates) in batches.iter().enumerate() {
            let wire = WireResponse::Encoded {
                timestamp: 1_700_000_000_123,
                updates: updates.clone(),
            };
            let bytes = wire.encode_to_vec();
            assert_eq!(bytes.len(), wire.encoded_len());
            let built = SubscribeResponse {
                response: Some(Out::Update(Notification {
                    timestamp: 1_700_000_000_123,
                    update: leaves[i * 3..(i * 3 + 3).min(7)]
                        .iter()
                        .map(|(p, v)| Update {
                            path: Some(p.clone()),
                            val: Some(v.clone()),
                            ..Update::default()
                        })
                        .collect(),
                    ..Notification::default()
                })),
                ..SubscribeResponse::default()
            };
            assert_eq!(SubscribeResponse::decode(&bytes[..]).unwrap(), built);
        }
    }

    #[test]
    fn a_built_response_encodes_as_prost_does() {
        let r = SubscribeResponse {
            response: Some(Out::SyncResponse(true)),
            ..SubscribeResponse::default()
        };
        assert_eq!(
            WireResponse::from(r.clone()).encode_to_vec(),
            r.encode_to_vec()
        );
    }
}
