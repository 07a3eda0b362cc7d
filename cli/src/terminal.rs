//! The interactive terminal: rustyline line editing with history, Tab completion, `?` help
//! (the line is kept and shown again after the help), and errors pointed at with a caret.

use std::borrow::Cow;
use std::cell::RefCell;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{
    Cmd, CompletionType, ConditionalEventHandler, Config, Context, Editor, Event, EventContext,
    EventHandler, Helper, KeyCode, KeyEvent, Modifiers, RepeatCount,
};

use crate::command::{quote, tokenize_partial};
use crate::complete::{complete, help_text};
use crate::configure::banner;
use crate::shell::{Failure, Flow, Shell};

struct CliHelper {
    shell: Rc<RefCell<Shell>>,
}

impl Completer for CliHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let Ok(mut shell) = self.shell.try_borrow_mut() else {
            return Ok((pos, Vec::new()));
        };
        let c = complete(&mut shell, &line[..pos]);
        let start = line.char_indices().nth(c.start).map_or(pos, |(b, _)| b);
        let pairs = c
            .candidates
            .into_iter()
            .map(|x| Pair {
                display: x.word.clone(),
                replacement: format!("{} ", quote(&x.word)),
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for CliHelper {
    type Hint = String;
}

impl Highlighter for CliHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(&'s self, prompt: &'p str, _: bool) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}

impl Validator for CliHelper {}
impl Helper for CliHelper {}

/// `?` outside quotes asks for help: the line is stashed and accepted, the loop prints help
/// and offers the same line again.
struct HelpKey {
    asked: Arc<Mutex<Option<String>>>,
}

impl ConditionalEventHandler for HelpKey {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, ctx: &EventContext<'_>) -> Option<Cmd> {
        let line = ctx.line();
        if tokenize_partial(&line[..ctx.pos()]).1.is_some() {
            return None;
        }
        if let Ok(mut asked) = self.asked.lock() {
            *asked = Some(line.to_owned());
        }
        Some(Cmd::AcceptLine)
    }
}

fn history_file() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".netloom_history"))
}

pub fn interactive(shell: Shell) -> ExitCode {
    let shell = Rc::new(RefCell::new(shell));
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .build();
    let mut editor: Editor<CliHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("netloom: terminal: {e}");
            return ExitCode::from(2);
        }
    };
    editor.set_helper(Some(CliHelper {
        shell: shell.clone(),
    }));
    let asked = Arc::new(Mutex::new(None));
    editor.bind_sequence(
        KeyEvent(KeyCode::Char('?'), Modifiers::NONE),
        EventHandler::Conditional(Box::new(HelpKey {
            asked: asked.clone(),
        })),
    );
    if let Some(h) = history_file() {
        let _ = editor.load_history(&h);
    }
    let mut initial = String::new();
    let mut warned_eof = false;
    let code = loop {
        let prompt = {
            let s = shell.borrow();
            if let Some(b) = banner(&s) {
                println!("{b}");
            }
            s.prompt()
        };
        let read = editor.readline_with_initial(&prompt, (&initial, ""));
        initial.clear();
        let line = match read {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => {
                let dirty = shell.borrow().config.as_ref().is_some_and(|c| c.dirty);
                if dirty && !warned_eof {
                    println!("uncommitted changes: `commit` them, or Ctrl-D again to drop them");
                    warned_eof = true;
                    continue;
                }
                break ExitCode::SUCCESS;
            }
            Err(e) => {
                eprintln!("netloom: terminal: {e}");
                break ExitCode::from(2);
            }
        };
        if let Some(asked_line) = asked.lock().ok().and_then(|mut a| a.take()) {
            let c = complete(&mut shell.borrow_mut(), &asked_line);
            print!("{}", help_text(&c));
            initial = asked_line;
            continue;
        }
        warned_eof = false;
        if !line.trim().is_empty() {
            let _ = editor.add_history_entry(line.as_str());
        }
        let mut out = String::new();
        let result = shell.borrow_mut().exec(&line, &mut out);
        print!("{out}");
        match result {
            Ok(Flow::Continue) => {}
            Ok(Flow::Exit) => break ExitCode::SUCCESS,
            Err(Failure::Parse(e)) => {
                let pad = prompt.chars().count() + e.col;
                println!("{}^ error: {}", " ".repeat(pad), e.message);
            }
            Err(Failure::Refused(m)) => println!("error: {m}"),
            Err(Failure::Fatal(e)) => {
                eprintln!("netloom: {e}");
                break ExitCode::from(2);
            }
        }
    };
    if let Some(h) = history_file() {
        let _ = editor.save_history(&h);
    }
    if shell.borrow().confirm_pending {
        println!("note: the confirmed commit still waits: `confirm` it from a CLI session before its timeout, or it is rolled back");
    }
    code
}
