//! Capabilities: the models netloom serves (name, organization, revision as version) and the
//! encodings it speaks.

use netloom_yang::MODULES;

use super::proto::gnmi::{CapabilityResponse, Encoding, ModelData};

pub const GNMI_VERSION: &str = "0.10.0";

pub fn capabilities() -> CapabilityResponse {
    CapabilityResponse {
        supported_models: MODULES
            .iter()
            .map(|m| ModelData {
                name: m.name.to_owned(),
                organization: organization(m.text).unwrap_or_default(),
                version: m.revision.to_owned(),
            })
            .collect(),
        supported_encodings: [
            Encoding::Json,
            Encoding::JsonIetf,
            Encoding::Proto,
            Encoding::Ascii,
        ]
        .into_iter()
        .map(i32::from)
        .collect(),
        g_nmi_version: GNMI_VERSION.to_owned(),
        extension: Vec::new(),
    }
}

/// The module's `organization` statement (its quoted argument).
fn organization(text: &str) -> Option<String> {
    let start = text.find("\n  organization")? + "\n  organization".len();
    let rest = &text[start..];
    let open = rest.find('"')? + 1;
    let close = rest[open..].find('"')? + open;
    Some(
        rest[open..close]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_module_and_its_organization() {
        let c = capabilities();
        assert_eq!(c.supported_models[0].name, "netloom-host");
        assert_eq!(c.supported_models[0].organization, "The netloom project");
        assert!(c.supported_encodings.contains(&(Encoding::JsonIetf as i32)));
    }
}
