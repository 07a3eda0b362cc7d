//! A CLI session: the schema, the connection to the daemon, the mode (operational or
//! configure), and the execution of one command line.

use netloom_yang::Schema;
use serde_json::json;

use crate::client::{Client, ClientError};
use crate::command::{split_display, tokenize, ParseError, Word};
use crate::configure::Configure;
use crate::operational;

/// Operational-mode commands and what they do.
pub const OPERATIONAL: &[(&str, &str)] = &[
    ("show", "Show configuration, state and the commit log"),
    ("configure", "Enter configure mode (a private candidate)"),
    ("help", "List the commands of this mode"),
    ("exit", "Leave the CLI"),
    ("quit", "Leave the CLI"),
];

/// Configure-mode commands and what they do.
pub const CONFIGURE: &[(&str, &str)] = &[
    ("set", "Set a value, or create a list entry or container"),
    ("delete", "Delete a subtree, a leaf or a leaf-list value"),
    ("edit", "Move to a subtree"),
    ("up", "Move one level up"),
    ("top", "Move to the top"),
    (
        "show",
        "Show the candidate (this session's changes included)",
    ),
    ("compare", "Show what a commit would change in running"),
    ("validate", "Check the candidate as a commit would"),
    ("commit", "Commit: [comment TEXT] [confirmed MINUTES]"),
    (
        "confirm",
        "Confirm the pending confirmed commit: [persist-id ID]",
    ),
    (
        "rollback",
        "Load commit N's configuration into the candidate (then compare, commit)",
    ),
    ("discard", "Drop this session's uncommitted changes"),
    (
        "update",
        "Take others' commits in, keeping this session's changes on top",
    ),
    ("run", "Run an operational command"),
    ("help", "List the commands of this mode"),
    ("exit", "Go up a level; at the top leave configure mode"),
    ("quit", "Same as exit"),
];

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The line itself is wrong; the error is about one word.
    #[error("{}", .0.message)]
    Parse(ParseError),
    /// The daemon (or the mode) refused; the session goes on.
    #[error("{0}")]
    Refused(String),
    /// The connection is gone.
    #[error(transparent)]
    Fatal(ClientError),
}

impl From<ParseError> for Failure {
    fn from(e: ParseError) -> Self {
        Failure::Parse(e)
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        if e.is_fatal() {
            Failure::Fatal(e)
        } else {
            Failure::Refused(e.to_string())
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Exit,
}

pub struct Shell {
    pub schema: Schema,
    pub client: Client,
    pub config: Option<Configure>,
    pub user: String,
    /// A confirmed commit of this session waits for `confirm`.
    pub confirm_pending: bool,
}

impl Shell {
    pub fn new(schema: Schema, mut client: Client) -> Result<Shell, ClientError> {
        let hello = client.call(&json!({"op": "hello"}))?;
        Ok(Shell {
            schema,
            client,
            config: None,
            user: hello["user"].as_str().unwrap_or("?").to_owned(),
            confirm_pending: false,
        })
    }

    pub fn prompt(&self) -> String {
        match &self.config {
            Some(_) => format!("{}@netloom# ", self.user),
            None => format!("{}@netloom> ", self.user),
        }
    }

    /// Run one line; output is appended to `out`.
    pub fn exec(&mut self, line: &str, out: &mut String) -> Result<Flow, Failure> {
        let words = tokenize(line)?;
        if words.is_empty() {
            return Ok(Flow::Continue);
        }
        if self.config.is_some() {
            return crate::configure::exec(self, &words, out);
        }
        self.exec_operational(&words, out)
    }

    pub fn exec_operational(&mut self, words: &[Word], out: &mut String) -> Result<Flow, Failure> {
        let (words, display) = split_display(words)?;
        let Some(cmd) = words.first() else {
            return Ok(Flow::Continue);
        };
        match cmd.text.as_str() {
            "show" => operational::show(self, cmd, &words[1..], display, out)?,
            "configure" => {
                no_more(&words[1..])?;
                let reply = self.client.call(&json!({"op": "configure"}))?;
                self.config = Some(Configure::default());
                out.push_str(&format!(
                    "configure mode: a private candidate on commit {}\n",
                    reply["base"]
                ));
            }
            "help" => help(OPERATIONAL, out),
            "exit" | "quit" => return Ok(Flow::Exit),
            "rollback" | "commit" | "confirm" | "set" | "delete" => {
                return Err(ParseError::at(
                    cmd,
                    format!(
                        "'{}' is a configure-mode command: `configure` first",
                        cmd.text
                    ),
                )
                .into())
            }
            _ => return Err(unknown_command(cmd, OPERATIONAL).into()),
        }
        Ok(Flow::Continue)
    }
}

pub fn help(commands: &[(&str, &str)], out: &mut String) {
    for (name, what) in commands {
        out.push_str(&format!("  {name:<12}{what}\n"));
    }
}

pub fn unknown_command(word: &Word, commands: &[(&str, &str)]) -> ParseError {
    let names: Vec<&str> = commands.iter().map(|(n, _)| *n).collect();
    ParseError::at(
        word,
        format!(
            "unknown command '{}'; commands: {}",
            word.text,
            names.join(", ")
        ),
    )
}

/// Refuse words after a complete command.
pub fn no_more(words: &[Word]) -> Result<(), ParseError> {
    match words.first() {
        Some(w) => Err(ParseError::at(w, format!("unexpected '{}'", w.text))),
        None => Ok(()),
    }
}
