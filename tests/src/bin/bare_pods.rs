//! The kernel's floor for the CNI bench (`tests/bench/cni.sh`): the least rtnetlink work a
//! CNI plugin must do to attach (or detach) a pod, for many pods at once, with no daemon,
//! no exec, no IPAM and no store. Per pod, on a thread of its own made beforehand and
//! released with all the others:
//! - a bridge interface: one request makes the veth with its peer born in the pod's netns
//!   and the host end already a port of the bridge (one queue each way, as netloom asks:
//!   the kernel otherwise cuts per-CPU queues to one under the RTNL lock); one request
//!   brings the host end up (no IPv6 address generation, as netloom's); in the pod: the
//!   end up, its address, and for the first interface a default route via the gateway;
//! - a macvlan interface: one request makes it on the uplink in the pod's netns, up; its
//!   address;
//! - DEL: one request per pod interface deletes it (a veth's host end goes with it).
//!
//! Interface k of pod i (1-based) is `eth0`/`net<k>`, address `10.<80+k>.<i/250>.<i%250+2>/16`;
//! bridges have the gateway `10.<80+k>.0.1`. The bridges and the uplink must exist in the
//! caller's netns (the bench's node). Prints the same JSON as `netloom-exec-timer`:
//! `{"wallMs": f, "calls": [{"ms": f, "ok": bool, "output": ".."}]}`, one call per pod.
//!   netloom-bare-pods add|del IFACES NETNS_PREFIX PODS BRIDGE0,BRIDGE2 UPLINK
//! (pod i's netns is NETNS_PREFIX<i>; interface 0 and 2 are bridge veths, 1 a macvlan).

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use futures_util::TryStreamExt;
use nix::sched::CloneFlags;
use rtnetlink::packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, InfoData, InfoKind, InfoVeth, LinkAttribute,
    MacVlanMode,
};
use rtnetlink::{
    Handle, LinkMacVlan, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};
use serde_json::json;

type Failure = String;

struct Job {
    add: bool,
    ifaces: usize,
    netns: String,
    pod: usize,
    /// Interface index in the node's netns of each bridge (interfaces 0 and 2) and the uplink.
    bridges: [u32; 2],
    uplink: u32,
}

fn connect() -> Result<Handle, Failure> {
    let (conn, handle, _) = rtnetlink::new_connection().map_err(|e| format!("netlink: {e}"))?;
    tokio::spawn(conn);
    Ok(handle)
}

fn address(k: usize, pod: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 80 + k as u8, (pod / 250) as u8, (pod % 250 + 2) as u8)
}

fn ifname(k: usize) -> String {
    if k == 0 {
        "eth0".into()
    } else {
        format!("net{k}")
    }
}

/// Make interface `k` of the pod: its link created in the pod's netns, and for a veth the
/// host end brought up (through `host`, the node's socket).
async fn create(job: &Job, host: &Handle, pod_ns: &File, k: usize) -> Result<(), Failure> {
    let fd = pod_ns.as_raw_fd();
    let name = ifname(k);
    if k == 1 {
        let b = LinkMacVlan::new(&name, job.uplink, MacVlanMode::Bridge)
            .setns_by_fd(fd)
            .up();
        return host
            .link()
            .add(b.build())
            .execute()
            .await
            .map_err(|e| format!("create {name}: {e}"));
    }
    let host_name = format!("bk{}p{}i{k}", job.ifaces, job.pod);
    let peer = LinkMessageBuilder::<LinkUnspec>::new()
        .name(name.clone())
        .setns_by_fd(fd)
        .append_extra_attribute(LinkAttribute::NumTxQueues(1))
        .append_extra_attribute(LinkAttribute::NumRxQueues(1));
    let veth = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
        .name(host_name.clone())
        .append_extra_attribute(LinkAttribute::NumTxQueues(1))
        .append_extra_attribute(LinkAttribute::NumRxQueues(1))
        .controller(job.bridges[k / 2])
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));
    host.link()
        .add(veth.build())
        .execute()
        .await
        .map_err(|e| format!("create {name}: {e}"))?;
    let up = LinkUnspec::new_with_name(&host_name)
        .up()
        .append_extra_attribute(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
            vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
        )]));
    host.link()
        .set(up.build())
        .execute()
        .await
        .map_err(|e| format!("set up {host_name}: {e}"))
}

