//! netloom's dataplane drivers. They speak plain specs (`LinkSpec`, `RouteSpec`, ...), never
//! YANG: the daemon's planner turns config into [`Op`]s, and a driver applies each op and
//! hands back the op that undoes it, so a failed commit can be unwound in reverse order.

mod driver;
pub mod kernel;
mod memory;
pub mod observe;
pub mod pod;
mod spec;

pub use driver::{DataplaneDriver, DriverError};
pub use kernel::{KernelDriver, KernelPods};
pub use memory::MemoryDriver;
pub use pod::{
    MemoryPods, PodDriver, PodInterfaceSpec, PodInterfaceState, PodLinkKind, Reconciled,
};
pub use spec::{LinkKind, LinkSpec, NftBatch, Op, OvsPortSpec, RouteSpec, RuleSpec, VfSpec};
