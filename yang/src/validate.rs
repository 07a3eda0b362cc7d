//! libyang validation and encodings. A document is parsed strictly (unknown nodes, wrong
//! types and state data in config are errors) and validated as a whole (must, when,
//! leafref, unique, mandatory, min/max-elements); the canonical form printed back is what
//! the datastores keep, so equal configs have equal texts.

use yang3::data::{
    DataFormat, DataImplicitFlags, DataParserFlags, DataPrinterFlags, DataTree, DataValidationFlags,
};

use crate::error::Error;
use crate::schema::Schema;
use crate::unit::UnitKey;

/// A data encoding front ends speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// RFC 7951 JSON.
    Json,
    /// RFC 7950 XML.
    Xml,
}

impl Encoding {
    pub(crate) fn format(self) -> DataFormat {
        match self {
            Encoding::Json => DataFormat::JSON,
            Encoding::Xml => DataFormat::XML,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::Json => "JSON",
            Encoding::Xml => "XML",
        }
    }
}

fn reject_nul(data: &str, enc: Encoding) -> Result<(), Error> {
    if data.contains('\0') {
        return Err(Error::Malformed {
            format: enc.name(),
            reason: "NUL character in input".into(),
        });
    }
    Ok(())
}

pub(crate) fn print(tree: &DataTree<'_>, enc: Encoding) -> Result<String, Error> {
    if tree.reference().is_none() {
        return Ok(match enc {
            Encoding::Json => "{}".into(),
            Encoding::Xml => String::new(),
        });
    }
    crate::print_data(
        tree,
        enc.format(),
        DataPrinterFlags::WITH_SIBLINGS | DataPrinterFlags::SHRINK,
    )
    .map_err(|e| Error::Context(e.to_string()))
}

impl Schema {
    /// Parse and validate a configuration document; returns it in canonical JSON
    /// (explicitly set nodes only, defaults left implicit).
    pub fn validate(&self, doc: &str, enc: Encoding) -> Result<String, Error> {
        self.validate_with(doc, enc, DataValidationFlags::NO_STATE)
    }

    fn validate_with(
        &self,
        doc: &str,
        enc: Encoding,
        flags: DataValidationFlags,
    ) -> Result<String, Error> {
        reject_nul(doc, enc)?;
        let no_defaults =
            flags.contains(DataValidationFlags::from_bits_retain(VALIDATE_NO_DEFAULTS));
        // The parser adds every inner node's defaults itself, whatever the validation
        // flags say (libyang `lyd_parser_validate_new_implicit`): without defaults, parse
        // only and validate the whole tree afterwards, where NO_DEFAULTS is honoured.
        let tree = if no_defaults {
            let mut tree = DataTree::parse_string(
                self.context(),
                doc,
                enc.format(),
                DataParserFlags::STRICT
                    | DataParserFlags::NO_STATE
                    | DataParserFlags::NO_VALIDATION,
                DataValidationFlags::empty(),
            )
            .map_err(|e| Error::from_libyang(e, "/"))?;
            tree.validate(flags)
                .map_err(|e| Error::from_libyang(e, "/"))?;
            tree
        } else {
            DataTree::parse_string(
                self.context(),
                doc,
                enc.format(),
                DataParserFlags::STRICT | DataParserFlags::NO_STATE,
                flags,
            )
            .map_err(|e| Error::from_libyang(e, "/"))?
        };
        print(&tree, Encoding::Json)
    }

    /// Validate a JSON document and split its canonical form into unit texts.
    pub fn validate_units(&self, doc: &str) -> Result<Vec<(UnitKey, String)>, Error> {
        let canonical = self.validate(doc, Encoding::Json)?;
        self.split_canonical(&canonical)
    }

    /// [`Schema::validate_units`] of a document made of `units` only, without libyang's
    /// default nodes when [`crate::DefaultSensitivity`] proves none can be read there
    /// and enough of them would be made to pay for the second pass.
    pub fn validate_scope_units<'a>(
        &self,
        doc: &str,
        units: impl Iterator<Item = &'a UnitKey> + Clone,
    ) -> Result<Vec<(UnitKey, String)>, Error> {
        let mut flags = DataValidationFlags::NO_STATE;
        if self.default_sensitivity().worth_skipping(units) {
            flags |= DataValidationFlags::from_bits_retain(VALIDATE_NO_DEFAULTS);
        }
        let canonical = self.validate_with(doc, Encoding::Json, flags)?;
        self.split_canonical(&canonical)
    }

    /// Validation as [`Schema::validate_units`] but without default nodes, whatever the
    /// lists: for proving the two agree where the analysis says they must.
    #[doc(hidden)]
    pub fn validate_units_without_defaults(
        &self,
        doc: &str,
    ) -> Result<Vec<(UnitKey, String)>, Error> {
        let flags = DataValidationFlags::NO_STATE
            | DataValidationFlags::from_bits_retain(VALIDATE_NO_DEFAULTS);
        let canonical = self.validate_with(doc, Encoding::Json, flags)?;
        self.split_canonical(&canonical)
    }

    /// Re-encode data (config or state) without validating it; unknown nodes are errors.
    pub fn convert(&self, data: &str, from: Encoding, to: Encoding) -> Result<String, Error> {
        reject_nul(data, from)?;
        let tree = DataTree::parse_string(
            self.context(),
            data,
            from.format(),
            DataParserFlags::STRICT | DataParserFlags::NO_VALIDATION,
            DataValidationFlags::empty(),
        )
        .map_err(|e| Error::from_libyang(e, "/"))?;
        print(&tree, to)
    }
}

