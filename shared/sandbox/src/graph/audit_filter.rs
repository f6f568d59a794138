//! The `$filter` of `/auditLogs/directoryAudits`, as far as Graph documents it for the
//! properties docsync and people use: `activityDateTime` (`eq`, `ge`, `le`, `gt`, `lt` with an
//! unquoted ISO 8601 instant), `category`, `activityDisplayName`, `loggedByService`,
//! `operationType`, `result`, `id` and `correlationId` (`eq`), `startswith(activityDisplayName,
//! '...')`, joined by `and` / `or` with parentheses. Anything else is refused, as Graph refuses
//! a clause it does not support.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
    /// `activityDateTime <op> <instant>`.
    Time(Cmp, DateTime<Utc>),
    /// `<property> eq '<text>'`.
    Eq(String, String),
    /// `startswith(<property>, '<text>')`.
    StartsWith(String, String),
}

/// A comparison of `activityDateTime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ge,
    Le,
    Gt,
    Lt,
}

const TEXT_PROPERTIES: [&str; 7] = [
    "category",
    "activityDisplayName",
    "loggedByService",
    "operationType",
    "result",
    "id",
    "correlationId",
];

impl Filter {
    /// Parses `text`; the error is Graph's message for a clause it cannot take.
    pub(crate) fn parse(text: &str) -> Result<Filter, String> {
        let tokens = tokenize(text)?;
        let mut parser = Parser { tokens, at: 0 };
        let filter = parser.or()?;
        if parser.at != parser.tokens.len() {
            return Err(invalid(text));
        }
        Ok(filter)
    }

    /// Whether the audit entry `entry` (its JSON) matches.
    pub(crate) fn matches(&self, entry: &Value) -> bool {
        match self {
            Filter::And(a, b) => a.matches(entry) && b.matches(entry),
            Filter::Or(a, b) => a.matches(entry) || b.matches(entry),
            Filter::Time(cmp, at) => {
                let Some(when) = entry["activityDateTime"]
                    .as_str()
                    .and_then(|s| s.parse::<DateTime<Utc>>().ok())
                else {
                    return false;
                };
                match cmp {
                    Cmp::Eq => when == *at,
                    Cmp::Ge => when >= *at,
                    Cmp::Le => when <= *at,
                    Cmp::Gt => when > *at,
                    Cmp::Lt => when < *at,
                }
            }
            // Graph compares these case-insensitively.
            Filter::Eq(property, text) => entry[property.as_str()]
                .as_str()
                .is_some_and(|v| v.eq_ignore_ascii_case(text)),
            Filter::StartsWith(property, text) => entry[property.as_str()]
                .as_str()
                .is_some_and(|v| v.to_lowercase().starts_with(&text.to_lowercase())),
        }
    }
}

fn invalid(clause: &str) -> String {
    format!("Invalid filter clause: {clause}")
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Comma,
    Quoted(String),
    Word(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            ',' => {
                chars.next();
                out.push(Token::Comma);
            }
            '\'' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            s.push('\'');
                        }
                        Some('\'') => break,
                        Some(ch) => s.push(ch),
                        None => return Err(invalid(text)),
                    }
                }
                out.push(Token::Quoted(s));
            }
            _ => {
                let mut s = String::new();
                while let Some(&ch) = chars.peek() {
                    if matches!(ch, ' ' | '\t' | '(' | ')' | ',' | '\'') {
                        break;
                    }
                    s.push(ch);
                    chars.next();
                }
                out.push(Token::Word(s));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expect(&mut self, token: &Token) -> Result<(), String> {
        match self.next() {
            Some(t) if &t == token => Ok(()),
            other => Err(invalid(&format!("expected {token:?}, found {other:?}"))),
        }
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.atom()?;
        while self.peek_word("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.atom()?));
        }
        Ok(left)
    }

    fn atom(&mut self) -> Result<Filter, String> {
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                self.expect(&Token::Close)?;
                Ok(inner)
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("startswith") => {
                self.expect(&Token::Open)?;
                let property = match self.next() {
                    Some(Token::Word(p)) if p.eq_ignore_ascii_case("activityDisplayName") => {
                        "activityDisplayName".to_owned()
                    }
                    other => return Err(invalid(&format!("startswith on {other:?}"))),
                };
                self.expect(&Token::Comma)?;
                let Some(Token::Quoted(text)) = self.next() else {
                    return Err(invalid("startswith needs a quoted string"));
                };
                self.expect(&Token::Close)?;
                Ok(Filter::StartsWith(property, text))
            }
            Some(Token::Word(property)) => {
                let Some(Token::Word(op)) = self.next() else {
                    return Err(invalid(&property));
                };
                let op = op.to_ascii_lowercase();
                if property.eq_ignore_ascii_case("activityDateTime") {
                    let cmp = match op.as_str() {
                        "eq" => Cmp::Eq,
                        "ge" => Cmp::Ge,
                        "le" => Cmp::Le,
                        "gt" => Cmp::Gt,
                        "lt" => Cmp::Lt,
                        _ => return Err(invalid(&format!("{property} {op}"))),
                    };
                    let Some(Token::Word(value)) = self.next() else {
                        return Err(invalid(&format!(
                            "{property} {op}: the value must be an unquoted DateTimeOffset such as 2026-01-01T00:00:00Z"
                        )));
                    };
                    let at = value
                        .parse::<DateTime<Utc>>()
                        .map_err(|_| invalid(&format!("{property} {op} {value}")))?;
                    return Ok(Filter::Time(cmp, at));
                }
                let Some(known) = TEXT_PROPERTIES
                    .iter()
                    .find(|p| p.eq_ignore_ascii_case(&property))
                else {
                    return Err(invalid(&format!("unsupported property {property}")));
                };
                if op != "eq" {
                    return Err(invalid(&format!("{property} {op}")));
                }
                let Some(Token::Quoted(text)) = self.next() else {
                    return Err(invalid(&format!("{property} eq needs a quoted string")));
                };
                Ok(Filter::Eq((*known).to_owned(), text))
            }
            other => Err(invalid(&format!("{other:?}"))),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(category: &str, at: &str) -> Value {
        json!({"category": category, "activityDateTime": at, "activityDisplayName": "Update conditional access policy"})
    }

    #[test]
    fn time_and_categories_filter_as_graph_does() {
        let f = Filter::parse(
            "activityDateTime ge 2026-01-01T00:00:00Z and (category eq 'Policy' or category eq 'DirectoryManagement')",
        )
        .unwrap();
        assert!(f.matches(&entry("Policy", "2026-01-02T00:00:00.1234567Z")));
        assert!(f.matches(&entry("directorymanagement", "2026-01-01T00:00:00Z")));
        assert!(!f.matches(&entry("UserManagement", "2026-01-02T00:00:00Z")));
        assert!(!f.matches(&entry("Policy", "2025-12-31T23:59:59Z")));
        let s = Filter::parse("startswith(activityDisplayName,'update cond')").unwrap();
        assert!(s.matches(&entry("Policy", "2026-01-02T00:00:00Z")));
    }

    #[test]
    fn unsupported_clauses_are_refused() {
        for bad in [
            "activityDateTime ge '2026-01-01T00:00:00Z'",
            "activityDateTime ge yesterday",
            "category ne 'Policy'",
            "targetResources eq 'x'",
            "category eq 'Policy' and",
            "(category eq 'Policy'",
            "category eq 'Policy",
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
    }
}
