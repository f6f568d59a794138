//! Tracing for every service: human-readable logs filtered by `RUST_LOG`, and OTLP export
//! of spans when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set;
//! and the fleet's Prometheus metrics ([`metrics`]).

pub mod metrics;
pub mod propagation;

pub use metrics::Metrics;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::{Layer as _, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Keeps the exporter alive; flushes spans when dropped.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global subscriber for `service` (e.g. `docsync-publisher`). Safe to call more
/// than once: later calls keep the first subscriber.
pub fn init(service: &str) -> TelemetryGuard {
    // Colours only on a terminal: a log file or collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    install(service, BoxMakeWriter::new(std::io::stderr), ansi)
}

fn install(service: &str, writer: BoxMakeWriter, ansi: bool) -> TelemetryGuard {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,lapin=warn,reqwest=warn,hyper=warn"));
    // RUST_LOG filters the log lines; spans are exported from info up whatever it says, so
    // a quiet log still gives whole traces.
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(writer)
        .with_filter(filter);
    let otlp_wanted = std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
        || std::env::var_os("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some();
    let provider = if otlp_wanted {
        match otlp_provider(service) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("OpenTelemetry export disabled: {e}");
                None
            }
        }
    } else {
        None
    };
    let spans = tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::INFO)
        .with_target("lapin", tracing::Level::WARN)
        .with_target("hyper", tracing::Level::WARN)
        .with_target("h2", tracing::Level::WARN)
        .with_target("reqwest", tracing::Level::WARN);
    let otel_layer = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("docsync"))
            .with_filter(spans)
    });
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(otel_layer)
        .try_init();
    TelemetryGuard { provider }
}

/// Like [`init`], with log lines appended to the file at `path` (plain text) instead of the
/// screen: for a command whose screen is its own output (the demo).
pub fn init_to_file(service: &str, path: &std::path::Path) -> anyhow::Result<TelemetryGuard> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot write the log file {}: {e}", path.display()))?;
    Ok(install(
        service,
        BoxMakeWriter::new(std::sync::Mutex::new(file)),
        false,
    ))
}

fn otlp_provider(service: &str) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}
