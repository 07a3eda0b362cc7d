//! Command lines: words (with quotes), the display pipe (`| json`, `| xml`, `| display set`),
//! and the walk of words through the YANG schema that `set`, `delete`, `edit`, `show` and
//! completion share. Every error carries the column of the word it is about.

use netloom_yang::{DataPath, NodeId, NodeKind, Schema, Segment};
use serde_json::Value;

/// One word of a command line; `start`/`end` are character columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub start: usize,
    pub end: usize,
    pub quoted: bool,
}

/// An error about the word at column `col`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub col: usize,
    pub message: String,
}

impl ParseError {
    pub fn at(word: &Word, message: impl Into<String>) -> Self {
        ParseError {
            col: word.start,
            message: message.into(),
        }
    }
}

/// How a result is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    Default,
    Json,
    Xml,
    Set,
}

/// Split a line into words. Quotes (`"` or `'`) group a word; a backslash escapes the next
/// character inside double quotes and outside quotes.
pub fn tokenize(line: &str) -> Result<Vec<Word>, ParseError> {
    let (words, open) = tokenize_partial(line);
    match open {
        Some(col) => Err(ParseError {
            col,
            message: "unbalanced quote: this quote is never closed".into(),
        }),
        None => Ok(words),
    }
}

/// [`tokenize`] for a line still being typed: also returns the column of a quote left open
/// (the last word then runs to the end of the line).
pub fn tokenize_partial(line: &str) -> (Vec<Word>, Option<usize>) {
    let mut words = Vec::new();
    let mut chars = line.chars().enumerate().peekable();
    while let Some(&(col, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let start = col;
        let mut text = String::new();
        let mut quoted = false;
        let mut end = col;
        while let Some(&(col, c)) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            end = col + 1;
            match c {
                '"' | '\'' => {
                    quoted = true;
                    let mut closed = false;
                    while let Some((col, q)) = chars.next() {
                        end = col + 1;
                        if q == c {
                            closed = true;
                            break;
                        }
                        if q == '\\' && c == '"' {
                            if let Some((col, e)) = chars.next() {
                                end = col + 1;
                                text.push(e);
                            }
                            continue;
                        }
                        text.push(q);
                    }
                    if !closed {
                        words.push(Word {
                            text,
                            start,
                            end,
                            quoted,
                        });
                        return (words, Some(col));
                    }
                }
                '\\' => {
                    if let Some((col, e)) = chars.next() {
                        end = col + 1;
                        text.push(e);
                    }
                }
                _ => text.push(c),
            }
        }
        words.push(Word {
            text,
            start,
            end,
            quoted,
        });
    }
    (words, None)
}

/// Cut `| json`, `| xml`, `| display set` (also `| display json|xml`) off a command.
pub fn split_display(words: &[Word]) -> Result<(&[Word], Display), ParseError> {
    let Some(bar) = words.iter().position(|w| w.text == "|" && !w.quoted) else {
        return Ok((words, Display::Default));
    };
    let rest: Vec<&str> = words[bar + 1..].iter().map(|w| w.text.as_str()).collect();
    let display = match rest.as_slice() {
        ["json"] | ["display", "json"] => Display::Json,
        ["xml"] | ["display", "xml"] => Display::Xml,
        ["display", "set"] => Display::Set,
        _ => {
            let at = words.get(bar + 1).unwrap_or(&words[bar]);
            return Err(ParseError::at(at, "after '|': json, xml or display set"));
        }
    };
    Ok((&words[..bar], display))
}

/// One step into the data tree; a list step carries its key values in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub node: NodeId,
    pub keys: Vec<String>,
}

/// What the next word of a schema walk would be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// A child of this node (the roots when none).
    Child(Option<NodeId>),
    /// The next key of a list entry; `fixed` are the keys given so far.
    Key { list: NodeId, fixed: Vec<String> },
    /// The value of a leaf or leaf-list.
    Value(NodeId),
    /// Nothing more.
    Done,
}

#[derive(Debug, Clone)]
pub struct Walked {
    pub steps: Vec<Step>,
    /// A leaf's value: its RFC 7951 JSON and the word it came from.
    pub value: Option<(Value, Word)>,
    pub want: Want,
}

/// The instance path of `steps` (list steps with their keys).
pub fn data_path(schema: &Schema, steps: &[Step]) -> DataPath {
    let mut segments = Vec::with_capacity(steps.len());
    let mut module: Option<&str> = None;
    for step in steps {
        let info = schema.node(step.node);
        let keys = info
            .keys
            .iter()
            .cloned()
            .zip(step.keys.iter().cloned())
            .collect();
        segments.push(Segment {
            module: (module != Some(info.module.as_str())).then(|| info.module.clone()),
            name: info.name.clone(),
            keys,
            value: None,
            node: Some(step.node),
        });
        module = Some(info.module.as_str());
    }
    DataPath { segments }
}

