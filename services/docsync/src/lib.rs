//! The `docsync` binary's library: settings from the environment, the fleet launcher used by
//! every role command (and by the end-to-end tests), admin commands and the demo.

pub mod admin;
pub mod bench;
pub mod bench_drift;
pub mod bench_fleet;
pub mod bench_psa;
mod bench_table;
pub mod chaos;
pub mod demo;
pub mod fleet;
pub mod harness;
pub mod metrics_http;
pub mod settings;

pub use fleet::{Fleet, Roles};
pub use settings::Settings;
