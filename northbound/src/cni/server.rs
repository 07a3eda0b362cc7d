//! The CNI socket server: one call per connection. Each call is checked against the CNI
//! specification's rules for its command, then run on the blocking pool (the backend does
//! netlink work in other network namespaces on its own threads), so calls for different pods
//! run in parallel; the backend serializes calls for one container.

use std::collections::HashMap;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::net::{UnixListener, UnixStream};

use super::call::{CniCall, CniError, Command, SUPPORTED_VERSIONS};
use super::framing::{read_frame, write_frame};
use crate::accept::Acceptor;

/// The daemon's side of CNI: ADD, DEL, CHECK, GC and STATUS. Blocking: it is called on
/// the blocking pool. `Ok(None)` is a success with nothing to print (DEL, GC, STATUS).
pub trait CniBackend: Send + Sync + 'static {
    fn call(&self, call: CniCall) -> Result<Option<Value>, CniError>;
}

/// Bind the socket (synchronously, so a bad path fails the daemon's start): make the parent
/// directory, replace a stale socket file a previous daemon left, allow only root.
pub fn bind(path: &Path) -> std::io::Result<std::os::unix::net::UnixListener> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)?;
    }
    if std::os::unix::net::UnixStream::connect(path).is_err() {
        // nobody answers: a leftover of a daemon that died
        let _ = std::fs::remove_file(path);
    }
    let l = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Accept and serve calls until the task is dropped.
pub async fn serve(listener: UnixListener, backend: Arc<dyn CniBackend>) -> std::io::Result<()> {
    let mut acceptor = Acceptor::new("CNI");
    loop {
        let (stream, _) = acceptor.next(|| listener.accept()).await;
        let accepted = unix_micros();
        let backend = backend.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, backend, accepted).await {
                tracing::debug!(error = %e, "CNI connection ended with an error");
            }
        });
    }
}

/// Microseconds since the Unix epoch: the shim stamps its start with it, so a call's time
/// from the shim's exec to the daemon's accept can be told (both read the same clock).
fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// A phase of a call at debug level (target `netloom::timing`, as the daemon's phases).
fn timing(op: &'static str, us: u64) {
    tracing::debug!(target: "netloom::timing", op, us);
}

async fn connection(
    mut stream: UnixStream,
    backend: Arc<dyn CniBackend>,
    accepted: u64,
) -> std::io::Result<()> {
    let Some(frame) = read_frame(&mut stream).await? else {
        return Ok(());
    };
    let read = unix_micros();
    let shim_started = serde_json::from_slice::<Value>(&frame)
        .ok()
        .and_then(|m| m.get("startedUs").and_then(Value::as_u64));
    let (ok, output) = match decode(&frame) {
        Err((e, version)) => {
            tracing::info!(code = e.code, msg = %e.msg, "CNI call refused");
            (false, e.to_json(&version))
        }
        Ok(call) if call.command == Command::Version => (true, version_result(&call.cni_version)),
        Ok(call) => {
            let span = tracing::info_span!(
                "cni",
                command = call.command.as_str(),
                container = %call.container_id,
                ifname = %call.ifname
            );
            let version = call.cni_version.clone();
            let started = std::time::Instant::now();
            // the call's span on the blocking thread too: the backend's events belong to it
            let inner = span.clone();
            let result = tokio::task::spawn_blocking(move || {
                let _g = inner.enter();
                timing("blocking pool", started.elapsed().as_micros() as u64);
                backend.call(call)
            })
            .await
            .unwrap_or_else(|e| {
                Err(
                    CniError::new(CniError::IO_FAILURE, "the CNI service failed")
                        .with_details(e.to_string()),
                )
            });
            let _g = span.enter();
            if let Some(t0) = shim_started {
                timing("shim exec to accept", accepted.saturating_sub(t0));
            }
            timing("read frame", read.saturating_sub(accepted));
            match result {
                Ok(v) => {
                    tracing::debug!(
                        micros = started.elapsed().as_micros() as u64,
                        "CNI call done"
                    );
                    (true, v.unwrap_or(Value::Null))
                }
                Err(e) => {
                    tracing::warn!(code = e.code, msg = %e.msg, details = %e.details, "CNI call failed");
                    (false, e.to_json(&version))
                }
            }
        }
    };
    let reply = json!({ "ok": ok, "output": output });
    write_frame(&mut stream, reply.to_string().as_bytes()).await
}

/// The VERSION result.
pub fn version_result(cni_version: &str) -> Value {
    json!({ "cniVersion": cni_version, "supportedVersions": SUPPORTED_VERSIONS })
}

const LATEST: &str = "1.1.0";

