//! Compiles the gNMI protos (written for netloom from the specification) into Rust with the
//! vendored protoc, so a fresh machine needs no system protoc.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    std::env::set_var("PROTOC", protoc);
    let include = protoc_bin_vendored::include_path()?;
    println!("cargo:rerun-if-changed=proto");
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_protos(
            &[
                PathBuf::from("proto/gnmi.proto"),
                PathBuf::from("proto/gnmi_ext.proto"),
            ],
            &[PathBuf::from("proto"), include],
        )?;
    Ok(())
}
