//! Builds the destination of an account's integration from its stored configuration (a sink
//! for posture documents, Hudu's object writer for PSA records), so the fleet never needs to
//! know one provider from another. Adding a provider means one arm here and one module in
//! `docsync-sinks`.

use docsync_domain::crypto::Binding;
use docsync_domain::crypto::MasterKey;
use docsync_domain::{rate_limit_key, AccountId, ApiKey, BaseUrl, ItGlueRegion, Provider};
use docsync_sinks::hudu_objects::HuduObjects;
use docsync_sinks::{
    AssetTypeCache, HuduConfig, HuduSink, ItGlueConfig, ItGlueHosts, ItGlueSink, Pacer, Sink,
};
use docsync_store::{Integration, Store};
use std::sync::Arc;
use std::time::Duration;

/// What every sink of a process shares: the pacer, provider hosts, per-account caches.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    /// Paces every provider call by rate-limit key.
    pub pacer: Pacer,
    /// IT Glue's regional hosts.
    pub itglue_hosts: ItGlueHosts,
    /// IT Glue flexible asset type ids per account.
    pub itglue_types: AssetTypeCache,
    /// Where Autotask's zone discovery is asked (`DOCSYNC_AUTOTASK_ZONE_URL`).
    pub autotask_zone_url: String,
    /// Autotask zones found, by API user name (a database never moves zone mid-process).
    pub autotask_zones: ZoneCache,
    /// Connect only to public addresses, checked when each connection is made (false only
    /// with `DOCSYNC_ALLOW_PRIVATE_PROVIDER_URLS`: the sandbox and tests).
    pub public_addresses_only: bool,
}

/// Autotask API roots by user name, shared by a process's syncs.
pub type ZoneCache = Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>;

/// Autotask's own zone discovery host.
pub const AUTOTASK_ZONE_URL: &str = "https://webservices.autotask.net/atservicesrest";

/// Sinks built per (account, provider), with when their integration was last changed.
type BuiltSinks = Arc<
    std::sync::Mutex<
        std::collections::HashMap<
            (AccountId, Provider),
            (chrono::DateTime<chrono::Utc>, Integration, Arc<dyn Sink>),
        >,
    >,
>;

/// Integrations whose sink is kept built; past this many the kept ones are dropped.
const KEPT_SINKS: usize = 4096;

/// Makes sinks for integrations, sharing one [`Providers`] per process.
#[derive(Clone)]
pub struct SinkFactory {
    store: Store,
    master: MasterKey,
    providers: Providers,
    http: reqwest::Client,
    built: BuiltSinks,
}

impl SinkFactory {
    /// A factory over the store with the process's shared provider state; an error when the
    /// HTTP client cannot be built (the process should not start).
    pub fn new(
        store: Store,
        master: MasterKey,
        providers: Providers,
        timeout: Duration,
    ) -> Result<Self, docsync_sinks::http::ClientError> {
        let http = docsync_sinks::http_client(timeout, providers.public_addresses_only)?;
        Ok(Self {
            store,
            master,
            providers,
            http,
            built: BuiltSinks::default(),
        })
    }

    /// The process's pacer (shared by every provider call).
    pub fn pacer(&self) -> docsync_sinks::Pacer {
        self.providers.pacer.clone()
    }

    /// The process's outbound HTTP client.
    pub fn http(&self) -> reqwest::Client {
        self.http.clone()
    }

    /// What every provider call of the process shares (hosts, caches, the pacer).
    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    /// The account's integration for `provider` (without its mappings) and its sink, or a
    /// reason a person can act on.
    pub async fn sink(
        &self,
        account_id: AccountId,
        provider: Provider,
    ) -> anyhow::Result<Result<(Integration, Arc<dyn Sink>), String>> {
        let Some(integration) = self
            .store
            .integration_settings(account_id, provider)
            .await?
        else {
            return Ok(Err(format!(
                "the {provider} integration is not configured: PUT /integrations/{provider}"
            )));
        };
        match self.build(&integration) {
            Ok(sink) => Ok(Ok((integration, sink))),
            Err(e) => Ok(Err(e)),
        }
    }

