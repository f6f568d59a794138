//! ConnectWise Manage's `conditions` (and `childConditions`) language: a small
//! recursive-descent parser and an evaluator over JSON records.
//!
//! ```text
//! expr       := conj ("or" conj)*
//! conj       := term ("and" term)*
//! term       := "(" expr ")" | comparison
//! comparison := field op value
//!             | field ["not"] "in" "(" value ("," value)* ")"
//!             | field ["not"] ("like" | "contains") value
//! op         := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//! value      := "string" | number | true | false | null | [datetime]
//! field      := name ("/" name)*
//! ```
//!
//! Keywords are case-insensitive and `and` binds tighter than `or`. Fields are resolved while
//! parsing (a field the entity does not have is an error naming it). Evaluation follows SQL
//! Server, which the real service translates conditions into: string comparisons ignore case,
//! and a comparison with a missing (null) field is false except `= null` and `!= null`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;
use std::cmp::Ordering;

/// A constant on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    /// `"text"`.
    Str(String),
    /// `12`, `-3.5`.
    Num(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// `[2026-01-01T00:00:00Z]`.
    Date(DateTime<Utc>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `=`.
    Eq,
    /// `!=` or `<>`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `like` (`*` and `%` match any run of characters).
    Like,
    /// `not like`.
    NotLike,
    /// `contains` (substring).
    Contains,
    /// `not contains`.
    NotContains,
    /// `in (..)`.
    In,
    /// `not in (..)`.
    NotIn,
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition {
    /// Every part holds.
    And(Vec<Condition>),
    /// Some part holds.
    Or(Vec<Condition>),
    /// One comparison of a field (resolved to the record's keys) with constants.
    Compare {
        /// The keys leading to the field.
        path: Vec<String>,
        /// The operator.
        op: Op,
        /// One constant, or the list of `in` / `not in`.
        values: Vec<Literal>,
    },
}

/// Why a condition was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConditionError {
    /// What is wrong, for people.
    pub(crate) message: String,
    /// The field at fault, when a field is (unknown or not filterable); `None` for syntax.
    pub(crate) field: Option<String>,
}

impl ConditionError {
    fn syntax(message: String) -> Self {
        ConditionError {
            message,
            field: None,
        }
    }
}

/// Maps a field as written to the record's keys, or says why it cannot be used.
pub(crate) type Resolver<'a> = &'a dyn Fn(&str) -> Result<Vec<String>, String>;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A field path or a keyword.
    Word(String),
    Str(String),
    Num(f64),
    Date(DateTime<Utc>),
    Sym(&'static str),
    Open,
    Close,
    Comma,
}

fn describe(t: Option<&Tok>) -> String {
    match t {
        None => "the end of the conditions".into(),
        Some(Tok::Word(w)) => format!("'{w}'"),
        Some(Tok::Str(s)) => format!("\"{s}\""),
        Some(Tok::Num(n)) => format!("{n}"),
        Some(Tok::Date(d)) => format!("[{}]", d.to_rfc3339()),
        Some(Tok::Sym(s)) => format!("'{s}'"),
        Some(Tok::Open) => "'('".into(),
        Some(Tok::Close) => "')'".into(),
        Some(Tok::Comma) => "','".into(),
    }
}

/// Parses a datetime constant: RFC 3339, or a UTC date-time without offset, or a date.
pub(crate) fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, format) {
            return Some(d.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

fn tokenize(text: &str) -> Result<Vec<(usize, Tok)>, ConditionError> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |pos: usize, what: &str| {
        ConditionError::syntax(format!("Invalid conditions: {what} at position {pos}"))
    };
    while let Some(&(pos, c)) = chars.get(i) {
        let next = chars.get(i + 1).map(|&(_, c)| c);
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((pos, Tok::Open));
                i += 1;
            }
            ')' => {
                out.push((pos, Tok::Close));
                i += 1;
            }
            ',' => {
                out.push((pos, Tok::Comma));
                i += 1;
            }
            '=' => {
                out.push((pos, Tok::Sym("=")));
                i += 1;
            }
            '!' if next == Some('=') => {
                out.push((pos, Tok::Sym("!=")));
                i += 2;
            }
            '<' | '>' => {
                let sym = match (c, next) {
                    ('<', Some('=')) => "<=",
                    ('<', Some('>')) => "!=",
                    ('>', Some('=')) => ">=",
                    ('<', _) => "<",
                    _ => ">",
                };
                i += if sym.len() == 2 { 2 } else { 1 };
                out.push((pos, Tok::Sym(sym)));
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(err(pos, "unterminated string")),
                        Some(&(_, '\\')) => {
                            if let Some(&(_, e)) = chars.get(i + 1) {
                                s.push(e);
                            }
                            i += 2;
                        }
                        Some(&(_, '"')) => {
                            i += 1;
                            break;
                        }
                        Some(&(_, ch)) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push((pos, Tok::Str(s)));
            }
            '[' => {
                let start = i + 1;
                let Some(end) = chars[start..].iter().position(|&(_, ch)| ch == ']') else {
                    return Err(err(pos, "unterminated datetime ('[' without ']')"));
                };
                let inner: String = chars[start..start + end].iter().map(|&(_, c)| c).collect();
                let Some(d) = parse_datetime(&inner) else {
                    return Err(err(pos, &format!("invalid datetime [{inner}]")));
                };
                out.push((pos, Tok::Date(d)));
                i = start + end + 1;
            }
            c if c.is_ascii_digit()
                || (c == '-' && next.is_some_and(|n| n.is_ascii_digit() || n == '.')) =>
            {
                let start = i;
                i += 1;
                while chars
                    .get(i)
                    .is_some_and(|&(_, ch)| ch.is_ascii_digit() || ch == '.')
                {
                    i += 1;
                }
                let s: String = chars[start..i].iter().map(|&(_, c)| c).collect();
                let n = s
                    .parse::<f64>()
                    .map_err(|_| err(pos, &format!("invalid number {s}")))?;
                out.push((pos, Tok::Num(n)));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|&(_, ch)| ch.is_alphanumeric() || ch == '_' || ch == '/')
                {
                    i += 1;
                }
                let s: String = chars[start..i].iter().map(|&(_, c)| c).collect();
                out.push((pos, Tok::Word(s)));
            }
            other => return Err(err(pos, &format!("unexpected character '{other}'"))),
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    at: usize,
    resolve: Resolver<'a>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map(|(p, _)| *p).unwrap_or_else(|| {
            self.toks
                .last()
                .map(|(p, t)| p + describe(Some(t)).len())
                .unwrap_or(0)
        })
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn unexpected(&self, expected: &str) -> ConditionError {
        ConditionError::syntax(format!(
            "Invalid conditions: expected {expected} at position {}, found {}",
            self.pos(),
            describe(self.peek())
        ))
    }

    fn expr(&mut self) -> Result<Condition, ConditionError> {
        let mut parts = vec![self.conj()?];
        while self.keyword("or") {
            self.at += 1;
            parts.push(self.conj()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::Or(parts)
        })
    }

    fn conj(&mut self) -> Result<Condition, ConditionError> {
        let mut parts = vec![self.term()?];
        while self.keyword("and") {
            self.at += 1;
            parts.push(self.term()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::And(parts)
        })
    }

    fn term(&mut self) -> Result<Condition, ConditionError> {
        if self.peek() == Some(&Tok::Open) {
            self.at += 1;
            let inner = self.expr()?;
            if self.peek() != Some(&Tok::Close) {
                return Err(self.unexpected("')'"));
            }
            self.at += 1;
            return Ok(inner);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Condition, ConditionError> {
        let Some(Tok::Word(field)) = self.peek().cloned() else {
            return Err(self.unexpected("a field name"));
        };
        if ["and", "or", "not", "in", "like", "contains"]
            .iter()
            .any(|k| field.eq_ignore_ascii_case(k))
        {
            return Err(self.unexpected("a field name"));
        }
        let path = (self.resolve)(&field).map_err(|message| ConditionError {
            message,
            field: Some(field.clone()),
        })?;
        self.at += 1;
        let negated = self.keyword("not");
        if negated {
            self.at += 1;
        }
        let op = match self.peek() {
            Some(Tok::Sym(s)) if !negated => match *s {
                "=" => Op::Eq,
                "!=" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                _ => Op::Ge,
            },
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("like") => {
                if negated {
                    Op::NotLike
                } else {
                    Op::Like
                }
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("contains") => {
                if negated {
                    Op::NotContains
                } else {
                    Op::Contains
                }
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => {
                if negated {
                    Op::NotIn
                } else {
                    Op::In
                }
            }
            _ if negated => return Err(self.unexpected("'in', 'like' or 'contains' after 'not'")),
            _ => {
                return Err(self.unexpected("an operator (=, !=, <, <=, >, >=, like, contains, in)"))
            }
        };
        self.at += 1;
        let values = if matches!(op, Op::In | Op::NotIn) {
            if self.peek() != Some(&Tok::Open) {
                return Err(self.unexpected("'(' after 'in'"));
            }
            self.at += 1;
            let mut values = vec![self.value()?];
            while self.peek() == Some(&Tok::Comma) {
                self.at += 1;
                values.push(self.value()?);
            }
            if self.peek() != Some(&Tok::Close) {
                return Err(self.unexpected("',' or ')'"));
            }
            self.at += 1;
            values
        } else {
            vec![self.value()?]
        };
        Ok(Condition::Compare { path, op, values })
    }

    fn value(&mut self) -> Result<Literal, ConditionError> {
        let v =
            match self.peek() {
                Some(Tok::Str(s)) => Literal::Str(s.clone()),
                Some(Tok::Num(n)) => Literal::Num(*n),
                Some(Tok::Date(d)) => Literal::Date(*d),
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Literal::Null,
                _ => return Err(self.unexpected(
                    "a value (a \"quoted string\", a number, true, false, null or a [datetime])",
                )),
            };
        self.at += 1;
        Ok(v)
    }
}

/// Parses `text`; every field goes through `resolve`.
pub(crate) fn parse(text: &str, resolve: Resolver<'_>) -> Result<Condition, ConditionError> {
    let toks = tokenize(text)?;
    if toks.is_empty() {
        return Err(ConditionError::syntax(
            "Invalid conditions: the conditions are empty".into(),
        ));
    }
    let mut p = Parser {
        toks,
        at: 0,
        resolve,
    };
    let c = p.expr()?;
    if p.at < p.toks.len() {
        return Err(p.unexpected("'and', 'or' or the end of the conditions"));
    }
    Ok(c)
}

/// Compares two strings ignoring ASCII case, without allocating.
fn cmp_ci(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// How a record's value compares with a constant; `None` when they cannot be compared (a
/// null, or kinds that do not mix).
fn compare(v: &Value, l: &Literal) -> Option<Ordering> {
    match (v, l) {
        (Value::String(s), Literal::Str(t)) => Some(cmp_ci(s, t)),
        (Value::String(s), Literal::Date(d)) => parse_datetime(s).map(|x| x.cmp(d)),
        (Value::String(s), Literal::Num(n)) => s.trim().parse::<f64>().ok()?.partial_cmp(n),
        (Value::Number(x), Literal::Num(n)) => x.as_f64()?.partial_cmp(n),
        (Value::Number(x), Literal::Str(t)) => x.as_f64()?.partial_cmp(&t.trim().parse().ok()?),
        (Value::Bool(b), Literal::Bool(c)) => Some(b.cmp(c)),
        (Value::Bool(b), Literal::Str(t)) => Some(b.cmp(&t.trim().parse().ok()?)),
        _ => None,
    }
}

/// `text` against a `like` pattern (`*` or `%`: any run), ignoring ASCII case.
fn like(text: &str, pattern: &str) -> bool {
    let (t, p) = (text.as_bytes(), pattern.as_bytes());
    let (mut ti, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    let wild = |c: u8| c == b'*' || c == b'%';
    while ti < t.len() {
        match p.get(pi) {
            Some(&c) if wild(c) => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c.eq_ignore_ascii_case(&t[ti]) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi.min(p.len())..].iter().all(|&c| wild(c))
}

/// The text a `like` or `contains` looks at: strings as they are, numbers and booleans
/// written out.
fn as_text(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match v {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s)),
        Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(std::borrow::Cow::Owned(b.to_string())),
        _ => None,
    }
}

fn holds(v: &Value, op: Op, values: &[Literal]) -> bool {
    let Some(first) = values.first() else {
        return false;
    };
    if *first == Literal::Null && matches!(op, Op::Eq | Op::Ne) {
        return v.is_null() == (op == Op::Eq);
    }
    match op {
        Op::Eq => compare(v, first) == Some(Ordering::Equal),
        Op::Ne => compare(v, first).is_some_and(|o| o != Ordering::Equal),
        Op::Lt => compare(v, first) == Some(Ordering::Less),
        Op::Le => compare(v, first).is_some_and(|o| o != Ordering::Greater),
        Op::Gt => compare(v, first) == Some(Ordering::Greater),
        Op::Ge => compare(v, first).is_some_and(|o| o != Ordering::Less),
        Op::In => values.iter().any(|l| match l {
            Literal::Null => v.is_null(),
            l => compare(v, l) == Some(Ordering::Equal),
        }),
        Op::NotIn => {
            !v.is_null()
                && values.iter().all(|l| match l {
                    Literal::Null => true,
                    l => compare(v, l).is_some_and(|o| o != Ordering::Equal),
                })
        }
        Op::Like | Op::NotLike | Op::Contains | Op::NotContains => {
            let (Some(text), Literal::Str(pattern)) = (as_text(v), first) else {
                return false;
            };
            let found = match op {
                Op::Like | Op::NotLike => like(&text, pattern),
                _ => {
                    let p = pattern.to_ascii_lowercase();
                    text.to_ascii_lowercase().contains(&p)
                }
            };
            found == matches!(op, Op::Like | Op::Contains)
        }
    }
}

/// Whether some value at `path` under `v` satisfies `test` (a missing key is null; an array
/// on the way: any element).
fn any_at(v: &Value, path: &[String], test: &dyn Fn(&Value) -> bool) -> bool {
    match (v, path.split_first()) {
        (Value::Array(items), Some(_)) => items.iter().any(|i| any_at(i, path, test)),
        (_, None) => test(v),
        (Value::Object(m), Some((key, rest))) => match m.get(key) {
            Some(child) => any_at(child, rest, test),
            None => test(&Value::Null),
        },
        _ => test(&Value::Null),
    }
}

impl Condition {
    /// Whether `record` satisfies the condition.
    pub(crate) fn matches(&self, record: &Value) -> bool {
        match self {
            Condition::And(parts) => parts.iter().all(|c| c.matches(record)),
            Condition::Or(parts) => parts.iter().any(|c| c.matches(record)),
            Condition::Compare { path, op, values } => {
                any_at(record, path, &|v| holds(v, *op, values))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(name: &str) -> Result<Vec<String>, String> {
        let name = if name.eq_ignore_ascii_case("lastUpdated") {
            "_info/lastUpdated"
        } else {
            name
        };
        let known = [
            "id",
            "name",
            "activeFlag",
            "company/id",
            "type/name",
            "_info/lastUpdated",
            "items/value",
        ];
        if known.contains(&name) {
            Ok(name.split('/').map(str::to_string).collect())
        } else {
            Err(format!("{name} is not a valid field"))
        }
    }

    fn p(text: &str) -> Result<Condition, ConditionError> {
        parse(text, &fields)
    }

    fn ok(text: &str) -> Condition {
        match p(text) {
            Ok(c) => c,
            Err(e) => panic!("{text}: {e:?}"),
        }
    }

    fn cmp(path: &str, op: Op, values: Vec<Literal>) -> Condition {
        Condition::Compare {
            path: path.split('/').map(str::to_string).collect(),
            op,
            values,
        }
    }

    fn record(id: u64, name: &str, active: bool, company: u64, updated: &str) -> Value {
        json!({"id": id, "name": name, "activeFlag": active, "company": {"id": company},
            "type": {"name": "Managed Server"}, "_info": {"lastUpdated": updated},
            "items": [{"value": "a@x.com"}, {"value": "555-0100"}]})
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_group() {
        let a = cmp("id", Op::Eq, vec![Literal::Num(1.0)]);
        let b = cmp("name", Op::Eq, vec![Literal::Str("x".into())]);
        let c = cmp("activeFlag", Op::Eq, vec![Literal::Bool(true)]);
        assert_eq!(
            ok(r#"id=1 or name="x" AND activeFlag=true"#),
            Condition::Or(vec![a.clone(), Condition::And(vec![b.clone(), c.clone()])])
        );
        assert_eq!(
            ok(r#"(id = 1 Or name = "x") and activeFlag = TRUE"#),
            Condition::And(vec![Condition::Or(vec![a, b]), c])
        );
    }

    #[test]
    fn every_operator_and_value_parses() {
        assert_eq!(
            ok("lastUpdated > [2026-01-01T00:00:00Z]"),
            cmp(
                "_info/lastUpdated",
                Op::Gt,
                vec![Literal::Date(
                    parse_datetime("2026-01-01T00:00:00Z").unwrap()
                )]
            )
        );
        assert_eq!(
            ok(r#"company/id not in (250, 251,-3.5)"#),
            cmp(
                "company/id",
                Op::NotIn,
                vec![Literal::Num(250.0), Literal::Num(251.0), Literal::Num(-3.5)]
            )
        );
        assert_eq!(ok("name != null"), cmp("name", Op::Ne, vec![Literal::Null]));
        assert_eq!(ok("id <> 4"), cmp("id", Op::Ne, vec![Literal::Num(4.0)]));
        for (text, op) in [
            ("id<4", Op::Lt),
            ("id<=4", Op::Le),
            ("id>=4", Op::Ge),
            (r#"name like "a*""#, Op::Like),
            (r#"name NOT LIKE "a*""#, Op::NotLike),
            (r#"name contains "a""#, Op::Contains),
            (r#"name not contains "a""#, Op::NotContains),
        ] {
            let Condition::Compare { op: got, .. } = ok(text) else {
                panic!("{text}");
            };
            assert_eq!(got, op, "{text}");
        }
        assert_eq!(
            ok(r#"name = "say \"hi\"""#),
            cmp("name", Op::Eq, vec![Literal::Str("say \"hi\"".into())])
        );
    }

    #[test]
    fn syntax_errors_and_unknown_fields_are_refused() {
        for bad in [
            "",
            "id",
            "id =",
            "id = 1 and",
            "(id = 1",
            "id = 1)",
            "id == 1",
            "id = 'x'",
            r#"name = "open"#,
            "lastUpdated > [yesterday]",
            "id in 1, 2",
            "id in (1 2)",
            "id = 1 name = 2",
            "id not = 1",
            "id = abc",
        ] {
            let e = p(bad).expect_err(bad);
            assert!(e.field.is_none(), "{bad}: {e:?}");
            assert!(e.message.starts_with("Invalid conditions"), "{bad}: {e:?}");
        }
        let e = p("id = 1 and nope = 2").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("nope"));
        assert_eq!(e.message, "nope is not a valid field");
    }

    #[test]
    fn evaluation_follows_sql_server() {
        let r = record(7, "Contoso-SRV01", true, 250, "2026-03-01T10:00:00Z");
        let yes = |t: &str| assert!(ok(t).matches(&r), "{t}");
        let no = |t: &str| assert!(!ok(t).matches(&r), "{t}");
        yes("company/id = 250");
        no("company/id = 251");
        yes(r#"company/id = "250""#);
        yes(r#"name = "contoso-srv01""#);
        yes(r#"name like "contoso*""#);
        yes(r#"name like "%SRV%""#);
        no(r#"name like "SRV*""#);
        yes(r#"name contains "srv""#);
        yes(r#"name not contains "wks""#);
        yes("activeFlag = true and id in (1, 7)");
        no("activeFlag = false or id not in (7)");
        yes("lastUpdated > [2026-01-01T00:00:00Z]");
        no("lastUpdated < [2026-01-01]");
        yes("lastUpdated >= [2026-03-01T10:00:00Z]");
        yes("(id = 1 or id = 7) and (type/name = \"Managed Server\")");
        yes(r#"items/value like "*@x.com""#);
        // A missing field is null: only `= null` holds.
        let bare = json!({"id": 1});
        assert!(ok("name = null").matches(&bare));
        assert!(!ok("name != null").matches(&bare));
        assert!(!ok(r#"name != "x""#).matches(&bare));
        assert!(!ok(r#"name not in ("x")"#).matches(&bare));
        assert!(ok(r#"name != "x""#).matches(&r));
    }

    #[test]
    fn like_handles_backtracking() {
        assert!(like("abcabd", "*abd"));
        assert!(like("abc", "a*c"));
        assert!(like("abc", "***"));
        assert!(like("", "*"));
        assert!(!like("", "a"));
        assert!(!like("abc", "a*d"));
        assert!(like("ABC", "abc"));
    }
}
