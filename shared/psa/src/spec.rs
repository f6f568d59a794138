//! The one place a PSA is chosen by its kind: a stored integration's typed config
//! ([`open_config`]: the plain form plus its unsealed secrets) and the source that reads it
//! ([`source`]). Adding a PSA is its config module in `docsync_domain::psa`, its source module
//! here, and one arm in [`source`].

use crate::sync::SyncContext;
use crate::PsaSource;
use docsync_domain::crypto::Binding;
use docsync_domain::crypto::MasterKey;
use docsync_domain::psa::PsaConfig;
use docsync_domain::ApiKey;
use docsync_domain::RunId;
use docsync_store::{PsaIntegration, Store};

/// Writes what a source says into the run's events.
fn run_note(store: Store, run: RunId) -> crate::autotask::RunNote {
    std::sync::Arc::new(move |text: String| {
        let store = store.clone();
        Box::pin(async move {
            if let Err(e) = store.sync_event(run, &text).await {
                tracing::warn!(error = %e, "could not record a sync event");
            }
        })
    })
}

/// The typed config of a stored integration, or why it cannot be read (a person's words).
pub fn open_config(master: &MasterKey, integration: &PsaIntegration) -> Result<PsaConfig, String> {
    let psa = integration.psa;
    let mut open = |name: &str| -> Result<ApiKey, String> {
        let sealed = integration.secrets_sealed.get(name).ok_or_else(|| {
            format!("the stored integration lacks {name}: PUT /integrations/{psa} again")
        })?;
        let binding = Binding::psa_secret(integration.account_id, psa, name);
        let plain = master.open(sealed, &binding).map_err(|e| e.to_string())?;
        ApiKey::parse(name, &plain)
    };
    PsaConfig::from_stored(psa, &integration.config, &mut open)
}

/// The source of a stored integration, paced by its PSA key on the process's pacer and HTTP
/// client, or a reason a person can act on. With `run`, what the source has to say while it
/// reads (e.g. a wait for Autotask's threshold) goes into that sync run's events.
pub fn source(
    ctx: &SyncContext,
    integration: &PsaIntegration,
    run: Option<RunId>,
) -> Result<Box<dyn PsaSource>, String> {
    let config = open_config(&ctx.master, integration)?;
    let limit = integration.options.effective_rate_limit(integration.psa);
    let key = integration.psa.rate_limit_key(integration.account_id);
    let (pacer, http) = (ctx.destinations.pacer(), ctx.destinations.http());
    Ok(match config {
        PsaConfig::ConnectWise(c) => Box::new(crate::connectwise::ConnectWiseClient::new(
            c, limit, key, pacer, http,
        )),
        PsaConfig::Halo(c) => Box::new(crate::halo::HaloClient::new(c, limit, key, pacer, http)),
        PsaConfig::Autotask(c) => {
            let providers = ctx.destinations.providers();
            let note = run.map(|id| run_note(ctx.store.clone(), id));
            Box::new(crate::autotask::AutotaskSource::new(
                crate::autotask::AutotaskClient::new(
                    c,
                    limit,
                    key,
                    pacer,
                    http,
                    providers.autotask_zone_url.clone(),
                    providers.autotask_zones.clone(),
                    note,
                ),
            ))
        }
    })
}
