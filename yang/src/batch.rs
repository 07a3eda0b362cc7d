//! Edit batches: edits, then whole list entries that a front end has already written as the
//! unit texts those edits would store. A bulk create of new entries then costs one text per
//! entry, instead of a JSON tree built by the front end, split into units again and
//! re-serialized unit by unit when applied.

use std::sync::Arc;

use crate::edit::Edit;
use crate::unit::UnitKey;

/// One whole entry of a unit list, merged into the datastore. `text` is exactly what
/// merging the entry's RFC 7951 value through an [`Edit`] would store in an empty
/// datastore (canonical values, members in schema order, compact): where no unit exists
/// at `key` it is stored as it is; otherwise it is merged into that unit as a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryText {
    pub key: UnitKey,
    pub text: Arc<str>,
}

/// Edits applied in order, then entries merged in order.
#[derive(Debug, Clone, Default)]
pub struct EditBatch {
    pub edits: Vec<Edit>,
    pub entries: Vec<EntryText>,
}

impl EditBatch {
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty() && self.entries.is_empty()
    }
}

impl From<Vec<Edit>> for EditBatch {
    fn from(edits: Vec<Edit>) -> Self {
        EditBatch {
            edits,
            entries: Vec::new(),
        }
    }
}

impl From<&[Edit]> for EditBatch {
    fn from(edits: &[Edit]) -> Self {
        edits.to_vec().into()
    }
}

impl From<&Vec<Edit>> for EditBatch {
    fn from(edits: &Vec<Edit>) -> Self {
        edits.clone().into()
    }
}

impl<const N: usize> From<&[Edit; N]> for EditBatch {
    fn from(edits: &[Edit; N]) -> Self {
        edits.to_vec().into()
    }
}

impl<const N: usize> From<[Edit; N]> for EditBatch {
    fn from(edits: [Edit; N]) -> Self {
        Vec::from(edits).into()
    }
}