/// A frame to a checked call, or the CNI error (and the version to report it in).
fn decode(frame: &[u8]) -> Result<CniCall, (CniError, String)> {
    let fail = |code, msg: &str| (CniError::new(code, msg), LATEST.to_owned());
    let msg: Value = serde_json::from_slice(frame)
        .map_err(|e| fail(CniError::DECODE_FAILURE, &format!("bad request frame: {e}")))?;
    let env: HashMap<String, String> = msg
        .get("env")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let var = |k: &str| env.get(k).cloned().unwrap_or_default();
    let command_text = var("CNI_COMMAND");
    let command = Command::parse(&command_text).ok_or_else(|| {
        fail(
            CniError::INVALID_ENV,
            &format!("CNI_COMMAND {command_text:?} is not a CNI command"),
        )
    })?;
    let stdin = msg.get("stdin").and_then(Value::as_str).unwrap_or("");
    let config: Value = if command == Command::Version && stdin.trim().is_empty() {
        json!({ "cniVersion": LATEST })
    } else {
        serde_json::from_str(stdin).map_err(|e| {
            fail(
                CniError::DECODE_FAILURE,
                &format!("the network config is not JSON: {e}"),
            )
        })?
    };
    if !config.is_object() {
        return Err(fail(
            CniError::DECODE_FAILURE,
            "the network config is not a JSON object",
        ));
    }
    let cni_version = config
        .get("cniVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if command == Command::Version {
        return Ok(CniCall {
            command,
            container_id: String::new(),
            netns: String::new(),
            ifname: String::new(),
            args: Vec::new(),
            path: String::new(),
            config,
            cni_version: if cni_version.is_empty() {
                LATEST.into()
            } else {
                cni_version
            },
        });
    }
    if !SUPPORTED_VERSIONS.contains(&cni_version.as_str()) {
        return Err(fail(
            CniError::INCOMPATIBLE_VERSION,
            &format!(
                "cniVersion {cni_version:?} is not one of {}",
                SUPPORTED_VERSIONS.join(", ")
            ),
        ));
    }
    let needs = |k: &str, when: bool| -> Result<String, (CniError, String)> {
        let v = var(k);
        if when && v.is_empty() {
            return Err((
                CniError::new(
                    CniError::INVALID_ENV,
                    format!("{k} is required for {command_text}"),
                ),
                cni_version.clone(),
            ));
        }
        Ok(v)
    };
    let per_container = matches!(command, Command::Add | Command::Del | Command::Check);
    let container_id = needs("CNI_CONTAINERID", per_container)?;
    let ifname = needs("CNI_IFNAME", per_container)?;
    let netns = needs(
        "CNI_NETNS",
        matches!(command, Command::Add | Command::Check),
    )?;
    if per_container
        && (ifname.len() > 15 || ifname.contains('/') || ifname == "." || ifname == "..")
    {
        return Err((
            CniError::new(
                CniError::INVALID_ENV,
                format!("CNI_IFNAME {ifname:?} is not a Linux interface name"),
            ),
            cni_version,
        ));
    }
    let mut args = Vec::new();
    for pair in var("CNI_ARGS").split(';').filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            return Err((
                CniError::new(
                    CniError::INVALID_ENV,
                    format!("CNI_ARGS entry {pair:?} is not KEY=VALUE"),
                ),
                cni_version,
            ));
        };
        args.push((k.to_owned(), v.to_owned()));
    }
    Ok(CniCall {
        command,
        container_id,
        netns,
        ifname,
        args,
        path: var("CNI_PATH"),
        config,
        cni_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(env: Value, stdin: &str) -> Vec<u8> {
        json!({ "env": env, "stdin": stdin })
            .to_string()
            .into_bytes()
    }

    #[test]
    fn decodes_an_add_and_its_args() {
        let call = decode(&frame(
            json!({"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_IFNAME": "eth0",
                   "CNI_NETNS": "/run/netns/p", "CNI_ARGS": "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p"}),
            r#"{"cniVersion":"1.1.0","name":"n","type":"netloom"}"#,
        ))
        .unwrap();
        assert_eq!(call.command, Command::Add);
        assert_eq!(call.arg("K8S_POD_NAME"), Some("p"));
        assert_eq!(call.cni_version, "1.1.0");
    }

    #[test]
    fn refusals_carry_the_spec_codes() {
        let code = |env: Value, stdin: &str| decode(&frame(env, stdin)).unwrap_err().0.code;
        let add = json!({"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c", "CNI_IFNAME": "eth0", "CNI_NETNS": "/x"});
        assert_eq!(code(add.clone(), "{not json"), CniError::DECODE_FAILURE);
        assert_eq!(
            code(add.clone(), r#"{"cniVersion":"9.9.9"}"#),
            CniError::INCOMPATIBLE_VERSION
        );
        assert_eq!(
            code(json!({"CNI_COMMAND": "ADD"}), r#"{"cniVersion":"1.1.0"}"#),
            CniError::INVALID_ENV
        );
        assert_eq!(
            code(json!({"CNI_COMMAND": "FOO"}), "{}"),
            CniError::INVALID_ENV
        );
        assert_eq!(
            code(
                json!({"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c", "CNI_IFNAME": "waytoolonginterfacename", "CNI_NETNS": "/x"}),
                r#"{"cniVersion":"1.1.0"}"#
            ),
            CniError::INVALID_ENV
        );
        assert_eq!(
            decode(&frame(json!({"CNI_COMMAND": "VERSION"}), ""))
                .unwrap()
                .cni_version,
            "1.1.0"
        );
        // DEL needs no netns: the pod may be gone already
        assert!(decode(&frame(
            json!({"CNI_COMMAND": "DEL", "CNI_CONTAINERID": "c", "CNI_IFNAME": "eth0"}),
            r#"{"cniVersion":"1.1.0"}"#
        ))
        .is_ok());
    }
}