/// The data children of `parent` (the roots when none) a walk may enter.
pub fn children(schema: &Schema, parent: Option<NodeId>, config_only: bool) -> Vec<NodeId> {
    let all = match parent {
        Some(p) => schema.node(p).children.clone(),
        None => schema.roots().to_vec(),
    };
    all.into_iter()
        .filter(|&c| !config_only || schema.node(c).config)
        .filter(|&c| {
            // Keys are given right after the list name, never as children.
            parent.is_none_or(|p| !schema.node(p).keys.contains(&schema.node(c).name))
        })
        .collect()
}

/// A short description of a leaf's type: `uint16 68..65535 (units)` or `enum: a|b|c`.
pub fn type_summary(schema: &Schema, leaf: NodeId) -> String {
    let n = schema.node(leaf);
    let mut out = n
        .type_name
        .as_deref()
        .map(|t| t.to_lowercase())
        .unwrap_or_default();
    if !n.enums.is_empty() {
        out = format!("{out}: {}", n.enums.join("|"));
    }
    if let Some(r) = &n.range {
        out.push_str(&format!(" {r}"));
    }
    if let Some(u) = &n.units {
        out.push_str(&format!(" ({u})"));
    }
    if let Some(d) = &n.default {
        out.push_str(&format!(" [default {d}]"));
    }
    out
}

fn is_empty_type(schema: &Schema, leaf: NodeId) -> bool {
    schema.node(leaf).type_name.as_deref() == Some("Empty")
}

/// Walk `words` from `context` through the schema. Leaf values are checked against their
/// types; list keys against theirs once the entry's keys are complete.
pub fn walk(
    schema: &Schema,
    context: &[Step],
    words: &[Word],
    config_only: bool,
) -> Result<Walked, ParseError> {
    let mut steps = context.to_vec();
    let mut want = Want::Child(steps.last().map(|s| s.node));
    let mut value = None;
    let mut key_words: Vec<Word> = Vec::new();
    for word in words {
        want = match want {
            Want::Child(parent) => {
                let choices = children(schema, parent, config_only);
                let found = choices.iter().copied().find(|&c| {
                    let n = schema.node(c);
                    n.name == word.text || format!("{}:{}", n.module, n.name) == word.text
                });
                let Some(node) = found else {
                    let names: Vec<&str> = choices
                        .iter()
                        .map(|&c| schema.node(c).name.as_str())
                        .collect();
                    let here = parent.map_or("at the top".to_owned(), |p| {
                        format!("in '{}'", schema.node(p).name)
                    });
                    return Err(ParseError::at(
                        word,
                        format!(
                            "unknown element '{}' {here}; expected one of: {}",
                            word.text,
                            names.join(", ")
                        ),
                    ));
                };
                steps.push(Step {
                    node,
                    keys: Vec::new(),
                });
                match schema.node(node).kind {
                    NodeKind::Container { .. } => Want::Child(Some(node)),
                    NodeKind::List => {
                        key_words.clear();
                        Want::Key {
                            list: node,
                            fixed: Vec::new(),
                        }
                    }
                    NodeKind::Leaf | NodeKind::LeafList => Want::Value(node),
                }
            }
            Want::Key { list, mut fixed } => {
                fixed.push(word.text.clone());
                key_words.push(word.clone());
                let keys = &schema.node(list).keys;
                if fixed.len() < keys.len() {
                    Want::Key { list, fixed }
                } else {
                    if let Some(last) = steps.last_mut() {
                        last.keys = fixed;
                    }
                    check_keys(schema, &steps, &key_words)?;
                    Want::Child(Some(list))
                }
            }
            Want::Value(leaf) => {
                let path = data_path(schema, &steps);
                let json = schema.leaf_json(&path, &word.text).map_err(|e| {
                    ParseError::at(
                        word,
                        format!(
                            "bad value for '{}' ({}): {}",
                            schema.node(leaf).name,
                            type_summary(schema, leaf),
                            libyang_message(&e.to_string())
                        ),
                    )
                })?;
                value = Some((json, word.clone()));
                Want::Done
            }
            Want::Done => {
                return Err(ParseError::at(word, format!("unexpected '{}'", word.text)));
            }
        };
    }
    Ok(Walked { steps, value, want })
}

/// Check each key of the last (list) step against its leaf's type.
fn check_keys(schema: &Schema, steps: &[Step], words: &[Word]) -> Result<(), ParseError> {
    let Some(last) = steps.last() else {
        return Ok(());
    };
    let mut path = data_path(schema, steps);
    for (i, key) in schema.node(last.node).keys.iter().enumerate() {
        path.segments.push(Segment {
            module: None,
            name: key.clone(),
            keys: Vec::new(),
            value: None,
            node: None,
        });
        let text = &last.keys[i];
        if let Err(e) = schema.leaf_json(&path, text) {
            let leaf = schema.child(last.node, None, key);
            let summary = leaf.map(|l| type_summary(schema, l)).unwrap_or_default();
            return Err(ParseError::at(
                &words[i],
                format!(
                    "bad key '{key}' ({summary}): {}",
                    libyang_message(&e.to_string())
                ),
            ));
        }
        path.segments.pop();
    }
    Ok(())
}

