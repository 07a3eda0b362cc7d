//! End-to-end tests live in `tests/`; this crate also builds the helper binaries they drive.
