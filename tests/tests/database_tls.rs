//! PostgreSQL over TLS: the local server is given a certificate this test makes (its own CA,
//! a server certificate for 127.0.0.1), and the store connects, migrates and works with
//! `sslmode=require` and `verify-full`, encrypted as the server sees it; `verify-full` with
//! another CA is refused, and a URL without `sslmode` stays plain. The server's own settings
//! are restored afterwards. (Its own test binary: it changes the server's configuration.)

use docsync_store::Store;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs each statement on its own (ALTER SYSTEM refuses a transaction block).
fn psql(statements: &[String]) -> Command {
    let mut cmd = Command::new("psql");
    cmd.args([
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
        "-q",
    ]);
    for sql in statements {
        cmd.arg("-c").arg(sql);
    }
    cmd
}

/// A CA and a certificate it signs for 127.0.0.1 (and localhost), in `dir`.
fn make_certificates(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = dir.join(format!("{name}-ca.key"));
    let ca = dir.join(format!("{name}-ca.pem"));
    let key = dir.join(format!("{name}-server.key"));
    let csr = dir.join(format!("{name}-server.csr"));
    let cert = dir.join(format!("{name}-server.pem"));
    let ext = dir.join(format!("{name}-ext.cnf"));
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext file");
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        ])
        .arg(format!("/CN=docsync test CA {name}"))
        .arg("-keyout")
        .arg(&ca_key)
        .arg("-out")
        .arg(&ca));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&csr));
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2"])
        .arg("-in")
        .arg(&csr)
        .arg("-CA")
        .arg(&ca)
        .arg("-CAkey")
        .arg(&ca_key)
        .arg("-CAcreateserial")
        .arg("-out")
        .arg(&cert)
        .arg("-extfile")
        .arg(&ext));
    (ca, cert, key)
}

/// Restores the server's TLS settings when the test ends, however it ends.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = psql(&[
            "ALTER SYSTEM RESET ssl".into(),
            "ALTER SYSTEM RESET ssl_cert_file".into(),
            "ALTER SYSTEM RESET ssl_key_file".into(),
            "SELECT pg_reload_conf()".into(),
        ])
        .status();
    }
}

async fn store_at(url: &str) -> Result<Store, String> {
    docsync_store::ensure_database(url)
        .await
        .map_err(|e| e.to_string())?;
    let store = Store::connect(url, 2).map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    Ok(store)
}

#[tokio::test]
async fn the_store_works_over_tls_with_require_and_verify_full() {
    let unique = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let dir = std::env::temp_dir().join(format!("docsync-pg-tls-{unique}"));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let (ca, cert, key) = make_certificates(&dir, "good");
    let (other_ca, _, _) = make_certificates(&dir, "other");
    // The server reads its certificate as its own user; the key must be private to it.
    let served = PathBuf::from(format!("/var/lib/postgresql/docsync-tls-{unique}"));
    std::fs::create_dir_all(&served).expect("a directory the server can read");
    std::fs::copy(&cert, served.join("server.pem")).expect("copy cert");
    std::fs::copy(&key, served.join("server.key")).expect("copy key");
    run(Command::new("chown")
        .arg("-R")
        .arg("postgres:postgres")
        .arg(&served));
    run(Command::new("chmod")
        .arg("600")
        .arg(served.join("server.key")));
    let _restore = Restore;
    run(&mut psql(&[
        format!(
            "ALTER SYSTEM SET ssl_cert_file = '{}'",
            served.join("server.pem").display()
        ),
        format!(
            "ALTER SYSTEM SET ssl_key_file = '{}'",
            served.join("server.key").display()
        ),
        "ALTER SYSTEM SET ssl = on".into(),
        "SELECT pg_reload_conf()".into(),
    ]));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let database = format!("docsync_tls_{unique}");
    let base = format!("postgres://postgres@127.0.0.1:5432/{database}");
    let full = format!("{base}?sslmode=verify-full&sslrootcert={}", ca.display());
    let store = store_at(&full).await.expect("verify-full against our CA");
    assert!(
        store.uses_tls().await.expect("asked"),
        "verify-full is encrypted"
    );
    let account = store.create_account("TLS MSP").await.expect("a write");
    assert!(store.account_exists(account).await.expect("a read"));

    let required = store_at(&format!("{base}?sslmode=require"))
        .await
        .expect("require");
    assert!(
        required.uses_tls().await.expect("asked"),
        "require is encrypted"
    );

    let plain = store_at(&base).await.expect("no sslmode");
    assert!(
        !plain.uses_tls().await.expect("asked"),
        "no sslmode stays plain, as before"
    );

    let refused = store_at(&format!(
        "{base}?sslmode=verify-full&sslrootcert={}",
        other_ca.display()
    ))
    .await
    .err()
    .expect("a certificate from another CA is refused");
    assert!(
        refused.to_lowercase().contains("certificate") || refused.to_lowercase().contains("tls"),
        "{refused}"
    );

    drop((store, required, plain));
    run(&mut psql(&[format!(
        "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
    )]));
    let _ = std::fs::remove_dir_all(&dir);
}
