//! The daemon's CLI socket, as the `netloom` binary speaks it: one JSON request per line,
//! one reply per line (the protocol is described in netloom-northbound's `cli::protocol`).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach netloomd at {path}: {source}")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("connection to netloomd lost: {0}")]
    Io(#[from] std::io::Error),
    #[error("netloomd sent a reply that is not JSON: {0}")]
    Reply(#[from] serde_json::Error),
    #[error("{message}")]
    Daemon {
        tag: String,
        path: Option<String>,
        message: String,
    },
}

impl ClientError {
    /// Whether the session is gone (as opposed to one request refused).
    pub fn is_fatal(&self) -> bool {
        !matches!(self, ClientError::Daemon { .. })
    }
}

#[derive(Debug)]
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    pub fn connect(path: &Path) -> Result<Client, ClientError> {
        let fail = |source| ClientError::Connect {
            path: path.to_owned(),
            source,
        };
        let stream = UnixStream::connect(path).map_err(fail)?;
        Ok(Client {
            reader: BufReader::new(stream.try_clone().map_err(fail)?),
            writer: stream,
        })
    }

    /// Send one request; the reply's fields on success.
    pub fn call(&mut self, request: &Value) -> Result<Value, ClientError> {
        let mut line = request.to_string();
        line.push('\n');
        self.writer.write_all(line.as_bytes())?;
        let mut reply = String::new();
        if self.reader.read_line(&mut reply)? == 0 {
            return Err(ClientError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        let reply: Value = serde_json::from_str(&reply)?;
        if reply["ok"] == true {
            return Ok(reply);
        }
        let e = &reply["error"];
        Err(ClientError::Daemon {
            tag: e["tag"].as_str().unwrap_or("operation-failed").to_owned(),
            path: e["path"].as_str().map(str::to_owned),
            message: e["message"].as_str().unwrap_or("request failed").to_owned(),
        })
    }
}
