//! Collecting one tenant: sign in, read every section concurrently (bounded), turn failures
//! into unavailable sections, evaluate the baselines and assemble the [`Snapshot`].

use crate::auth::{AccessToken, SignInError, TokenCache, EXCHANGE_SCOPE, GRAPH_SCOPE};
use crate::fetch::{unavailable_reason, Endpoint, Reader, Service};
use crate::http::{CallError, Caller, Hosts, Pacing};
use crate::sections::{
    authentication_methods, conditional_access, copilot, defender, exchange, metadata, mfa,
};
use crate::{compliance, wire, GraphSourceConfig, MicrosoftCredentials, SourceError, TenantRef};
use chrono::Utc;
use docsync_domain::snapshot::{ExchangePosture, Section};
use docsync_domain::Snapshot;
use docsync_outbound::Pacer;
use std::sync::Arc;

const ORGANIZATION: Endpoint = Endpoint {
    path: "/organization",
    version: "v1.0",
    permission: "Organization.Read.All",
};
const SUBSCRIBED_SKUS: Endpoint = Endpoint {
    path: "/subscribedSkus",
    version: "v1.0",
    permission: "Organization.Read.All",
};
const USER_COUNT: Endpoint = Endpoint {
    path: "/users/$count",
    version: "v1.0",
    permission: "User.Read.All",
};
const REGISTRATION: Endpoint = Endpoint {
    path: "/reports/authenticationMethods/userRegistrationDetails",
    version: "v1.0",
    permission: "AuditLog.Read.All (the tenant also needs Entra ID P1 or P2)",
};
const CA_POLICIES: Endpoint = Endpoint {
    path: "/identity/conditionalAccess/policies",
    version: "v1.0",
    permission: "Policy.Read.All",
};
const AUTH_METHODS: Endpoint = Endpoint {
    path: "/policies/authenticationMethodsPolicy",
    version: "v1.0",
    permission: "Policy.Read.All",
};
const INCIDENTS: Endpoint = Endpoint {
    path: "/security/incidents",
    version: "v1.0",
    permission: "SecurityIncident.Read.All",
};
const SECURE_SCORES: Endpoint = Endpoint {
    path: "/security/secureScores",
    version: "v1.0",
    permission: "SecurityEvents.Read.All",
};
const CONTROL_PROFILES: Endpoint = Endpoint {
    path: "/security/secureScoreControlProfiles",
    version: "v1.0",
    permission: "SecurityEvents.Read.All",
};
const COPILOT_USAGE: Endpoint = Endpoint {
    path: "/reports/getMicrosoft365CopilotUsageUserDetail(period='D30')",
    version: "beta",
    permission: "Reports.Read.All",
};
const EXCHANGE_PERMISSION: &str = "the Office 365 Exchange Online permission Exchange.ManageAsApp (with the Exchange Administrator or Global Reader role)";
const DKIM: Endpoint = Endpoint {
    path: "Get-DkimSigningConfig",
    version: "",
    permission: EXCHANGE_PERMISSION,
};
const ANTI_PHISH: Endpoint = Endpoint {
    path: "Get-AntiPhishPolicy",
    version: "",
    permission: EXCHANGE_PERMISSION,
};
const AUDIT_CONFIG: Endpoint = Endpoint {
    path: "Get-AdminAuditLogConfig",
    version: "",
    permission: EXCHANGE_PERMISSION,
};
const INCIDENT_FILTER: &str = "severity eq 'high' and status eq 'active'";

/// The Microsoft Graph + Exchange Online source. Cheap to clone: clones share the HTTP client
/// and the token cache.
#[derive(Clone)]
pub struct GraphSource {
    inner: Arc<Inner>,
}

struct Inner {
    config: GraphSourceConfig,
    pacing: Pacing,
    tokens: TokenCache,
}

impl std::fmt::Debug for GraphSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphSource")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// One failed read, with the reason to show.
struct Failure {
    reason: String,
    transient: bool,
}

fn fail(service: Service, ep: Endpoint, err: &CallError) -> Failure {
    Failure {
        reason: unavailable_reason(service, ep, err),
        transient: err.is_transient(),
    }
}

