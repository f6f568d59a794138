//! W3C trace context across the queue: the current span's `traceparent` (and `tracestate`)
//! as message headers at every publish, and a consumer's job span made a child of the
//! context a message carries, so one push or sync is one trace from the API request through
//! every queue hop to the provider writes.

use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The headers the trace context travels in.
pub const HEADERS: [&str; 2] = ["traceparent", "tracestate"];

struct Write<'a>(&'a mut Vec<(String, String)>);

impl Injector for Write<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_owned(), value));
    }
}

struct Read<'a>(&'a [(String, String)]);

impl Extractor for Read<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }
}

/// The current span's trace context as `(header, value)` pairs; empty when no trace is
/// being recorded.
pub fn current_headers() -> Vec<(String, String)> {
    let cx = tracing::Span::current().context();
    let mut out = Vec::new();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut Write(&mut out)));
    out
}

/// Writes the trace id of `span` into its `trace_id` field (declared empty), so every log
/// line inside it names the trace; nothing when no trace is being recorded.
pub fn record_trace_id(span: &tracing::Span) {
    use opentelemetry::trace::TraceContextExt as _;
    let cx = span.context();
    let id = cx.span().span_context().trace_id();
    if id != opentelemetry::trace::TraceId::INVALID {
        span.record("trace_id", tracing::field::display(id));
    }
}

/// Makes `span` a child of the trace context in `headers` (nothing when there is none).
pub fn set_parent(span: &tracing::Span, headers: &[(String, String)]) {
    if headers.is_empty() {
        return;
    }
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Read(headers)));
    let _ = span.set_parent(cx);
}