/// libyang's message without its trailing data path.
fn libyang_message(m: &str) -> String {
    let m = match m.split_once(": ") {
        Some((path, rest)) if path.starts_with('/') => rest,
        _ => m,
    };
    m.split(" (path:")
        .next()
        .unwrap_or(m)
        .trim_end_matches('.')
        .to_owned()
}

/// What `set` makes of a finished walk: the node to merge and its JSON value.
pub fn set_value(schema: &Schema, walked: &Walked, end: usize) -> Result<Value, ParseError> {
    match &walked.want {
        Want::Done => Ok(walked
            .value
            .as_ref()
            .map(|(v, _)| v.clone())
            .unwrap_or(Value::Null)),
        Want::Value(leaf) if is_empty_type(schema, *leaf) => Ok(Value::Array(vec![Value::Null])),
        Want::Value(leaf) => Err(ParseError {
            col: end,
            message: format!(
                "missing value for '{}' ({})",
                schema.node(*leaf).name,
                type_summary(schema, *leaf)
            ),
        }),
        Want::Key { list, fixed } => Err(ParseError {
            col: end,
            message: format!(
                "missing key '{}' of '{}'",
                schema.node(*list).keys[fixed.len()],
                schema.node(*list).name
            ),
        }),
        Want::Child(Some(_)) if !walked.steps.is_empty() => {
            Ok(Value::Object(serde_json::Map::new()))
        }
        Want::Child(_) => Err(ParseError {
            col: end,
            message: "set what? (a path, and a value for a leaf)".into(),
        }),
    }
}

/// The path an edit of a finished walk names (a leaf-list value selects its entry).
pub fn edit_path(schema: &Schema, walked: &Walked) -> DataPath {
    let mut path = data_path(schema, &walked.steps);
    if let (Some((value, word)), Some(last)) = (&walked.value, walked.steps.last()) {
        if schema.node(last.node).kind == NodeKind::LeafList {
            if let Some(seg) = path.segments.last_mut() {
                seg.value = Some(match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string().trim_matches('"').to_owned(),
                });
                let _ = word;
            }
        }
    }
    path
}

/// The words of `steps` as a command would spell them (for prompts and `display set`).
pub fn spell(schema: &Schema, steps: &[Step]) -> String {
    let mut out = Vec::new();
    for s in steps {
        out.push(schema.node(s.node).name.clone());
        out.extend(s.keys.iter().map(|k| quote(k)));
    }
    out.join(" ")
}

/// A word as it must be typed to read back as `text`.
pub fn quote(text: &str) -> String {
    if !text.is_empty()
        && !text
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | '|'))
    {
        return text.to_owned();
    }
    let mut out = String::from("\"");
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        tokenize(line)
            .unwrap()
            .into_iter()
            .map(|w| w.text)
            .collect()
    }

    #[test]
    fn words_quotes_and_columns() {
        assert_eq!(texts("set a  b"), ["set", "a", "b"]);
        assert_eq!(
            texts(r#"set description "two words" x"#),
            ["set", "description", "two words", "x"]
        );
        assert_eq!(
            texts(r#"say 'it''s' "a \"q\"""#),
            ["say", "its", r#"a "q""#]
        );
        let w = tokenize("show  networks").unwrap();
        assert_eq!((w[1].start, w[1].end), (6, 14));
        let e = tokenize(r#"set description "open"#).unwrap_err();
        assert_eq!(e.col, 16);
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(texts(&quote(r#"x "y""#)), [r#"x "y""#]);
    }

    #[test]
    fn walks_set_paths_with_typed_values() {
        let s = Schema::new().unwrap();
        let words = tokenize("networks network blue mtu 1500").unwrap();
        let w = walk(&s, &[], &words, true).unwrap();
        assert_eq!(w.want, Want::Done);
        assert_eq!(w.value.as_ref().unwrap().0, Value::from(1500));
        assert_eq!(
            edit_path(&s, &w).to_xpath().unwrap(),
            "/netloom-host:networks/network[name='blue']/mtu"
        );
        let words = tokenize("networks network blue mtu 70000").unwrap();
        let e = walk(&s, &[], &words, true).unwrap_err();
        assert_eq!(e.col, words[4].start);
        assert!(e.message.contains("68..65535"), "{}", e.message);
        let words = tokenize("networks netwrk blue").unwrap();
        let e = walk(&s, &[], &words, true).unwrap_err();
        assert_eq!(e.col, words[1].start);
        let words = tokenize("networks network 'bad name' mtu 1500").unwrap();
        let e = walk(&s, &[], &words, true).unwrap_err();
        assert_eq!(e.col, words[2].start, "{}", e.message);
        let words = tokenize("state").unwrap();
        assert!(walk(&s, &[], &words, true).is_err());
        let words = tokenize("pods pod default").unwrap();
        let w = walk(&s, &[], &words, true).unwrap();
        assert!(matches!(w.want, Want::Key { .. }));
    }
}
