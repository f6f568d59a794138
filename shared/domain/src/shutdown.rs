//! Shutdown plumbing: one signal that every role listens to, cloned into each task.

use tokio::sync::watch;

/// A shutdown signal: `trigger` once, and every clone's `wait` returns.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
    rx: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A signal not yet triggered.
    pub fn new() -> Self {
        let (tx, rx) = watch::channel(false);
        Self { tx, rx }
    }

    /// Asks every holder to stop.
    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }

    /// True once triggered.
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Waits until triggered.
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}
