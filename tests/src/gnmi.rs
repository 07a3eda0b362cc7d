//! A gNMI client for the end-to-end tests: tonic over plaintext loopback with the admin's
//! credentials in metadata, paths from text, and a Subscribe stream with bounded waits.

use std::time::{Duration, Instant};

use netloom_northbound::gnmi::proto::gnmi::g_nmi_client::GNmiClient;
use netloom_northbound::gnmi::proto::gnmi::subscribe_request::Request as In;
use netloom_northbound::gnmi::proto::gnmi::subscribe_response::Response as Out;
use netloom_northbound::gnmi::proto::gnmi::subscription_list::Mode as ListMode;
use netloom_northbound::gnmi::proto::gnmi::typed_value::Value as Tv;
use netloom_northbound::gnmi::proto::gnmi::{
    Encoding, Notification, Path, PathElem, SubscribeRequest, SubscribeResponse, Subscription,
    SubscriptionList, SubscriptionMode,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::Streaming;

use crate::ADMIN_PASSWORD;

/// The admin over plaintext gNMI at `addr`.
pub async fn connect(addr: std::net::SocketAddr) -> Client {
    let ch = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    GNmiClient::with_interceptor(ch, Creds).max_decoding_message_size(usize::MAX)
}

#[derive(Clone)]
pub struct Creds;

impl tonic::service::Interceptor for Creds {
    fn call(&mut self, mut r: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        r.metadata_mut()
            .insert("username", "admin".parse().unwrap());
        r.metadata_mut()
            .insert("password", ADMIN_PASSWORD.parse().unwrap());
        Ok(r)
    }
}

pub type Client = GNmiClient<InterceptedService<Channel, Creds>>;

/// The steps of `/a/b[name=x/y]/c` ('/' inside a key value stays in it).
pub fn steps(text: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, ch) in text.char_indices() {
        match ch {
            '[' => depth += 1,
            ']' => depth -= 1,
            '/' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// `origin:/a/b[name=v]/c`.
pub fn path(text: &str) -> Path {
    let (origin, text) = text.split_once(":/").unwrap_or(("", text));
    let elem = steps(text.trim_start_matches('/'))
        .into_iter()
        .map(|step| match step.split_once('[') {
            Some((name, rest)) => {
                let (k, v) = rest.trim_end_matches(']').split_once('=').unwrap();
                PathElem {
                    name: name.into(),
                    key: [(k.to_owned(), v.to_owned())].into(),
                }
            }
            None => PathElem {
                name: step.into(),
                key: Default::default(),
            },
        })
        .collect();
    Path {
        origin: origin.into(),
        elem,
        ..Path::default()
    }
}

pub async fn subscribe(c: &mut Client, p: &str, mode: SubscriptionMode, sample_ms: u64) -> Stream {
    let (tx, rx) = mpsc::channel(4);
    tx.send(SubscribeRequest {
        request: Some(In::Subscribe(SubscriptionList {
            mode: ListMode::Stream.into(),
            encoding: Encoding::Proto.into(),
            subscription: vec![Subscription {
                path: Some(path(p)),
                mode: mode.into(),
                sample_interval: sample_ms * 1_000_000,
                ..Subscription::default()
            }],
            ..SubscriptionList::default()
        })),
        ..Default::default()
    })
    .await
    .unwrap();
    let rx = c
        .subscribe(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    Stream { tx, rx }
}

pub struct Stream {
    /// Keeps the request side open (dropping it half-closes the call).
    pub tx: mpsc::Sender<SubscribeRequest>,
    pub rx: Streaming<SubscribeResponse>,
}

impl Stream {
    /// The next notification (sync_response skipped), within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Notification> {
        let until = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(until, self.rx.message()).await {
                Ok(Ok(Some(SubscribeResponse {
                    response: Some(Out::Update(n)),
                    ..
                }))) => return Some(n),
                Ok(Ok(Some(SubscribeResponse {
                    response: Some(Out::SyncResponse(true)),
                    ..
                }))) => continue,
                Ok(other) => panic!("unexpected {other:?}"),
                Err(_) => return None,
            }
        }
    }

    /// Wait (bounded) for a notification whose value satisfies `want`.
    pub async fn until(&mut self, wait: Duration, want: impl Fn(&Tv) -> bool) -> Tv {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let n = self.next(left).await.expect("the awaited value in time");
            if let Some(v) = n
                .update
                .iter()
                .filter_map(|u| u.val.as_ref()?.value.clone())
                .find(|v| want(v))
            {
                return v;
            }
        }
    }
}

/// The text of a string value (anything else debug-printed).
pub fn text(tv: &Tv) -> String {
    match tv {
        Tv::StringVal(s) => s.clone(),
        other => format!("{other:?}"),
    }
}
