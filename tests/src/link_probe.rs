//! A netlink socket kept open in a network namespace, so a test sees the kernel's links
//! within a fraction of a millisecond of an event (an `ip` exec takes milliseconds, in
//! which work the daemon left off its answer's path may finish): which links exist, their
//! addresses and, for bridge ports, their port state.

use std::net::IpAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{
    BridgePortState, InfoBridgePort, InfoPortData, LinkAttribute, LinkInfo,
};

/// One link as a dump saw it.
#[derive(Debug, Clone)]
pub struct LinkSeen {
    pub name: String,
    pub addresses: Vec<IpAddr>,
    /// Its state as a bridge port, when it is one.
    pub port_state: Option<BridgePortState>,
    /// Its bridge port settings, when it is one (learning, floods, ...).
    pub port: Vec<InfoBridgePort>,
}

type Ask = mpsc::Sender<Vec<LinkSeen>>;

/// A thread in a netns with a netlink socket open, dumping on request.
pub struct LinkProbe {
    asks: Option<mpsc::Sender<Ask>>,
    thread: Option<JoinHandle<()>>,
}

impl LinkProbe {
    /// Open a probe in the netns at `netns` (`/run/netns/<name>`).
    pub fn open(netns: &str) -> LinkProbe {
        let ns = std::fs::File::open(netns).expect("opening the netns");
        let (asks, asked) = mpsc::channel::<Ask>();
        let (ready, is_ready) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let (conn, handle, _) = rtnetlink::new_connection().expect("netlink socket");
                tokio::spawn(conn);
                ready.send(()).expect("the opener waits");
                while let Ok(reply) = asked.recv() {
                    let _ = reply.send(dump(&handle).await);
                }
            });
        });
        is_ready.recv().expect("the probe thread started");
        LinkProbe {
            asks: Some(asks),
            thread: Some(thread),
        }
    }

    /// Every link of the netns now.
    pub fn links(&self) -> Vec<LinkSeen> {
        let (reply, got) = mpsc::channel();
        self.asks
            .as_ref()
            .expect("open")
            .send(reply)
            .expect("the probe thread runs");
        got.recv().expect("the probe answers")
    }
}

impl Drop for LinkProbe {
    fn drop(&mut self) {
        // closing the channel ends the thread's loop
        self.asks.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn port(attrs: &[LinkAttribute]) -> Vec<InfoBridgePort> {
    attrs
        .iter()
        .find_map(|a| match a {
            LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
                LinkInfo::PortData(InfoPortData::BridgePort(p)) => Some(p.clone()),
                _ => None,
            }),
            _ => None,
        })
        .unwrap_or_default()
}

fn port_state(port: &[InfoBridgePort]) -> Option<BridgePortState> {
    port.iter().find_map(|x| match x {
        InfoBridgePort::State(s) => Some(*s),
        _ => None,
    })
}

/// Addresses first, then links: a link in the second dump existed during the first (a
/// deleted link does not come back), so "present without addresses" is one instant's truth.
async fn dump(h: &rtnetlink::Handle) -> Vec<LinkSeen> {
    let addresses: Vec<_> = h
        .address()
        .get()
        .execute()
        .try_collect()
        .await
        .expect("address dump");
    let links: Vec<_> = h
        .link()
        .get()
        .execute()
        .try_collect()
        .await
        .expect("link dump");
    links
        .into_iter()
        .map(|l| {
            let port = port(&l.attributes);
            LinkSeen {
                name: l
                    .attributes
                    .iter()
                    .find_map(|a| match a {
                        LinkAttribute::IfName(n) => Some(n.clone()),
                        _ => None,
                    })
                    .unwrap_or_default(),
                addresses: addresses
                    .iter()
                    .filter(|a| a.header.index == l.header.index)
                    .filter_map(|a| {
                        a.attributes.iter().find_map(|x| match x {
                            AddressAttribute::Address(ip) => Some(*ip),
                            _ => None,
                        })
                    })
                    .collect(),
                port_state: port_state(&port),
                port,
            }
        })
        .collect()
}
