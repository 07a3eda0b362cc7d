//! netloom's YANG layer: the embedded modules, one libyang context built from them, a
//! Rust-side index of the schema, the unit model the datastores are made of, instance paths
//! (XPath and RESTCONF forms), edits, validation and encodings, and the typed config model
//! the engine plans from.

mod batch;
mod canonical;
mod defaults;
mod defaults_xml;
mod deps;
mod edit;
mod error;
mod leaf_value;
pub mod model;
mod modules;
mod path;
mod print;
mod schema;
mod secret;
mod shapes;
mod unit;
mod validate;
mod value;
mod xml_cache;
mod xml_out;
mod xml_template;

pub use batch::{EditBatch, EntryText};
pub use defaults::DefaultSensitivity;
pub use defaults_xml::DefaultsMode;
pub use deps::{Dependency, DependencyGraph, KeyRef};
pub use edit::{Edit, EditOp};
pub use error::{Error, ErrorTag};
pub use modules::{Module, ProtocolModule, MODULES, PROTOCOL_MODULES};
pub use path::{DataPath, Segment};
pub use print::print_data;
pub use schema::{NodeId, NodeKind, Schema, SchemaNodeInfo};
pub use shapes::Shapes;
pub use unit::{remainder_members, UnitKey, UnitListId, UnitMap};
pub use validate::Encoding;
pub use xml_cache::XmlCache;
