//! The MSP's own Hudu article template: minijinja, sandboxed. No loader (an `include`,
//! `import` or `extends` finds nothing, so a template reads no file and no URL), HTML
//! auto-escaping of every variable, a bounded source ([`MAX_TEMPLATE_BYTES`]), a bounded output
//! ([`MAX_OUTPUT_BYTES`]) and bounded work (fuel: [`FUEL`] engine steps, which also bounds the
//! memory a render can take, and a recursion limit), so a render always ends, quickly.
//!
//! Invariant: every error names the template's line, and its column where the engine knows
//! the span, in a message a person can act on.

use crate::html;
use chrono::{DateTime, Utc};
use docsync_domain::posture_options::MAX_TEMPLATE_BYTES;
use docsync_domain::snapshot::Section;
use docsync_domain::{PostureSection, Snapshot};
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value};
use serde::Serialize;
use serde_json::{json, Map};
use std::io;

/// The largest article a template may produce, in bytes.
pub const MAX_OUTPUT_BYTES: usize = 2 * 1024 * 1024;
/// The engine steps one render may take (minijinja's fuel).
pub const FUEL: u64 = 2_000_000;
/// How deep loops, conditions and macros may nest.
const RECURSION_LIMIT: usize = 64;

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// What went wrong, with the line (and column) first.
    pub message: String,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// The 1-based column, when known.
    pub column: Option<usize>,
}

fn environment<'s>() -> Environment<'s> {
    let mut env = Environment::new();
    env.set_debug(true);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env
}

/// A writer that refuses to go past [`MAX_OUTPUT_BYTES`].
struct Bounded {
    out: Vec<u8>,
    overflowed: bool,
}