fn graph<T>(ep: Endpoint, r: Result<T, CallError>) -> Result<T, Failure> {
    r.map_err(|e| fail(Service::Graph, ep, &e))
}

/// Makes a section from the parts it needs; unavailable with every failing part's reason.
fn section<T>(parts: &[Option<&Failure>], build: impl FnOnce() -> T) -> Section<T> {
    let reasons: Vec<&str> = parts.iter().flatten().map(|f| f.reason.as_str()).collect();
    if reasons.is_empty() {
        Section::collected(build())
    } else {
        Section::unavailable(reasons.join("; "))
    }
}

impl GraphSource {
    /// A source with its own HTTP client on the one outbound stack (per-request timeout from
    /// the config, no redirects) and its own pacer: its keys are per Microsoft tenant, and a
    /// tenant's collection and audit polls run in the process that holds the source. An
    /// error when the HTTP client cannot be built (the process should not start).
    pub fn new(config: GraphSourceConfig) -> Result<Self, docsync_outbound::ClientError> {
        // Graph, Entra and Exchange are the operator's configured roots, not user-given hosts.
        let http = docsync_outbound::client(config.request_timeout, false)?;
        let pacing = Pacing {
            pacer: Pacer::new(),
            budgets: config.budgets,
            hosts: Hosts::of(&config),
            http,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                pacing,
                tokens: TokenCache::default(),
            }),
        })
    }

    /// The same source, counting every Microsoft request (sign-in, Graph, Exchange) and its
    /// pacing in `metrics`.
    pub fn with_metrics(self, metrics: docsync_telemetry::Metrics) -> Self {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            config: shared.config.clone(),
            pacing: shared.pacing.clone(),
            tokens: TokenCache::default(),
        });
        let pacing = Pacing {
            pacer: inner.pacing.pacer.clone().with_metrics(metrics),
            ..inner.pacing
        };
        Self {
            inner: Arc::new(Inner { pacing, ..inner }),
        }
    }

    /// The configuration this source runs with.
    pub fn config(&self) -> &GraphSourceConfig {
        &self.inner.config
    }

    /// The HTTP client every call of this source goes through.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.pacing.http
    }

    /// A caller for one tenant's calls, paced under that tenant's keys.
    pub(crate) fn caller(&self, ms_tenant: &str, max_concurrency: usize) -> Caller {
        Caller::new(
            &self.inner.pacing,
            ms_tenant,
            max_concurrency,
            self.inner.config.max_retries,
        )
    }

    /// A token for `scope` in `ms_tenant`, from the cache or signed in through `caller`; a
    /// refused sign-in is the collection's error for that tenant.
    pub(crate) async fn sign_in(
        &self,
        caller: &Caller,
        creds: &MicrosoftCredentials,
        ms_tenant: &str,
        scope: &'static str,
    ) -> Result<AccessToken, SourceError> {
        self.inner
            .tokens
            .token(
                &self.inner.pacing.http,
                caller,
                &self.inner.config.login_url,
                creds,
                ms_tenant,
                scope,
            )
            .await
            .map_err(|e| e.for_tenant(ms_tenant))
    }

    /// Collects the tenant's posture. Sections that cannot be read are recorded as unavailable
    /// with a reason; only a failed sign-in ([`SourceError::SignIn`]) or a network that failed
    /// every Graph call ([`SourceError::Transient`]) is an error.
    pub async fn collect(
        &self,
        creds: &MicrosoftCredentials,
        tenant: &TenantRef,
    ) -> Result<Snapshot, SourceError> {
        let cfg = &self.inner.config;
        let ms_tenant = tenant.microsoft_tenant_id.trim();
        let token_caller = self.caller(ms_tenant, 2).hedged(cfg.hedge_after);
        let caller = self
            .caller(ms_tenant, cfg.max_concurrency)
            .hedged(cfg.hedge_after);
        let reader = Reader {
            http: &self.inner.pacing.http,
            caller: &caller,
            graph_url: &cfg.graph_url,
            exchange_url: &cfg.exchange_url,
            microsoft_tenant_id: ms_tenant,
        };
        // Graph's sign-in and reads beside Exchange's sign-in and cmdlets: neither waits for
        // the other's token, and the Copilot usage report follows the licences it depends on
        // without waiting for the other reads.
        let graph_reads = async {
            let token = self
                .sign_in(&token_caller, creds, ms_tenant, GRAPH_SCOPE)
                .await?;
            let t = &token;
            let licences = async {
                let skus = reader
                    .all::<wire::SubscribedSku>(t, SUBSCRIBED_SKUS, &[])
                    .await;
                let usage = match &skus {
                    Ok(skus) if copilot::seats(skus) != (0, 0) => Some(
                        reader
                            .all::<wire::CopilotUsage>(
                                t,
                                COPILOT_USAGE,
                                &[("$format", "application/json")],
                            )
                            .await,
                    ),
                    _ => None,
                };
                (skus, usage)
            };
            Ok::<_, SourceError>(tokio::join!(
                reader.all::<wire::Organization>(t, ORGANIZATION, &[]),
                licences,
                reader.count(t, USER_COUNT),
                reader.all::<wire::RegistrationDetail>(t, REGISTRATION, &[]),
                reader.all::<wire::ConditionalAccessPolicy>(t, CA_POLICIES, &[]),
                reader.all::<wire::Incident>(t, INCIDENTS, &[("$filter", INCIDENT_FILTER)]),
                reader.first_page::<wire::SecureScore>(t, SECURE_SCORES, &[("$top", "1")]),
                reader.all::<wire::ControlProfile>(t, CONTROL_PROFILES, &[]),
                reader.object::<wire::AuthenticationMethodsPolicy>(t, AUTH_METHODS),
            ))
        };
        let (graph_reads, exchange) = tokio::join!(
            graph_reads,
            self.exchange(&reader, &token_caller, creds, ms_tenant)
        );
        let (
            orgs,
            (skus, usage),
            count,
            registration,
            policies,
            incidents,
            scores,
            profiles,
            auth_methods,
        ) = graph_reads?;
        let (exchange, exchange_transient) = exchange;
        let orgs = graph(ORGANIZATION, orgs);
        let skus = graph(SUBSCRIBED_SKUS, skus);
        let count = graph(USER_COUNT, count);
        let registration = graph(REGISTRATION, registration);
        let policies = graph(CA_POLICIES, policies);
        let incidents = graph(INCIDENTS, incidents);
        let scores = graph(SECURE_SCORES, scores);
        let profiles = graph(CONTROL_PROFILES, profiles);
        let auth_methods = graph(AUTH_METHODS, auth_methods);
        let usage = usage.map(|u| graph(COPILOT_USAGE, u));

        let graph_failures: Vec<Option<&Failure>> = vec![
            orgs.as_ref().err(),
            skus.as_ref().err(),
            count.as_ref().err(),
            registration.as_ref().err(),
            policies.as_ref().err(),
            incidents.as_ref().err(),
            scores.as_ref().err(),
            profiles.as_ref().err(),
            auth_methods.as_ref().err(),
            usage.as_ref().and_then(|u| u.as_ref().err()),
        ];
        let attempted = 9 + usize::from(usage.is_some());
        let failed: Vec<&Failure> = graph_failures.iter().flatten().copied().collect();
        if failed.len() == attempted && failed.iter().all(|f| f.transient) {
            return Err(SourceError::Transient {
                reason: format!(
                    "every Microsoft Graph call for tenant {ms_tenant} failed ({})",
                    failed.first().map_or("", |f| f.reason.as_str())
                ),
            });
        }
        for f in &failed {
            tracing::warn!(tenant = %tenant.tenant_id, reason = %f.reason, "section not collected");
        }
        let mut transient_gaps: Vec<String> = failed
            .iter()
            .filter(|f| f.transient)
            .map(|f| f.reason.clone())
            .collect();

        let metadata = section(
            &[
                orgs.as_ref().err(),
                skus.as_ref().err(),
                count.as_ref().err(),
            ],
            || {
                metadata::summarise(
                    orgs.as_deref().unwrap_or_default(),
                    skus.as_deref().unwrap_or_default(),
                    count.as_ref().copied().unwrap_or_default(),
                )
            },
        );
        let mfa = section(&[registration.as_ref().err()], || {
            mfa::summarise(registration.as_deref().unwrap_or_default())
        });
        let conditional_access = section(&[policies.as_ref().err()], || {
            conditional_access::summarise(policies.as_deref().unwrap_or_default())
        });
        let authentication_methods = section(&[auth_methods.as_ref().err()], || {
            authentication_methods::summarise(auth_methods.as_ref().unwrap_or(&Default::default()))
        });
        let defender = section(
            &[
                incidents.as_ref().err(),
                scores.as_ref().err(),
                profiles.as_ref().err(),
            ],
            || {
                defender::summarise(
                    incidents.as_deref().unwrap_or_default(),
                    scores.as_deref().unwrap_or_default(),
                    profiles.as_deref().unwrap_or_default(),
                )
            },
        );
        if let Section::Unavailable { reason } = &exchange {
            tracing::warn!(tenant = %tenant.tenant_id, %reason, "exchange section not collected");
            if exchange_transient {
                transient_gaps.push(reason.clone());
            }
        }
        let audit = exchange.data().map(|e| e.unified_audit_enabled);
        let now = Utc::now();
        let copilot = section(
            &[
                skus.as_ref().err(),
                usage.as_ref().and_then(|u| u.as_ref().err()),
            ],
            || {
                let usage = usage
                    .as_ref()
                    .and_then(|u| u.as_deref().ok())
                    .unwrap_or_default();
                copilot::summarise(skus.as_deref().unwrap_or_default(), usage, audit, now)
            },
        );
        let facts = compliance::PostureFacts {
            metadata: &metadata,
            mfa: &mfa,
            conditional_access: &conditional_access,
            defender: &defender,
            exchange: &exchange,
            copilot: &copilot,
        };
        let (standards, compliance) = compliance::evaluate(&facts);
        Ok(Snapshot {
            tenant_id: tenant.tenant_id,
            tenant_name: tenant.name.clone(),
            microsoft_tenant_id: ms_tenant.to_owned(),
            collected_at: Utc::now(),
            metadata,
            mfa,
            conditional_access,
            authentication_methods,
            defender,
            exchange,
            copilot,
            standards,
            compliance,
            transient_gaps,
        })
    }

    /// The Exchange section: its own token, then the three cmdlets; and whether what kept
    /// it from being collected was passing.
    async fn exchange(
        &self,
        reader: &Reader<'_>,
        token_caller: &Caller,
        creds: &MicrosoftCredentials,
        ms_tenant: &str,
    ) -> (Section<ExchangePosture>, bool) {
        let cfg = &self.inner.config;
        let token = match self
            .inner
            .tokens
            .token(
                &self.inner.pacing.http,
                token_caller,
                &cfg.login_url,
                creds,
                ms_tenant,
                EXCHANGE_SCOPE,
            )
            .await
        {
            Ok(t) => t,
            Err(SignInError::Refused { reason }) => {
                return (
                    Section::unavailable(format!(
                        "{reason}; Exchange Online also needs {EXCHANGE_PERMISSION}"
                    )),
                    false,
                )
            }
            Err(SignInError::Unreachable { reason }) => {
                return (
                    Section::unavailable(format!("{reason}; the next sync will try again")),
                    true,
                )
            }
        };
        let (dkim, phish, audit) = tokio::join!(
            reader.cmdlet::<wire::DkimSigningConfig>(&token, DKIM.path),
            reader.cmdlet::<wire::AntiPhishPolicy>(&token, ANTI_PHISH.path),
            reader.cmdlet::<wire::AdminAuditLogConfig>(&token, AUDIT_CONFIG.path),
        );
        let failures = [
            dkim.as_ref()
                .err()
                .map(|e| fail(Service::Exchange, DKIM, e)),
            phish
                .as_ref()
                .err()
                .map(|e| fail(Service::Exchange, ANTI_PHISH, e)),
            audit
                .as_ref()
                .err()
                .map(|e| fail(Service::Exchange, AUDIT_CONFIG, e)),
        ];
        let refs: Vec<Option<&Failure>> = failures.iter().map(Option::as_ref).collect();
        let transient = failures.iter().flatten().any(|f| f.transient);
        let section = section(&refs, || {
            exchange::summarise(
                dkim.as_deref().unwrap_or_default(),
                phish.as_deref().unwrap_or_default(),
                audit.as_deref().unwrap_or_default(),
            )
        });
        (section, transient)
    }
}