/// Inside the pod: interface `k` up, its address, the default route on the first one.
async fn configure(job: &Job, pod: &Handle, k: usize) -> Result<(), Failure> {
    let name = ifname(k);
    let link = pod
        .link()
        .get()
        .match_name(name.clone())
        .execute()
        .try_next()
        .await
        .map_err(|e| format!("find {name}: {e}"))?
        .ok_or_else(|| format!("{name} is not in the pod"))?;
    let index = link.header.index;
    if k != 1 {
        pod.link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(|e| format!("set up {name}: {e}"))?;
    }
    pod.address()
        .add(index, IpAddr::V4(address(k, job.pod)), 16)
        .execute()
        .await
        .map_err(|e| format!("address on {name}: {e}"))?;
    if k == 0 {
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .gateway(Ipv4Addr::new(10, 80, 0, 1))
            .output_interface(index)
            .build();
        pod.route()
            .add(route)
            .execute()
            .await
            .map_err(|e| format!("default route: {e}"))?;
    }
    Ok(())
}

async fn delete(pod: &Handle, k: usize) -> Result<(), Failure> {
    let name = ifname(k);
    let mut req = pod.link().del(0);
    req.message_mut()
        .attributes
        .push(LinkAttribute::IfName(name.clone()));
    req.execute()
        .await
        .map_err(|e| format!("delete {name}: {e}"))
}

/// One pod's work on the calling thread (which enters the pod's netns).
fn pod(job: &Job) -> Result<(), Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async {
        let pod_ns = File::open(&job.netns).map_err(|e| format!("{}: {e}", job.netns))?;
        let host = connect()?;
        if job.add {
            for k in 0..job.ifaces {
                create(job, &host, &pod_ns, k).await?;
            }
        }
        nix::sched::setns(&pod_ns, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns: {e}"))?;
        let pod = connect()?;
        for k in 0..job.ifaces {
            if job.add {
                configure(job, &pod, k).await?;
            } else {
                delete(&pod, k).await?;
            }
        }
        Ok(())
    })
}

/// The index of `name` in the caller's netns.
fn index_of(name: &str) -> Result<u32, Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async {
        connect()?
            .link()
            .get()
            .match_name(name.to_owned())
            .execute()
            .try_next()
            .await
            .map_err(|e| format!("find {name}: {e}"))?
            .map(|l| l.header.index)
            .ok_or_else(|| format!("no interface {name}"))
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [cmd, ifaces, prefix, pods, bridges, uplink] = args.as_slice() else {
        fail("usage: netloom-bare-pods add|del IFACES NETNS_PREFIX PODS BRIDGE0,BRIDGE2 UPLINK")
    };
    let add = match cmd.as_str() {
        "add" => true,
        "del" => false,
        other => fail(&format!("unknown command {other}")),
    };
    let ifaces: usize = ifaces.parse().unwrap_or_else(|_| fail("IFACES: 1 to 3"));
    let pods: usize = pods.parse().unwrap_or_else(|_| fail("PODS: a number"));
    if !(1..=3).contains(&ifaces) {
        fail("IFACES: 1 to 3");
    }
    let (b0, b2) = bridges
        .split_once(',')
        .unwrap_or_else(|| fail("BRIDGE0,BRIDGE2"));
    let lookup = |n: &str| index_of(n).unwrap_or_else(|e| fail(&e));
    let (bridges, uplink) = ([lookup(b0), lookup(b2)], lookup(uplink));
    let go = Arc::new(Barrier::new(pods + 1));
    let threads: Vec<_> = (1..=pods)
        .map(|i| {
            let job = Job {
                add,
                ifaces,
                netns: format!("{prefix}{i}"),
                pod: i,
                bridges,
                uplink,
            };
            let go = go.clone();
            std::thread::spawn(move || {
                go.wait();
                let started = Instant::now();
                let out = pod(&job);
                (started.elapsed().as_secs_f64() * 1000.0, out)
            })
        })
        .collect();
    go.wait();
    let started = Instant::now();
    let calls: Vec<_> = threads
        .into_iter()
        .map(|t| match t.join() {
            Ok((ms, Ok(()))) => json!({"ms": ms, "ok": true, "output": ""}),
            Ok((ms, Err(e))) => json!({"ms": ms, "ok": false, "output": e}),
            Err(_) => json!({"ms": 0.0, "ok": false, "output": "thread panicked"}),
        })
        .collect();
    let wall = started.elapsed().as_secs_f64() * 1000.0;
    println!("{}", json!({"wallMs": wall, "calls": calls}));
}

fn fail(msg: &str) -> ! {
    eprintln!("netloom-bare-pods: {msg}");
    std::process::exit(2)
}
