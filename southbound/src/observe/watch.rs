//! The link watch: a socket bound to the link multicast group (`RTNLGRP_LINK`, what
//! `ip monitor link` listens to), read on a thread of its own, each event handed to a
//! callback. Dropping the [`LinkWatch`] stops the thread.

use futures_util::StreamExt;
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::MulticastGroup;
use tokio::sync::oneshot;

use super::dump::observe;
use super::LinkEvent;
use crate::driver::DriverError;

/// A running link watch; stops when dropped.
#[derive(Debug)]
pub struct LinkWatch {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LinkWatch {
    /// Watch the links of the calling thread's namespace; `on_event` runs on the watch's
    /// thread for every event, in the kernel's order.
    pub fn start(on_event: impl Fn(LinkEvent) + Send + 'static) -> Result<LinkWatch, DriverError> {
        let unavailable = |e: std::io::Error| DriverError::Unavailable(format!("link watch: {e}"));
        // The socket is opened here, so it is in the caller's namespace and a failure is
        // the caller's to see.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(unavailable)?;
        let (conn, _handle, mut messages) = {
            // The socket registers with the runtime's reactor as it is made.
            let _in_rt = rt.enter();
            rtnetlink::new_multicast_connection(&[MulticastGroup::Link]).map_err(unavailable)?
        };
        let (stop, mut stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("netloom-linkwatch".into())
            .spawn(move || {
                rt.block_on(async move {
                    let conn = tokio::spawn(conn);
                    loop {
                        tokio::select! {
                            _ = &mut stopped => break,
                            message = messages.next() => {
                                let Some((message, _)) = message else { break };
                                let event = match message.payload {
                                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                                        observe(&l).map(LinkEvent::Changed)
                                    }
                                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => {
                                        observe(&l).map(|o| LinkEvent::Removed { ifindex: o.ifindex, name: o.name })
                                    }
                                    _ => None,
                                };
                                if let Some(e) = event {
                                    on_event(e);
                                }
                            }
                        }
                    }
                    conn.abort();
                });
            })
            .map_err(unavailable)?;
        Ok(LinkWatch {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for LinkWatch {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
