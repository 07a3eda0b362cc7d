//! netloom's northbound: the request API every front end (RESTCONF, NETCONF, gNMI, the CLI
//! socket, the CNI socket) is a client of, and the front ends themselves. Front ends never
//! touch the store or the dataplane: they send [`api::Request`]s through an [`api::Handle`]
//! and read immutable snapshots.

mod accept;
pub mod api;
pub mod auth;
pub mod cli;
pub mod cni;
pub mod gnmi;
pub mod interfaces;
pub mod netconf;
pub mod restconf;
pub mod secrets;
pub mod tls;
