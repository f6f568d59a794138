//! Crash points for the fleet's own crash tests: with `DOCSYNC_FAILPOINT` naming a point, the
//! process aborts there (as `kill -9` would stop it), so a test can prove that a crash at the
//! worst moment loses and duplicates nothing. Unset in production: then this is a no-op.

/// Aborts the process when `DOCSYNC_FAILPOINT` equals `name`.
pub fn crash_here(name: &str) {
    if std::env::var("DOCSYNC_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("DOCSYNC_FAILPOINT {name}: aborting the process");
        std::process::abort();
    }
}
