//! CNI attachments: one row per pod interface netloom attached.

/// A pod interface attached through CNI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub container_id: String,
    pub interface: String,
    pub netns: String,
    pub pod_namespace: String,
    pub pod_name: String,
    pub network: String,
    /// The CNI result (JSON) for this interface, as handed out.
    pub result: String,
    pub created_ms: i64,
}
