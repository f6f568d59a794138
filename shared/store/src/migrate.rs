//! Schema migrations (refinery), serialised across processes by an advisory lock, and the
//! creation of the database itself when it does not exist yet.

use crate::{StoreError, StoreResult};

mod embedded {
    refinery::embed_migrations!("migrations");
}

const MIGRATION_LOCK: i64 = 0x646f_6373_796e_6301;

pub(crate) async fn run(client: &mut deadpool_postgres::Object) -> StoreResult<()> {
    locked(client, embedded::migrations::runner()).await
}

/// Applies the embedded migrations up to and including V`version`, under the same advisory
/// lock as [`run`]. Migrations already applied (V`version` or later ones) stay as they are: this
/// never undoes one. A version that names no embedded migration is refused, so a typo cannot
/// silently migrate to the latest schema.
pub(crate) async fn run_to(
    client: &mut deadpool_postgres::Object,
    version: u32,
) -> StoreResult<()> {
    let mut runner = embedded::migrations::runner();
    let target = refinery::SchemaVersion::try_from(version)
        .ok()
        .filter(|v| runner.get_migrations().iter().any(|m| m.version() == *v))
        .ok_or_else(|| StoreError::Migration(format!("there is no migration V{version}")))?;
    runner = runner.set_target(refinery::Target::Version(target));
    locked(client, runner).await
}

/// Runs `runner` under the migration lock, so processes starting together migrate once.
async fn locked(
    client: &mut deadpool_postgres::Object,
    runner: refinery::Runner,
) -> StoreResult<()> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let raw: &mut tokio_postgres::Client = client;
    let result = runner
        .run_async(raw)
        .await
        .map(|_| ())
        .map_err(|e| StoreError::Migration(e.to_string()));
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    result
}

/// Creates the database named in `database_url` when it does not exist (connecting to the
/// `postgres` maintenance database of the same server).
pub async fn ensure_database(database_url: &str) -> StoreResult<()> {
    let target = crate::tls::Target::parse(database_url)?;
    let mut config = target.config;
    let name = config
        .get_dbname()
        .ok_or_else(|| StoreError::BadUrl("the URL names no database".into()))?
        .to_owned();
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(StoreError::BadUrl(format!(
            "database name {name:?} may only hold letters, digits, _ and -"
        )));
    }
    config.dbname("postgres");
    let (client, driver) = match target.tls {
        Some(tls) => {
            let (client, conn) = config.connect(tls).await?;
            (client, tokio::spawn(async move { conn.await.map(|_| ()) }))
        }
        None => {
            let (client, conn) = config.connect(tokio_postgres::NoTls).await?;
            (client, tokio::spawn(async move { conn.await.map(|_| ()) }))
        }
    };
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        if let Err(e) = client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
        {
            // Another process may have created it in the meantime.
            if e.code() != Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) {
                return Err(e.into());
            }
        }
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}