impl io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.out.len() + buf.len() > MAX_OUTPUT_BYTES {
            self.overflowed = true;
            return Err(io::Error::other("output limit"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The 1-based column of byte `offset` of `source`.
fn column_at(source: &str, offset: usize) -> usize {
    let offset = offset.min(source.len());
    let mut start = offset;
    while !source.is_char_boundary(start) {
        start -= 1;
    }
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    source[line_start..start].chars().count() + 1
}

fn failure(source: &str, e: &minijinja::Error, overflowed: bool) -> TemplateError {
    let line = e.line();
    let column = e.range().map(|r| column_at(source, r.start));
    let what = if overflowed {
        format!(
            "the article would be larger than {} MiB",
            MAX_OUTPUT_BYTES / 1024 / 1024
        )
    } else {
        match e.kind() {
            ErrorKind::OutOfFuel => format!(
                "the template does too much work (more than {FUEL} steps): loop over the snapshot's lists, not over large ranges"
            ),
            ErrorKind::TemplateNotFound => {
                "templates cannot include, import or extend other templates".to_owned()
            }
            kind => match e.detail() {
                Some(detail) => format!("{kind}: {detail}"),
                None => kind.to_string(),
            },
        }
    };
    let message = match (line, column) {
        (Some(l), Some(c)) => format!("line {l}, column {c}: {what}"),
        (Some(l), None) => format!("line {l}: {what}"),
        _ => what,
    };
    TemplateError {
        message,
        line,
        column,
    }
}

/// Renders `source` with `context`, within the bounds.
pub fn render(source: &str, context: Value) -> Result<String, TemplateError> {
    if source.len() > MAX_TEMPLATE_BYTES {
        return Err(TemplateError {
            message: format!("the template is larger than {MAX_TEMPLATE_BYTES} bytes"),
            line: None,
            column: None,
        });
    }
    let env = environment();
    let template = env
        .template_from_named_str("template", source)
        .map_err(|e| failure(source, &e, false))?;
    let mut out = Bounded {
        out: Vec::with_capacity(16 * 1024),
        overflowed: false,
    };
    let rendered = template.render_captured_to(context, &mut out);
    if let Err(e) = rendered {
        return Err(failure(source, &e, out.overflowed));
    }
    String::from_utf8(out.out).map_err(|_| TemplateError {
        message: "the template produced text that is not UTF-8".into(),
        line: None,
        column: None,
    })
}

/// Checks a template when an integration is saved: it must compile and render the example
/// snapshot ([`crate::sample::sample_snapshot`]) with `sections` within the bounds.
pub fn check(source: &str, sections: &[PostureSection]) -> Result<(), TemplateError> {
    let snapshot = crate::sample::sample_snapshot();
    render(source, context(&snapshot, snapshot.collected_at, sections)).map(|_| ())
}

fn to_value<T: Serialize>(data: &T) -> serde_json::Value {
    serde_json::to_value(data).unwrap_or(serde_json::Value::Null)
}

/// A time as the template sees it: `2024-06-01 08:00:00 UTC`.
fn shown_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The variables a template sees (the README lists them): `title`, `tenant`, `collectedAt`,
/// `pushedAt`, `sections`, `article` (the built-in body of the chosen sections, as HTML), one
/// variable per chosen section (its facts, or undefined when not collected) and
/// `unavailable` (section -> why it was not collected).
pub fn context(
    snapshot: &Snapshot,
    pushed_at: DateTime<Utc>,
    sections: &[PostureSection],
) -> Value {
    let mut vars = Map::new();
    let mut unavailable = Map::new();
    let mut section = |name: &str, value: serde_json::Value, reason: Option<&str>| {
        vars.insert(name.to_owned(), value);
        if let Some(r) = reason {
            unavailable.insert(name.to_owned(), json!(r));
        }
    };
    fn split<T: Serialize>(s: &Section<T>) -> (serde_json::Value, Option<&str>) {
        match s {
            Section::Collected { data } => (to_value(data), None),
            Section::Unavailable { reason } => (serde_json::Value::Null, Some(reason.as_str())),
        }
    }
    let shows = |s: PostureSection| sections.contains(&s);
    if shows(PostureSection::Metadata) {
        let (v, r) = split(&snapshot.metadata);
        section("metadata", v, r);
        let (v, r) = split(&snapshot.mfa);
        section("mfa", v, r);
    }
    if shows(PostureSection::ConditionalAccess) {
        let (v, r) = split(&snapshot.conditional_access);
        section("conditionalAccess", v, r);
        let (v, r) = split(&snapshot.authentication_methods);
        section("authenticationMethods", v, r);
    }
    if shows(PostureSection::Standards) {
        section("standards", to_value(&snapshot.standards), None);
    }
    if shows(PostureSection::Compliance) {
        section("compliance", to_value(&snapshot.compliance), None);
    }
    if shows(PostureSection::Defender) {
        let (v, r) = split(&snapshot.defender);
        section("defender", v, r);
    }
    if shows(PostureSection::Exchange) {
        let (v, r) = split(&snapshot.exchange);
        section("exchange", v, r);
    }
    if shows(PostureSection::Copilot) {
        let (v, r) = split(&snapshot.copilot);
        section("copilot", v, r);
    }
    // A section not collected is undefined (so `{% if defender %}` is false), not null.
    vars.retain(|_, v| !v.is_null());
    vars.insert("unavailable".into(), serde_json::Value::Object(unavailable));
    vars.insert("title".into(), json!(snapshot.hudu_title()));
    vars.insert(
        "tenant".into(),
        json!({
            "name": snapshot.tenant_name,
            "microsoftTenantId": snapshot.microsoft_tenant_id,
            "primaryDomain": snapshot.metadata.data().map(|m| m.primary_domain.clone()),
        }),
    );
    vars.insert(
        "collectedAt".into(),
        json!(shown_time(snapshot.collected_at)),
    );
    vars.insert("pushedAt".into(), json!(shown_time(pushed_at)));
    vars.insert(
        "sections".into(),
        json!(sections.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
    );
    let facts = Value::from(minijinja::value::Serde(serde_json::Value::Object(vars)));
    let article = html::render_article_sections(snapshot, pushed_at, sections);
    minijinja::context! { article => Value::from_safe_string(article), ..facts }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample(source: &str) -> Result<String, TemplateError> {
        let s = crate::sample::sample_snapshot();
        render(source, context(&s, s.collected_at, &PostureSection::ALL))
    }

    #[test]
    fn variables_render_and_are_escaped() {
        let out = sample(
            "<h1>{{ title }}</h1><p>{{ tenant.primaryDomain }} {{ mfa.percent }}% {{ collectedAt }}</p>\
             {% for p in conditionalAccess.policies %}<li>{{ p.name }}</li>{% endfor %}\
             {% if not defender %}<p>{{ unavailable.defender }}</p>{% endif %}{{ '<b>' }}",
        )
        .unwrap();
        assert!(out.contains("<h1>M365 Posture — Contoso</h1>"), "{out}");
        assert!(
            out.contains("contoso.com.au 82.9% 2024-06-01 08:00:00 UTC"),
            "{out}"
        );
        assert!(
            out.contains("<li>Block &lt;legacy&gt; &amp; co</li>"),
            "{out}"
        );
        assert!(out.contains("403 Forbidden"), "{out}");
        assert!(out.ends_with("&lt;b&gt;"), "{out}");
    }

    #[test]
    fn the_built_in_article_is_there_unescaped() {
        let s = crate::sample::sample_snapshot();
        let out = sample("{{ article }}").unwrap();
        assert_eq!(
            out,
            html::render_article_sections(&s, s.collected_at, &PostureSection::ALL)
        );
    }

    #[test]
    fn a_syntax_error_names_its_line_and_column() {
        let e = sample("<p>ok</p>\n<p>{{ tenant.name </p>\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.column.is_some(), "{e}");
        assert!(e.message.starts_with("line 2, column "), "{e}");
    }

    #[test]
    fn endless_work_and_huge_output_are_refused() {
        let e = sample("{% for a in range(100000) %}{% for b in range(100000) %}{{ a }}{% endfor %}{% endfor %}")
            .unwrap_err();
        assert!(
            e.message.contains("too much work") || e.message.contains("larger than"),
            "{e}"
        );
        assert_eq!(e.line, Some(1), "{e}");
        let e = sample("{% for a in range(60000) %}{{ article }}{% endfor %}").unwrap_err();
        assert!(
            e.message.contains("larger than") || e.message.contains("too much work"),
            "{e}"
        );
    }

    #[test]
    fn files_cannot_be_read() {
        // Without a loader these are not even statements: nothing is ever looked up.
        let e = sample("{% include '/etc/passwd' %}").unwrap_err();
        assert!(e.message.contains("unknown statement include"), "{e}");
        let e = sample("{% import 'x.html' as x %}").unwrap_err();
        assert!(e.message.contains("unknown statement import"), "{e}");
        let e = sample("{% extends 'base.html' %}").unwrap_err();
        assert!(e.message.contains("unknown statement extends"), "{e}");
    }

    #[test]
    fn the_readme_example_renders() {
        let readme = include_str!("../../../README.md");
        let example = readme
            .split("```jinja\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("the README has a jinja example");
        let out = sample(example).unwrap();
        assert!(out.contains("<h1>M365 Posture — Contoso</h1>"), "{out}");
        assert!(
            out.contains("<li>Block &lt;legacy&gt; &amp; co: enabled</li>"),
            "{out}"
        );
        assert!(out.contains("<li>Essential Eight: 75.0%</li>"), "{out}");
    }

    #[test]
    fn unchosen_sections_are_undefined() {
        let s = crate::sample::sample_snapshot();
        let out = render(
            "[{{ copilot.licences }}][{{ metadata.primaryDomain }}][{{ sections|join(',') }}]",
            context(&s, s.collected_at, &[PostureSection::Metadata]),
        )
        .unwrap();
        assert_eq!(out, "[][contoso.com.au][metadata]");
    }
}
