//! RFC 8040 section 4.8 query parameters: parsed once, checked against the method (an
//! unknown or misplaced parameter is a 400), and the `fields` expression as a tree.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;

use super::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Content {
    #[default]
    All,
    Config,
    Nonconfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WithDefaults {
    /// What was set, nothing more (netloom's basic mode).
    #[default]
    Explicit,
    ReportAll,
    ReportAllTagged,
    Trim,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Insert {
    First,
    Last,
    Before(String),
    After(String),
}

/// `fields`: child name -> what to keep below it (empty: everything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(pub BTreeMap<String, Fields>);

#[derive(Debug, Clone, Default)]
pub struct Query {
    pub content: Content,
    pub depth: Option<u32>,
    pub fields: Option<Fields>,
    pub with_defaults: WithDefaults,
    pub insert: Option<String>,
    pub point: Option<String>,
    pub start_time: Option<i64>,
    pub stop_time: Option<i64>,
    pub filter: Option<String>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Result<Query, Error> {
        let mut q = Query::default();
        let mut seen = Vec::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode_str(&value.replace('+', "%2B"))
                .decode_utf8()
                .map_err(|_| Error::BadQuery(format!("'{name}' is not UTF-8")))?
                .into_owned();
            if seen.contains(&name.to_owned()) {
                return Err(Error::BadQuery(format!("'{name}' given twice")));
            }
            seen.push(name.to_owned());
            let bad = |why: &str| Error::BadQuery(format!("{name}={value}: {why}"));
            match name {
                "content" => {
                    q.content = match value.as_str() {
                        "all" => Content::All,
                        "config" => Content::Config,
                        "nonconfig" => Content::Nonconfig,
                        _ => return Err(bad("expected all, config or nonconfig")),
                    }
                }
                "depth" => {
                    q.depth = match value.as_str() {
                        "unbounded" => None,
                        v => Some(
                            v.parse::<u32>()
                                .ok()
                                .filter(|d| (1..=65535).contains(d))
                                .ok_or_else(|| bad("expected 1..65535 or unbounded"))?,
                        ),
                    }
                }
                "fields" => q.fields = Some(parse_fields(&value).map_err(|e| bad(&e))?),
                "with-defaults" => {
                    q.with_defaults = match value.as_str() {
                        "explicit" => WithDefaults::Explicit,
                        "report-all" => WithDefaults::ReportAll,
                        "report-all-tagged" => WithDefaults::ReportAllTagged,
                        "trim" => WithDefaults::Trim,
                        _ => {
                            return Err(bad(
                                "expected report-all, report-all-tagged, trim or explicit",
                            ))
                        }
                    }
                }
                "insert" => {
                    if !matches!(value.as_str(), "first" | "last" | "before" | "after") {
                        return Err(bad("expected first, last, before or after"));
                    }
                    q.insert = Some(value);
                }
                "point" => q.point = Some(value),
                "start-time" | "stop-time" => {
                    let ms = crate::api::parse_date_and_time(&value)
                        .ok_or_else(|| bad("expected a date-and-time"))?;
                    if name == "start-time" {
                        q.start_time = Some(ms);
                    } else {
                        q.stop_time = Some(ms);
                    }
                }
                "filter" => q.filter = Some(value),
                other => {
                    return Err(Error::BadQuery(format!(
                        "unknown query parameter '{other}'"
                    )))
                }
            }
        }
        Ok(q)
    }

    /// Refuse parameters the method does not take (RFC 8040 section 4.8 table).
    pub fn allow_only(&self, method: &str, allowed: &[&str]) -> Result<(), Error> {
        let given = [
            ("content", self.content != Content::All),
            ("depth", self.depth.is_some()),
            ("fields", self.fields.is_some()),
            (
                "with-defaults",
                self.with_defaults != WithDefaults::Explicit,
            ),
            ("insert", self.insert.is_some()),
            ("point", self.point.is_some()),
            ("start-time", self.start_time.is_some()),
            ("stop-time", self.stop_time.is_some()),
            ("filter", self.filter.is_some()),
        ];
        for (name, set) in given {
            if set && !allowed.contains(&name) {
                return Err(Error::BadQuery(format!(
                    "'{name}' is not allowed with {method}"
                )));
            }
        }
        Ok(())
    }

    /// The `insert`/`point` pair, checked.
    pub fn insert(&self) -> Result<Option<Insert>, Error> {
        match (self.insert.as_deref(), &self.point) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(Error::BadQuery(
                "'point' needs insert=before or after".into(),
            )),
            (Some("first"), None) => Ok(Some(Insert::First)),
            (Some("last"), None) => Ok(Some(Insert::Last)),
            (Some("before"), Some(p)) => Ok(Some(Insert::Before(p.clone()))),
            (Some("after"), Some(p)) => Ok(Some(Insert::After(p.clone()))),
            (Some(i), _) => Err(Error::BadQuery(format!(
                "insert={i} {} 'point'",
                if matches!(i, "before" | "after") {
                    "needs"
                } else {
                    "takes no"
                }
            ))),
        }
    }

    pub fn transforms(&self) -> bool {
        self.depth.is_some()
            || self.fields.is_some()
            || self.with_defaults != WithDefaults::Explicit
    }
}

