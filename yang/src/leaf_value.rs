//! One leaf value, as XML text, checked and canonicalized by libyang's own type plugins
//! without building a data tree: what lets an edit's data skip the XML -> libyang tree ->
//! JSON round trip when every value is of a kind whose XML and JSON texts agree. The RFC 7951
//! form follows the value's real type (a union's member, a leafref's target) exactly as
//! libyang's JSON printer chooses it.

#![allow(unsafe_code)] // libyang FFI: lyd_value_validate is not in yang3's API.

use std::ffi::CStr;

use serde_json::{Number, Value};
use yang3::ffi;

use crate::schema::{NodeId, NodeKind, Schema};

impl Schema {
    /// The RFC 7951 JSON value libyang gives leaf (or leaf-list) `node` holding XML text
    /// `text`; None when the text is invalid for the type, or when the value's XML form is
    /// not its JSON form (module prefixes): the caller then converts through libyang, which
    /// also words the error.
    pub fn leaf_json_of_xml(&self, node: NodeId, text: &str) -> Option<Value> {
        let info = self.node(node);
        if !matches!(info.kind, NodeKind::Leaf | NodeKind::LeafList)
            || info.xml_prefixed
            || text.contains('\0')
        {
            return None;
        }
        let raw = info.raw as *const ffi::lysc_node;
        if raw.is_null() {
            return None;
        }
        let mut realtype: *const ffi::lysc_type = std::ptr::null();
        let mut canonical: *const std::os::raw::c_char = std::ptr::null();
        // SAFETY: `raw` is a compiled leaf or leaf-list of this schema's context, which lives
        // as long as `self`. A null context makes libyang log nothing and use the node's own
        // context; the value is read within its length (no terminator needed); `realtype`
        // and `canonical` are written only on success; `canonical` is then a dictionary
        // string of that context, released below after it is copied.
        unsafe {
            let rc = ffi::lyd_value_validate(
                std::ptr::null(),
                raw,
                text.as_ptr().cast(),
                text.len(),
                std::ptr::null(),
                &mut realtype,
                &mut canonical,
            );
            // Incomplete: a leafref's target instance is left unchecked, as in a parse
            // without validation; the commit's validation checks it.
            let stored = rc == ffi::LY_ERR::LY_SUCCESS || rc == ffi::LY_ERR::LY_EINCOMPLETE;
            if !stored || realtype.is_null() || canonical.is_null() {
                if !canonical.is_null() {
                    ffi::lydict_remove((*(*raw).module).ctx, canonical);
                }
                return None;
            }
            let value = CStr::from_ptr(canonical)
                .to_str()
                .ok()
                .and_then(|c| json_value((*realtype).basetype, c));
            ffi::lydict_remove((*(*raw).module).ctx, canonical);
            value
        }
    }
}

/// A canonical value as libyang's JSON printer writes it for a real type of `basetype`
/// (a bare number or boolean, `[null]` for empty, a string otherwise), as serde reads it.
fn json_value(basetype: ffi::LY_DATA_TYPE::Type, canonical: &str) -> Option<Value> {
    use ffi::LY_DATA_TYPE::*;
    match basetype {
        LY_TYPE_BINARY | LY_TYPE_STRING | LY_TYPE_BITS | LY_TYPE_ENUM | LY_TYPE_INT64
        | LY_TYPE_UINT64 | LY_TYPE_DEC64 => Some(Value::String(canonical.to_owned())),
        LY_TYPE_INT8 | LY_TYPE_INT16 | LY_TYPE_INT32 => canonical
            .parse::<i64>()
            .ok()
            .map(|n| Value::Number(Number::from(n))),
        LY_TYPE_UINT8 | LY_TYPE_UINT16 | LY_TYPE_UINT32 => canonical
            .parse::<u64>()
            .ok()
            .map(|n| Value::Number(Number::from(n))),
        LY_TYPE_BOOL => match canonical {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        LY_TYPE_EMPTY => Some(Value::Array(vec![Value::Null])),
        // identityref, instance-identifier (prefixed: refused above), and anything libyang
        // would not print as a value.
        _ => None,
    }
}