impl Schema {
    /// A configuration document with every default the schema gives it (RFC 6243
    /// report-all): libyang's implicit nodes, including defaults under a `when` that holds
    /// and none under one that does not ([`Schema::add_implicit`], entry by entry where
    /// that is exact: validating the document to have libyang add them was quadratic in a
    /// list's entries, 10 s for a RESTCONF report-all read of 10k networks). Nothing is
    /// checked: this reads, it does not admit anything.
    pub fn with_defaults(&self, doc: &str) -> Result<String, Error> {
        reject_nul(doc, Encoding::Json)?;
        let mut tree = DataTree::parse_string(
            self.context(),
            doc,
            DataFormat::JSON,
            DataParserFlags::STRICT | DataParserFlags::NO_VALIDATION,
            DataValidationFlags::empty(),
        )
        .map_err(|e| Error::from_libyang(e, "/"))?;
        self.add_implicit(&mut tree, DataImplicitFlags::NO_STATE)?;
        if tree.reference().is_none() {
            return Ok("{}".into());
        }
        crate::print_data(
            &tree,
            DataFormat::JSON,
            DataPrinterFlags::WITH_SIBLINGS | DataPrinterFlags::SHRINK | DataPrinterFlags::WD_ALL,
        )
        .map_err(|e| Error::Context(e.to_string()))
    }
}

/// libyang's `LYD_VALIDATE_NO_DEFAULTS` (no default leaves created; non-presence containers
/// still are), which yang3 does not name.
const VALIDATE_NO_DEFAULTS: u32 = 0x0010;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorTag;

    #[test]
    fn validation_reports_path_and_constraint() {
        let s = Schema::new().unwrap();
        let missing_uplink =
            r#"{"netloom-host:networks":{"network":[{"name":"m","type":"macvlan"}]}}"#;
        let e = s.validate(missing_uplink, Encoding::Json).unwrap_err();
        assert!(e.to_string().contains("needs an uplink"), "{e}");
        assert!(
            e.error_path().unwrap().contains("network[name='m']"),
            "{e:?}"
        );

        let dangling = r#"{"netloom-host:pods":{"pod":[{"namespace":"n","name":"p","interface":[{"name":"eth0","network":"nope"}]}]}}"#;
        let e = s.validate(dangling, Encoding::Json).unwrap_err();
        assert_eq!(e.tag(), ErrorTag::InvalidValue);
        assert!(e.to_string().contains("nope"), "{e}");

        let unknown = r#"{"netloom-host:networks":{"bogus":1}}"#;
        assert!(s.validate(unknown, Encoding::Json).is_err());
        assert!(s.validate("{\"a\":\0}", Encoding::Json).is_err());
    }

    #[test]
    fn canonical_form_and_xml_round_trip() {
        let s = Schema::new().unwrap();
        let doc = r#"{"netloom-host:networks":{"network":[{"name":"v6","type":"bridge","ipam":{"pool":[{"name":"p","subnet":"2001:DB8:0::/64"}]}}]}}"#;
        let c = s.validate(doc, Encoding::Json).unwrap();
        assert!(c.contains("2001:db8::/64"), "{c}");
        let xml = s.convert(&c, Encoding::Json, Encoding::Xml).unwrap();
        assert!(
            xml.contains("xmlns=\"urn:netloom:yang:netloom-host\""),
            "{xml}"
        );
        let back = s.convert(&xml, Encoding::Xml, Encoding::Json).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn defaults_follow_when() {
        let s = Schema::new().unwrap();
        let doc = r#"{"netloom-host:networks":{"network":[{"name":"x","type":"vxlan","vxlan":{"vni":5,"remote":["192.0.2.1"]}}]}}"#;
        let full = s.with_defaults(doc).unwrap();
        assert!(full.contains("\"port\":4789"), "{full}");
        assert!(!full.contains("\"macvlan\""), "{full}");
    }
}
