//! The YANG modules compiled into netloom. libyang supplies the IETF base modules it ships
//! (ietf-inet-types, ietf-yang-types, ietf-datastores, ietf-yang-library, ...).

/// One embedded module.
#[derive(Debug, Clone, Copy)]
pub struct Module {
    pub name: &'static str,
    pub revision: &'static str,
    pub namespace: &'static str,
    pub text: &'static str,
}

/// Every module netloom implements, in load order.
pub static MODULES: &[Module] = &[Module {
    name: "netloom-host",
    revision: "2026-11-21",
    namespace: "urn:netloom:yang:netloom-host",
    text: include_str!("../modules/netloom-host.yang"),
}];
