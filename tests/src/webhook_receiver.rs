//! A webhook receiver for tests: an HTTP server on a free local port that records every
//! delivery it is sent (headers and the exact body bytes) and refuses the first attempts of
//! each delivery id, as a receiver that is briefly down would.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// `X-Docsync-Delivery`.
    pub delivery: String,
    /// `X-Docsync-Signature`.
    pub signature: String,
    /// `X-Docsync-Event`.
    pub event: String,
    /// The body, byte for byte.
    pub body: Bytes,
    /// What the receiver answered.
    pub answered: u16,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    attempts: HashMap<String, usize>,
}

/// The running receiver; it stops when dropped.
pub struct WebhookReceiver {
    /// `http://127.0.0.1:port/hooks/docsync`.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl WebhookReceiver {
    /// Starts a receiver that answers 503, then 500, ... to the first `refusals` attempts of
    /// every delivery id, and 204 after.
    pub async fn start(refusals: usize) -> WebhookReceiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/hooks/docsync", post(receive))
            .with_state((inner.clone(), refusals));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let addr = listener.local_addr().expect("bound");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        WebhookReceiver {
            url: format!("http://{addr}/hooks/docsync"),
            inner,
            _stop: stop,
        }
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// The requests it accepted.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn receive(
    State((inner, refusals)): State<(Arc<Mutex<Inner>>, usize)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let delivery = header("x-docsync-delivery");
    let mut inner = inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let seen = inner.attempts.entry(delivery.clone()).or_insert(0);
    *seen += 1;
    let answer = if *seen > refusals {
        StatusCode::NO_CONTENT
    } else if *seen % 2 == 1 {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    inner.received.push(Received {
        delivery,
        signature: header("x-docsync-signature"),
        event: header("x-docsync-event"),
        body,
        answered: answer.as_u16(),
    });
    answer
}
