//! libyang's data printer into a string, safe when nothing is printed. yang3's
//! `print_string` reads libyang's buffer without checking it, and libyang gives none when a
//! tree prints empty (trim leaving only default values, explicit mode over implicit
//! nodes): a get-config with with-defaults trim of a value equal to its default made the
//! daemon dereference null. Every data print goes through here.
#![allow(unsafe_code)] // libyang FFI: lyd_print_mem and its malloc'd buffer.

use std::ffi::CStr;

use yang3::data::{Data, DataFormat, DataPrinterFlags};
use yang3::ffi;

/// `data` printed (the node alone, or with its siblings by `flags`); empty when nothing is.
pub fn print_data<'a>(
    data: &impl Data<'a>,
    format: DataFormat,
    flags: DataPrinterFlags,
) -> Result<String, yang3::Error> {
    let mut buf: *mut std::os::raw::c_char = std::ptr::null_mut();
    // SAFETY: `data` is a live tree or node of its context; libyang allocates the buffer
    // with malloc (or leaves it null), and it is freed here once copied.
    unsafe {
        let ret = ffi::lyd_print_mem(&mut buf, data.raw(), format as u32, flags.bits());
        if ret != ffi::LY_ERR::LY_SUCCESS {
            if !buf.is_null() {
                ffi::free(buf.cast());
            }
            return Err(yang3::Error::new(data.context()));
        }
        if buf.is_null() {
            return Ok(String::new());
        }
        let text = CStr::from_ptr(buf).to_string_lossy().into_owned();
        ffi::free(buf.cast());
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use yang3::data::{DataParserFlags, DataTree, DataValidationFlags};

    use super::*;
    use crate::Schema;

    #[test]
    fn a_tree_that_prints_nothing_is_an_empty_string() {
        let s = Schema::new().unwrap();
        let tree = DataTree::parse_string(
            s.context(),
            r#"{"netloom-host:system":{"commit-history":1000}}"#,
            DataFormat::JSON,
            DataParserFlags::STRICT | DataParserFlags::NO_VALIDATION,
            DataValidationFlags::empty(),
        )
        .unwrap();
        let trim = DataPrinterFlags::WITH_SIBLINGS | DataPrinterFlags::WD_TRIM;
        assert_eq!(print_data(&tree, DataFormat::XML, trim).unwrap(), "");
        let all = DataPrinterFlags::WITH_SIBLINGS | DataPrinterFlags::WD_ALL;
        assert!(print_data(&tree, DataFormat::XML, all)
            .unwrap()
            .contains("<commit-history>1000</commit-history>"));
    }
}
