//! The operations listener every role process serves on `DOCSYNC_METRICS_ADDR`:
//! `GET /metrics` (the process's [`Metrics`] in the Prometheus text format, with the queue
//! depths and consumers read from the broker at scrape time), `GET /health` (the process runs:
//! for liveness probes) and `GET /ready` (PostgreSQL and RabbitMQ answer: for readiness
//! probes). One listener per process, whichever roles it runs (`docsync all`: one for all).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use docsync_queue::Broker;
use docsync_store::Store;
use docsync_telemetry::Metrics;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

#[derive(Clone)]
struct Ops {
    metrics: Metrics,
    store: Store,
    broker: Arc<Broker>,
}

async fn scrape(State(ops): State<Ops>) -> impl IntoResponse {
    match ops.broker.queue_stats().await {
        Ok(queues) => {
            for (queue, messages, consumers) in queues {
                if queue == "dead" {
                    ops.metrics.dead_letters(messages);
                }
                ops.metrics.queue(&queue, messages, consumers);
            }
        }
        Err(e) => tracing::debug!(error = %e, "queue depths unavailable for /metrics"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        ops.metrics.encode(),
    )
}

async fn ready(State(ops): State<Ops>) -> (StatusCode, Json<docsync_api::Ready>) {
    docsync_api::readiness(&ops.store, &ops.broker).await
}

/// Binds `addr` and serves until `stop` resolves; returns the bound address. A port in use
/// is an error naming the variable.
pub async fn serve(
    addr: SocketAddr,
    metrics: Metrics,
    store: Store,
    broker: Arc<Broker>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!(
            "DOCSYNC_METRICS_ADDR {addr} cannot be bound ({e}): give each process on this host its own port, or \"off\""
        )
    })?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(scrape))
        .route("/health", get(docsync_api::health))
        .route("/ready", get(ready))
        .with_state(Ops {
            metrics,
            store,
            broker,
        });
    let handle = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::warn!(error = %e, "the metrics listener stopped");
        }
    });
    Ok((bound, handle))
}
