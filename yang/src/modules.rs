//! The YANG modules compiled into netloom. libyang supplies the IETF base modules it ships
//! (ietf-inet-types, ietf-yang-types, ietf-yang-metadata, ietf-datastores,
//! ietf-yang-library, ...); the NETCONF protocol modules netloom implements are written
//! here from their RFCs.

/// One embedded module.
#[derive(Debug, Clone, Copy)]
pub struct Module {
    pub name: &'static str,
    pub revision: &'static str,
    pub namespace: &'static str,
    pub text: &'static str,
}

/// A protocol module: how it is loaded into the context.
#[derive(Debug, Clone, Copy)]
pub struct ProtocolModule {
    pub module: Module,
    /// Implemented (its RPCs, notifications, state and annotations exist in the context)
    /// or only there for others to import.
    pub implemented: bool,
    /// The features netloom supports.
    pub features: &'static [&'static str],
}

/// Every data module netloom implements, in load order: the configuration and state the
/// datastores hold.
pub static MODULES: &[Module] = &[Module {
    name: "netloom-host",
    revision: "2026-11-21",
    namespace: "urn:netloom:yang:netloom-host",
    text: include_str!("../modules/netloom-host.yang"),
}];

/// The standard modules of the management protocols, loaded after [`MODULES`]. None of them
/// adds configuration: ietf-netconf-acm, the only one with config nodes, is import-only.
pub static PROTOCOL_MODULES: &[ProtocolModule] = &[
    ProtocolModule {
        module: Module {
            name: "ietf-netconf-acm",
            revision: "2018-02-14",
            namespace: "urn:ietf:params:xml:ns:yang:ietf-netconf-acm",
            text: include_str!("../modules/ietf-netconf-acm.yang"),
        },
        implemented: false,
        features: &[],
    },
    ProtocolModule {
        module: Module {
            name: "ietf-netconf",
            revision: "2011-06-01",
            namespace: "urn:ietf:params:xml:ns:netconf:base:1.0",
            text: include_str!("../modules/ietf-netconf.yang"),
        },
        implemented: true,
        features: &[
            "writable-running",
            "candidate",
            "confirmed-commit",
            "rollback-on-error",
            "validate",
            "startup",
            "xpath",
        ],
    },
    ProtocolModule {
        module: Module {
            name: "ietf-netconf-with-defaults",
            revision: "2011-06-01",
            namespace: "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults",
            text: include_str!("../modules/ietf-netconf-with-defaults.yang"),
        },
        implemented: true,
        features: &[],
    },
    ProtocolModule {
        module: Module {
            name: "ietf-origin",
            revision: "2018-02-14",
            namespace: "urn:ietf:params:xml:ns:yang:ietf-origin",
            text: include_str!("../modules/ietf-origin.yang"),
        },
        implemented: true,
        features: &[],
    },
    ProtocolModule {
        module: Module {
            name: "ietf-netconf-monitoring",
            revision: "2010-10-04",
            namespace: "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring",
            text: include_str!("../modules/ietf-netconf-monitoring.yang"),
        },
        implemented: true,
        features: &[],
    },
    ProtocolModule {
        module: Module {
            name: "ietf-netconf-notifications",
            revision: "2012-02-06",
            namespace: "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications",
            text: include_str!("../modules/ietf-netconf-notifications.yang"),
        },
        implemented: true,
        features: &[],
    },
    ProtocolModule {
        module: Module {
            name: "ietf-netconf-nmda",
            revision: "2019-01-07",
            namespace: "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda",
            text: include_str!("../modules/ietf-netconf-nmda.yang"),
        },
        implemented: true,
        features: &["origin", "with-defaults"],
    },
];
