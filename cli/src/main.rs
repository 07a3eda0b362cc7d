//! netloom: the operator's CLI for netloomd. Interactive with completion, `?` help and
//! history on a terminal; one command per `-c` or per stdin line for scripts (exit status 0
//! when every command succeeded, 1 when one failed, 2 when netloomd cannot be reached).

mod client;
mod command;
mod complete;
mod configure;
mod drill;
mod operational;
mod shell;
mod show;
mod terminal;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::client::Client;
use crate::shell::{Failure, Flow, Shell};

#[derive(Debug, Parser)]
#[command(name = "netloom", version, about = "netloom's command line")]
struct Args {
    /// netloomd's CLI socket (default: cli.sock in $NETLOOM_DATA_DIR, else
    /// /run/netloom/cli.sock when it exists, else ./netloom-data/cli.sock).
    #[arg(long, env = "NETLOOM_CLI_SOCKET")]
    socket: Option<PathBuf>,
    /// Run this command and exit (repeat to run several in one session).
    #[arg(short = 'c', long = "command")]
    commands: Vec<String>,
    /// Print the completions of a line with the time they took (for benchmarks).
    #[arg(long, hide = true)]
    complete: Option<String>,
}

fn socket_path(args: &Args) -> PathBuf {
    if let Some(s) = &args.socket {
        return s.clone();
    }
    if let Some(dir) = std::env::var_os("NETLOOM_DATA_DIR") {
        return PathBuf::from(dir).join("cli.sock");
    }
    let system = PathBuf::from("/run/netloom/cli.sock");
    if system.exists() {
        return system;
    }
    PathBuf::from("./netloom-data/cli.sock")
}

fn main() -> ExitCode {
    let args = Args::parse();
    let shell = match netloom_yang::Schema::new()
        .map_err(anyhow::Error::from)
        .and_then(|schema| {
            let client = Client::connect(&socket_path(&args))?;
            Ok(Shell::new(schema, client)?)
        }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("netloom: {e:#}");
            return ExitCode::from(2);
        }
    };
    if let Some(line) = &args.complete {
        return complete_once(shell, line);
    }
    if !args.commands.is_empty() {
        let lines = args.commands.clone().into_iter().map(Ok);
        return script(shell, lines);
    }
    if std::io::stdin().is_terminal() {
        return terminal::interactive(shell);
    }
    script(shell, std::io::stdin().lock().lines())
}

/// Consecutive `set` lines a script sends as one request.
const BATCH: usize = 1000;

type Batch = Vec<(usize, serde_json::Value)>;

/// Send the batched `set` lines; report a refusal with the line it is about.
fn flush(shell: &mut Shell, batch: &mut Batch) -> Result<(), ExitCode> {
    if batch.is_empty() {
        return Ok(());
    }
    let lines: Vec<usize> = batch.iter().map(|(n, _)| *n).collect();
    let edits = batch.drain(..).map(|(_, e)| e).collect();
    match configure::send_batch(shell, edits) {
        Ok(()) => Ok(()),
        Err((at, Failure::Refused(m))) => {
            match at {
                Some(i) => eprintln!("error: line {}: {m}", lines[i] + 1),
                None => eprintln!(
                    "error: lines {}-{}: {m}",
                    lines[0] + 1,
                    lines[lines.len() - 1] + 1
                ),
            }
            Err(ExitCode::from(1))
        }
        Err((_, e)) => {
            eprintln!("netloom: {e}");
            Err(ExitCode::from(2))
        }
    }
}

/// Run lines until one fails; report errors with their line and column. Consecutive `set`
/// lines (each checked here first) go to the daemon in batches: 10,000 lines cost a few
/// requests, not 10,000 round trips.
fn script(mut shell: Shell, lines: impl Iterator<Item = std::io::Result<String>>) -> ExitCode {
    let stdout = std::io::stdout();
    let mut batch: Batch = Vec::new();
    for (n, line) in lines.enumerate() {
        let Ok(line) = line else {
            eprintln!("netloom: reading stdin failed");
            return ExitCode::from(2);
        };
        let mut out = String::new();
        let checked = command::tokenize(&line)
            .map_err(Failure::Parse)
            .and_then(|words| configure::batchable(&shell, &words));
        if let Ok(Some(edit)) = checked {
            batch.push((n, edit));
            if batch.len() == BATCH {
                if let Err(code) = flush(&mut shell, &mut batch) {
                    return code;
                }
            }
            continue;
        }
        if let Err(code) = flush(&mut shell, &mut batch) {
            return code;
        }
        let result = match checked {
            Err(e) => Err(e),
            _ => shell.exec(&line, &mut out),
        };

        let _ = stdout.lock().write_all(out.as_bytes());
        match result {
            Ok(Flow::Continue) => {}
            Ok(Flow::Exit) => break,
            Err(Failure::Parse(e)) => {
                let word: String = line
                    .chars()
                    .skip(e.col)
                    .take_while(|c| !c.is_whitespace())
                    .collect();
                eprintln!(
                    "error: line {}, column {}{}: {}",
                    n + 1,
                    e.col + 1,
                    if word.is_empty() {
                        String::new()
                    } else {
                        format!(" ('{word}')")
                    },
                    e.message
                );
                return ExitCode::from(1);
            }
            Err(Failure::Refused(m)) => {
                eprintln!("error: line {}: {m}", n + 1);
                return ExitCode::from(1);
            }
            Err(Failure::Fatal(e)) => {
                eprintln!("netloom: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let Err(code) = flush(&mut shell, &mut batch) {
        return code;
    }
    if shell.config.as_ref().is_some_and(|c| c.dirty) {
        eprintln!("warning: uncommitted changes dropped at the end of input");
    }
    if shell.confirm_pending {
        eprintln!("note: the confirmed commit still waits: `confirm` it from a CLI session before its timeout, or it is rolled back");
    }
    ExitCode::SUCCESS
}

fn complete_once(mut shell: Shell, line: &str) -> ExitCode {
    let (line, configure) = match line.strip_prefix("configure:") {
        Some(rest) => (rest, true),
        None => (line, false),
    };
    if configure {
        let mut out = String::new();
        if let Err(e) = shell.exec("configure", &mut out) {
            eprintln!("netloom: {e}");
            return ExitCode::from(1);
        }
    }
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..20 {
        let t = std::time::Instant::now();
        let c = complete::complete(&mut shell, line);
        times.push(t.elapsed());
        last = Some(c);
    }
    times.sort();
    if let Some(c) = last {
        for x in &c.candidates {
            println!("{}", x.word);
        }
        if let Some(n) = &c.note {
            println!("# {n}");
        }
    }
    eprintln!(
        "completion: median {:.2} ms, max {:.2} ms over {} runs",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        times.len()
    );
    ExitCode::SUCCESS
}
