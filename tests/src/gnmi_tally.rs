//! A Subscribe client for benchmarks that reads notifications without building them: it
//! keeps each notification's timestamp, counts its updates and notes when it arrived. The
//! generated types would build a `Path` with key maps for every leaf, which measures the
//! client (100k leaves a second per stream), not the daemon.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use netloom_northbound::gnmi::proto::gnmi::SubscribeRequest;
use prost::bytes::{Buf, BufMut};
use prost::encoding::{self, DecodeContext, WireType};
use prost::DecodeError;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::client::Grpc;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::gnmi::Creds;

/// A `Notification` read for its timestamp and the number of its updates only.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counted {
    pub timestamp: i64,
    pub updates: usize,
}

impl prost::Message for Counted {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        if self.timestamp != 0 {
            encoding::int64::encode(1, &self.timestamp, buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            1 => encoding::int64::merge(wire_type, &mut self.timestamp, buf, ctx),
            // `repeated Update update = 4`: skipped over, only counted.
            4 => {
                self.updates += 1;
                encoding::skip_field(wire_type, tag, buf, ctx)
            }
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        if self.timestamp != 0 {
            encoding::int64::encoded_len(1, &self.timestamp)
        } else {
            0
        }
    }

    fn clear(&mut self) {
        *self = Counted::default();
    }
}

/// A `SubscribeResponse` with its notification counted, not built.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CountedResponse {
    #[prost(message, optional, tag = "1")]
    pub update: Option<Counted>,
    #[prost(bool, tag = "3")]
    pub sync_response: bool,
}

/// One notification as it came off the wire.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// The notification's own timestamp (ns since the epoch).
    pub timestamp: i64,
    pub updates: usize,
    /// When it was read, on the wall clock (ns since the epoch) and the monotonic one.
    pub wall_ns: i64,
    pub at: Instant,
}

/// Subscribe with `request` at `addr` as the admin and record every notification read
/// during `run` (the sync response is skipped).
pub async fn record(
    addr: std::net::SocketAddr,
    request: SubscribeRequest,
    run: Duration,
) -> Vec<Arrival> {
    let ch = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc =
        Grpc::new(InterceptedService::new(ch, Creds)).max_decoding_message_size(usize::MAX);
    grpc.ready().await.unwrap();
    let (tx, rx) = mpsc::channel(1);
    tx.send(request).await.unwrap();
    let mut stream = grpc
        .streaming(
            tonic::Request::new(ReceiverStream::new(rx)),
            PathAndQuery::from_static("/gnmi.gNMI/Subscribe"),
            tonic_prost::ProstCodec::<SubscribeRequest, CountedResponse>::default(),
        )
        .await
        .unwrap()
        .into_inner();
    let end = tokio::time::Instant::now() + run;
    let mut seen = Vec::new();
    while let Ok(Ok(Some(r))) = tokio::time::timeout_at(end, stream.message()).await {
        if let Some(n) = r.update {
            seen.push(Arrival {
                timestamp: n.timestamp,
                updates: n.updates,
                wall_ns: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as i64,
                at: Instant::now(),
            });
        }
    }
    drop(tx);
    seen
}

/// One sample as a subscriber received it: the notifications sharing one timestamp.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub timestamp: i64,
    pub updates: usize,
    /// The first and the last of its notifications read (wall clock, ns).
    pub first_ns: i64,
    pub last_ns: i64,
}

/// Group arrivals into samples by timestamp, in arrival order.
pub fn samples(arrivals: &[Arrival]) -> Vec<Sample> {
    let mut out: Vec<Sample> = Vec::new();
    for a in arrivals {
        match out.last_mut() {
            Some(s) if s.timestamp == a.timestamp => {
                s.updates += a.updates;
                s.last_ns = a.wall_ns;
            }
            _ => out.push(Sample {
                timestamp: a.timestamp,
                updates: a.updates,
                first_ns: a.wall_ns,
                last_ns: a.wall_ns,
            }),
        }
    }
    out
}