    /// As [`SinkFactory::sink`], for an integration last changed at `changed_at` (None: it
    /// does not exist): the sink built for that version is reused without reading the
    /// integration again or opening its key, and a changed integration is read afresh.
    pub async fn sink_as_of(
        &self,
        account_id: AccountId,
        provider: Provider,
        changed_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> anyhow::Result<Result<(Integration, Arc<dyn Sink>), String>> {
        let Some(changed_at) = changed_at else {
            return self.sink(account_id, provider).await;
        };
        let kept = self
            .built
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(account_id, provider))
            .filter(|(at, _, _)| *at == changed_at)
            .map(|(_, integration, sink)| (integration.clone(), sink.clone()));
        if let Some(found) = kept {
            return Ok(Ok(found));
        }
        let built = self.sink(account_id, provider).await?;
        if let Ok((integration, sink)) = &built {
            let mut kept = self.built.lock().unwrap_or_else(|p| p.into_inner());
            if kept.len() >= KEPT_SINKS {
                kept.clear();
            }
            kept.insert(
                (account_id, provider),
                (integration.updated_at, integration.clone(), sink.clone()),
            );
        }
        Ok(built)
    }

    /// The Hudu writer of companies, layouts and assets for the account's Hudu integration
    /// (its URL, key and budget: shared with posture pushes), or a reason a person can act on.
    pub async fn hudu_objects(
        &self,
        account_id: AccountId,
    ) -> anyhow::Result<Result<HuduObjects, String>> {
        let Some(integration) = self
            .store
            .integration_settings(account_id, Provider::Hudu)
            .await?
        else {
            return Ok(Err(
                "the sync writes to Hudu, which is not configured: PUT /integrations/hudu first"
                    .into(),
            ));
        };
        Ok(self.hudu_config(&integration).map(|config| {
            HuduObjects::new(config, self.providers.pacer.clone(), self.http.clone())
        }))
    }

    fn hudu_config(&self, integration: &Integration) -> Result<HuduConfig, String> {
        let (api_key, rate_limit, rate_limit_key) = self.credential(integration)?;
        let base_url = integration
            .base_url
            .clone()
            .ok_or("the Hudu integration has no baseUrl: PUT /integrations/hudu")?;
        Ok(HuduConfig {
            base_url: BaseUrl::trusted(base_url),
            api_key,
            rate_limit,
            rate_limit_key,
        })
    }

    /// The integration's key (unsealed), budget and rate-limit key.
    fn credential(
        &self,
        integration: &Integration,
    ) -> Result<(ApiKey, docsync_domain::RateLimit, String), String> {
        let key = self
            .master
            .open(
                &integration.api_key_sealed,
                &Binding::integration_api_key(integration.account_id, integration.provider),
            )
            .map_err(|e| e.to_string())?;
        let api_key = ApiKey::parse("apiKey", &key)?;
        let rate_limit = integration
            .rate_limit
            .unwrap_or_else(|| integration.provider.default_rate_limit());
        Ok((
            api_key,
            rate_limit,
            rate_limit_key(integration.provider, integration.account_id),
        ))
    }

    /// Builds the sink for a stored integration.
    pub fn build(&self, integration: &Integration) -> Result<Arc<dyn Sink>, String> {
        match integration.provider {
            Provider::Hudu => Ok(Arc::new(HuduSink::new(
                self.hudu_config(integration)?,
                self.providers.pacer.clone(),
                self.http.clone(),
            ))),
            Provider::ItGlue => {
                let (api_key, rate_limit, limit_key) = self.credential(integration)?;
                let region: ItGlueRegion = integration
                    .region
                    .as_deref()
                    .ok_or("the IT Glue integration has no region: PUT /integrations/it-glue")?
                    .parse()
                    .map_err(|e| format!("region {e}"))?;
                let base_url = self.providers.itglue_hosts.url(region).to_owned();
                Ok(Arc::new(ItGlueSink::new(
                    ItGlueConfig {
                        base_url: BaseUrl::trusted(base_url),
                        region,
                        api_key,
                        rate_limit,
                        rate_limit_key: limit_key,
                    },
                    self.providers.pacer.clone(),
                    self.providers.itglue_types.clone(),
                    self.http.clone(),
                )))
            }
        }
    }
}
