//! netloomd's core: the [`engine::Engine`] (the single writer and its commit pipeline), the
//! incremental validation scope, semantic checks, the planner and executor, the engine's
//! service thread, and local users.

pub mod checks;
pub mod cni;
pub mod engine;
pub mod error;
pub mod executor;
pub mod interfaces;
pub mod ipam;
pub mod plan;
pub mod scope;
pub mod service;
pub mod state;
pub mod uniques;
pub mod users;

pub use engine::{Engine, Outcome};
pub use error::Error;