/// `fields-expr = path "(" fields-expr ")" / path ";" fields-expr / path` (RFC 8040 4.8.3).
pub fn parse_fields(text: &str) -> Result<Fields, String> {
    let bytes: Vec<char> = text.chars().collect();
    let mut pos = 0;
    let f = fields_expr(&bytes, &mut pos, 0)?;
    if pos != bytes.len() {
        return Err(format!("unexpected '{}'", bytes[pos]));
    }
    Ok(f)
}

fn fields_expr(s: &[char], pos: &mut usize, depth: usize) -> Result<Fields, String> {
    if depth > 32 {
        return Err("nested too deeply".into());
    }
    let mut out = Fields::default();
    loop {
        // path: identifiers separated by '/'
        let mut names = Vec::new();
        loop {
            let start = *pos;
            while *pos < s.len() && !matches!(s[*pos], '/' | ';' | '(' | ')') {
                *pos += 1;
            }
            let id: String = s[start..*pos].iter().collect();
            let local = id.rsplit(':').next().unwrap_or("").to_owned();
            if local.is_empty() {
                return Err("empty node name".into());
            }
            names.push(local);
            if *pos < s.len() && s[*pos] == '/' {
                *pos += 1;
            } else {
                break;
            }
        }
        let mut sub = Fields::default();
        if *pos < s.len() && s[*pos] == '(' {
            *pos += 1;
            sub = fields_expr(s, pos, depth + 1)?;
            if *pos >= s.len() || s[*pos] != ')' {
                return Err("missing ')'".into());
            }
            *pos += 1;
        }
        // insert the path, innermost first
        let mut node = sub;
        for name in names.iter().skip(1).rev() {
            let mut m = Fields::default();
            m.0.insert(name.clone(), node);
            node = m;
        }
        merge(out.0.entry(names[0].clone()).or_default(), node);
        if *pos < s.len() && s[*pos] == ';' {
            *pos += 1;
            continue;
        }
        return Ok(out);
    }
}

fn merge(into: &mut Fields, from: Fields) {
    for (k, v) in from.0 {
        merge(into.0.entry(k).or_default(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_expressions_parse() {
        let f = parse_fields("network(name;ipam/pool(subnet));nl:mtu").unwrap();
        let net = &f.0["network"];
        assert!(net.0["name"].0.is_empty());
        assert!(net.0["ipam"].0["pool"].0.contains_key("subnet"));
        assert!(f.0.contains_key("mtu"));
        assert!(parse_fields("a(b").is_err());
        assert!(parse_fields("a;;b").is_err());
    }

    #[test]
    fn queries_are_checked() {
        let q = Query::parse(Some("depth=2&content=config&with-defaults=report-all")).unwrap();
        assert_eq!(q.depth, Some(2));
        assert_eq!(q.content, Content::Config);
        assert!(Query::parse(Some("depth=0")).is_err());
        assert!(Query::parse(Some("bogus=1")).is_err());
        assert!(Query::parse(Some("depth=1&depth=2")).is_err());
        assert!(q.allow_only("PUT", &[]).is_err());
        let i = Query::parse(Some("insert=before&point=%2Fa")).unwrap();
        assert_eq!(i.insert().unwrap(), Some(Insert::Before("/a".into())));
        assert!(Query::parse(Some("insert=first&point=x"))
            .unwrap()
            .insert()
            .is_err());
    }
}
