//! Compiles the gNMI protos (written for netloom from the specification) into Rust with the
//! vendored protoc, so a fresh machine needs no system protoc.
//!
//! Two passes: the messages and the client as generated, then the server alone, whose
//! Subscribe responses are `crate::gnmi::wire::WireResponse` (a response built as usual, or a
//! sample whose updates were encoded once and are shared by every subscriber).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    std::env::set_var("PROTOC", protoc);
    let include = protoc_bin_vendored::include_path()?;
    println!("cargo:rerun-if-changed=proto");
    let protos = [
        PathBuf::from("proto/gnmi.proto"),
        PathBuf::from("proto/gnmi_ext.proto"),
    ];
    let includes = [PathBuf::from("proto"), include];
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .compile_protos(&protos, &includes)?;
    let server = PathBuf::from(std::env::var("OUT_DIR")?).join("server");
    std::fs::create_dir_all(&server)?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(false)
        .out_dir(&server)
        // The most specific extern path wins.
        .extern_path(".gnmi.SubscribeResponse", "crate::gnmi::wire::WireResponse")
        .extern_path(".gnmi", "crate::gnmi::proto::gnmi")
        .extern_path(".gnmi_ext", "crate::gnmi::proto::gnmi_ext")
        .compile_protos(&protos[..1], &includes)?;
    Ok(())
}
