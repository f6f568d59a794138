//! The OpenAPI description of the PSA configuration bodies (`PUT /integrations/{psa}`) and of
//! their masked views (`GET /integrations/{psa}`), next to the hand-written parsers in
//! `connectwise.rs`, `halo.rs`, `autotask.rs` and `options.rs`.
//!
//! These types are only documentation: the bodies are parsed from `serde_json::Value` by
//! [`super::PsaConfig::parse`], so that a 400 names every bad field at once; the views are
//! built by [`super::PsaConfig::masked_json`]. The API crate's tests compare the property
//! names of each schema with what the parsers accept and the views show.

#![allow(dead_code)]

use utoipa::openapi::schema::{Object, Schema, Type};
use utoipa::ToSchema;

/// The one destination a PSA sync can write to yet.
#[derive(ToSchema)]
#[schema(as = PsaDestination)]
pub enum Destination {
    /// The account's Hudu integration (`PUT /integrations/hudu`).
    #[serde(rename = "hudu")]
    Hudu,
}

/// Destination (Hudu) asset layout ids; a missing or null one is the layout of that exact name
/// (Contacts, Sites, Configurations, Agreements), found or created on the first sync;
/// `configurations` is the layout of configurations no sort rule picks.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = PsaLayouts)]
pub struct Layouts {
    /// Layout of contacts.
    #[schema(minimum = 1, maximum = 9_223_372_036_854_775_807_i64, example = 3)]
    pub contacts: Option<i64>,
    /// Layout of sites.
    #[schema(minimum = 1, maximum = 9_223_372_036_854_775_807_i64)]
    pub sites: Option<i64>,
    /// Layout of configurations no sort rule picks.
    #[schema(minimum = 1, maximum = 9_223_372_036_854_775_807_i64)]
    pub configurations: Option<i64>,
    /// Layout of agreements / contracts.
    #[schema(minimum = 1, maximum = 9_223_372_036_854_775_807_i64)]
    pub agreements: Option<i64>,
}

/// Destination asset layout ids as stored (null: found by name or created on the first sync).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PsaLayoutsView)]
pub struct LayoutsView {
    /// Layout of contacts.
    #[schema(required)]
    pub contacts: Option<i64>,
    /// Layout of sites.
    #[schema(required)]
    pub sites: Option<i64>,
    /// Layout of configurations no sort rule picks.
    #[schema(required)]
    pub configurations: Option<i64>,
    /// Layout of agreements / contracts.
    #[schema(required)]
    pub agreements: Option<i64>,
}

/// Configuration type → layout: the first rule whose `type` equals a configuration's type
/// (ignoring case) picks its layout.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = SortRule)]
pub struct SortRuleBody {
    /// A configuration type (ConnectWise configuration type, Halo asset type, Autotask
    /// configuration category): trimmed, not empty, at most 255 characters, no NUL character;
    /// compared ignoring case.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\u0000]*\S[^\u0000]*$",
        example = "Server"
    )]
    pub r#type: String,
    /// The destination asset layout id.
    #[schema(minimum = 1, maximum = 9_223_372_036_854_775_807_i64, example = 7)]
    pub layout_id: i64,
}

/// What a sync leaves out (a skipped kind is not read at all); a missing or null field takes
/// its default (false, or no types).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = PsaSkip)]
pub struct Skip {
    /// Inactive companies.
    #[schema(default = false)]
    pub inactive_companies: Option<bool>,
    /// Contacts.
    #[schema(default = false)]
    pub contacts: Option<bool>,
    /// Agreements / contracts.
    #[schema(default = false)]
    pub agreements: Option<bool>,
    /// Configurations.
    #[schema(default = false)]
    pub configurations: Option<bool>,
    /// Inactive configurations.
    #[schema(default = false)]
    pub inactive_configurations: Option<bool>,
    /// Sites.
    #[schema(default = false)]
    pub sites: Option<bool>,
    /// Leave out companies of these types (each trimmed, not empty, at most 255 characters).
    #[schema(max_items = 200, schema_with = type_names)]
    pub company_types: Option<Vec<String>>,
    /// Leave out configurations of these types (each trimmed, not empty, at most 255
    /// characters).
    #[schema(max_items = 200, schema_with = type_names)]
    pub configuration_types: Option<Vec<String>>,
}

/// What a sync leaves out, as stored.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PsaSkipView)]
pub struct SkipView {
    /// Inactive companies.
    pub inactive_companies: bool,
    /// Contacts.
    pub contacts: bool,
    /// Agreements / contracts.
    pub agreements: bool,
    /// Configurations.
    pub configurations: bool,
    /// Inactive configurations.
    pub inactive_configurations: bool,
    /// Sites.
    pub sites: bool,
    /// Companies of these types are left out.
    pub company_types: Vec<String>,
    /// Configurations of these types are left out.
    pub configuration_types: Vec<String>,
}

/// A nullable array of type names (trimmed, not empty, at most 255 characters), at most 200.
fn type_names() -> Schema {
    let item = Object::builder()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(255))
        .pattern(Some(r"^[^\u0000]*\S[^\u0000]*$"))
        .build();
    utoipa::openapi::schema::ArrayBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::Array,
            Type::Null,
        ]))
        .items(item)
        .max_items(Some(200))
        .build()
        .into()
}

/// Knowledge-base sync: for HaloPSA only (`true` is refused for the other PSAs).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = PsaKnowledgeBase)]
pub struct KnowledgeBase {
    /// Must be false or left out: the knowledge-base sync is for HaloPSA only.
    #[schema(schema_with = only_false)]
    pub enabled: Option<bool>,
}

fn only_false() -> Schema {
    Object::builder()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::Boolean,
            Type::Null,
        ]))
        .enum_values(Some([Some(false), None]))
        .default(Some(false.into()))
        .build()
        .into()
}

/// HaloPSA's knowledge-base sync.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = HaloKnowledgeBase)]
pub struct HaloKnowledgeBaseBody {
    /// Write Hudu's knowledge-base articles (global ones and those of matched companies) into
    /// Halo's knowledge base, created once and updated in place.
    #[schema(default = false)]
    pub enabled: Option<bool>,
}

/// Whether the knowledge-base sync is on.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PsaKnowledgeBaseView)]
pub struct KnowledgeBaseView {
    /// True only for HaloPSA with the sync turned on.
    pub enabled: bool,
}

/// A PSA key's budget: at most `requests` calls in any `perSeconds` seconds; left out or null,
/// the PSA's default (ConnectWise Manage 10 requests/s, Halo 300 per 5 minutes, Autotask 10,000
/// per hour).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = PsaRateLimit)]
pub struct PsaRateLimit {
    /// Requests allowed per window.
    #[schema(minimum = 1, maximum = 1_000_000, example = 10)]
    pub requests: i64,
    /// Window length in seconds.
    #[schema(minimum = 1, maximum = 86_400, example = 1)]
    pub per_seconds: i64,
}

/// Declares a PSA's PUT body: its own fields, then the options every PSA shares.
macro_rules! psa_put {
    ($(#[$doc:meta])* $name:ident { $($own:tt)* } knowledge_base: $kb:ty) => {
        $(#[$doc])*
        #[derive(ToSchema)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            $($own)*
            /// Where the sync writes: the account's Hudu integration (`PUT
            /// /integrations/hudu`); `it-glue` is not supported for PSA sync yet.
            #[schema(default = "hudu")]
            pub destination: Option<Destination>,
            /// Destination asset layout ids.
            pub layouts: Option<Layouts>,
            /// Configuration type → layout: the first rule whose type equals a configuration's
            /// type (ignoring case) picks its layout, else `layouts.configurations`; a later
            /// rule repeating a type could never apply and is dropped.
            #[schema(max_items = 200, default = json!([]))]
            pub sort_rules: Option<Vec<SortRuleBody>>,
            /// What a sync leaves out.
            pub skip: Option<Skip>,
            /// A rename in the PSA renames the asset.
            #[schema(default = true)]
            pub auto_update_names: Option<bool>,
            /// A record that becomes inactive or disappears has its asset archived (and
            /// unarchived when active again).
            #[schema(default = true)]
            pub auto_archive: Option<bool>,
            /// A matched company's details are updated from the PSA.
            #[schema(default = true)]
            pub update_company_details: Option<bool>,
            /// On the first sync, adopt an existing asset of the same serial before one of the
            /// same name.
            #[schema(default = false)]
            pub match_on_serial: Option<bool>,
            /// Knowledge-base sync.
            pub knowledge_base: Option<$kb>,
            /// When scheduled syncs happen; left out, every 3 hours.
            pub schedule: Option<crate::schedule::PsaScheduleBody>,
            /// The PSA keys' budget.
            pub rate_limit: Option<PsaRateLimit>,
        }
    };
}

/// Declares a PSA's masked view: its own fields, then the options every PSA shares.
macro_rules! psa_view {
    ($(#[$doc:meta])* $name:ident { $($own:tt)* }) => {
        $(#[$doc])*
        #[derive(ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $($own)*
            /// Where the sync writes.
            pub destination: Destination,
            /// Destination asset layout ids.
            pub layouts: LayoutsView,
            /// Configuration type → layout.
            #[schema(max_items = 200)]
            pub sort_rules: Vec<SortRuleBody>,
            /// What a sync leaves out.
            pub skip: SkipView,
            /// A rename in the PSA renames the asset.
            pub auto_update_names: bool,
            /// A record that becomes inactive or disappears has its asset archived.
            pub auto_archive: bool,
            /// A matched company's details are updated from the PSA.
            pub update_company_details: bool,
            /// On the first sync, adopt an existing asset of the same serial first.
            pub match_on_serial: bool,
            /// Knowledge-base sync.
            pub knowledge_base: KnowledgeBaseView,
            /// When scheduled syncs happen.
            pub schedule: crate::schedule::ScheduleView,
            /// The PSA keys' budget; null: the PSA's default.
            #[schema(required)]
            pub rate_limit: Option<PsaRateLimit>,
            /// Only in the answer to PUT: corrections made (e.g. a pasted https:// removed).
            #[schema(nullable = false)]
            pub notices: Option<Vec<String>>,
        }
    };
}

/// A kept secret: a new one (at least `min` characters, no spaces), or the masked value sent
/// back (`••••…`) or null or nothing to keep the stored one.
fn secret(min: usize) -> Schema {
    Object::builder()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::String,
            Type::Null,
        ]))
        .pattern(Some(format!(
            r"^\s*(••••.*|[^\s\u0000-\u001f\u007f-\u009f]{{{min},512}})\s*$"
        )))
        .build()
        .into()
}

/// ConnectWise Manage's public and private keys.
fn connectwise_key() -> Schema {
    secret(super::connectwise::KEY_RULE.min_len)
}

/// Autotask's API user secret.
fn autotask_secret() -> Schema {
    secret(super::autotask::SECRET_RULE.min_len)
}

/// Autotask's tracking identifier.
fn autotask_code() -> Schema {
    secret(super::autotask::INTEGRATION_CODE_RULE.min_len)
}

/// Halo's client secret.
fn halo_secret() -> Schema {
    secret(super::halo::CLIENT_SECRET_RULE.min_len)
}

psa_put! {
    /// ConnectWise Manage's own fields and the shared sync options side by side; publicKey and
    /// privateKey are required too when creating; every optional field left out or null takes
    /// its default (not the stored value); every bad or unknown field is named at once.
    ConnectWiseManageIntegrationPut {
        /// The host you open ConnectWise Manage at, optionally with :port: a cloud host (na, eu,
        /// au, aus, za or staging .myconnectwise.net) or your on-premise host; a pasted
        /// https:// and any path are removed and reported in notices; http://, localhost,
        /// names without a dot and hosts in private networks are refused.
        #[schema(example = "na.myconnectwise.net", pattern = r"^\s*(https://)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(:[1-9][0-9]{0,3})?(/[^\s]*)?\s*$")]
        pub site: String,
        /// The company name you log in with: at most 64 characters, no spaces, slashes or
        /// ?#%+:@.
        #[schema(example = "mymsp", pattern = r"^\s*[^\s\u0000-\u001f\u007f-\u009f/\\?#%+:@]{1,64}\s*$")]
        pub company_id: String,
        /// The API member's public key (System > Members > API Members): at least 16
        /// characters, no spaces; required when creating; leave it out, send null or send it
        /// back masked (••••…) to keep the stored one.
        #[schema(schema_with = connectwise_key)]
        pub public_key: Option<String>,
        /// The API member's private key: at least 16 characters, no spaces; kept like
        /// publicKey.
        #[schema(schema_with = connectwise_key)]
        pub private_key: Option<String>,
        /// The client id from developer.connectwise.com: a GUID in any case, braces allowed
        /// (stored lower-case).
        #[schema(example = "5e3b8c1a-0d2f-4e6a-9b7c-1a2b3c4d5e6f", pattern = r"^\s*(\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\s*$")]
        pub client_id: String,
        /// Ignored when sent, whatever its value: derived from site (as in the view), so a GET's
        /// answer can be sent back as it is.
        pub api_host: Option<serde_json::Value>,
    }
    knowledge_base: KnowledgeBase
}

psa_put! {
    /// HaloPSA's own fields and the shared sync options side by side; clientSecret is required
    /// too when creating; every optional field left out or null takes its default (not the
    /// stored value); every bad or unknown field is named at once.
    HaloPsaIntegrationPut {
        /// Your Halo API root, ending in /api (an instance URL gets /api added, a pasted
        /// endpoint path is cut back to /api; both reported in notices); https only (http and
        /// private hosts only in the sandbox).
        #[schema(example = "https://mymsp.halopsa.com/api", pattern = r"^\s*https://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(:[1-9][0-9]{0,3})?(/|/[Aa][Pp][Ii](/[A-Za-z0-9._~-]*)*)?\s*$")]
        pub resource_server: String,
        /// The authorisation server; default: resourceServer with its final /api replaced by
        /// /auth; a pasted /token is removed.
        #[schema(example = "https://mymsp.halopsa.com/auth", pattern = r"^\s*https://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~-]*)*\s*$")]
        pub auth_server: Option<String>,
        /// The hosted Halo tenant, sent as ?tenant= on the token request; leave it out for a
        /// self-hosted Halo.
        #[schema(example = "mymsp", pattern = r"^\s*[^\s\u0000-\u001f\u007f-\u009f/?#&%]{0,128}\s*$")]
        pub tenant: Option<String>,
        /// The API application's client id (Configuration > Integrations > Halo PSA API > View
        /// Applications): Halo generates a GUID; at least 16 characters, no spaces or slashes.
        #[schema(pattern = r"^\s*[^\s\u0000-\u001f\u007f-\u009f/?#&%]{16,128}\s*$", example = "3f1e2d4c-5b6a-4c7d-8e9f-0123456789ab")]
        pub client_id: String,
        /// The API application's client secret: at least 32 characters, no spaces; required
        /// when creating; leave it out, send null or send it back masked (••••…) to keep the
        /// stored one.
        #[schema(schema_with = halo_secret)]
        pub client_secret: Option<String>,
    }
    knowledge_base: HaloKnowledgeBaseBody
}

psa_put! {
    /// Autotask's own fields and the shared sync options side by side; secret and
    /// integrationCode are required too when creating; every optional field left out or null
    /// takes its default (not the stored value); every bad or unknown field is named at once.
    AutotaskIntegrationPut {
        /// The API user's user name (an e-mail address); its zone is found through
        /// DOCSYNC_AUTOTASK_ZONE_URL.
        #[schema(max_length = 254, pattern = r"^\s*[^\s@\u0000-\u001f\u007f-\u009f]+@[^\s@\u0000-\u001f\u007f-\u009f]+\s*$", example = "api-user@mymsp.com")]
        pub username: String,
        /// The API user's secret: at least 12 characters, no spaces; required when creating;
        /// leave it out, send null or send it back masked (••••…) to keep the stored one.
        #[schema(schema_with = autotask_secret)]
        pub secret: Option<String>,
        /// The tracking identifier of the API user's integration vendor (sent as
        /// ApiIntegrationCode): at least 20 characters, no spaces; kept like secret.
        #[schema(schema_with = autotask_code)]
        pub integration_code: Option<String>,
    }
    knowledge_base: KnowledgeBase
}

psa_view! {
    /// The ConnectWise Manage integration, keys masked: what a PUT takes, so a GET's answer can
    /// be sent back as it is.
    ConnectWiseManageIntegration {
        /// host[:port] as accepted (http://host[:port] only in the sandbox).
        #[schema(example = "na.myconnectwise.net")]
        pub site: String,
        /// Where the REST API is called: api- and a cloud host, an on-premise host as is.
        #[schema(example = "api-na.myconnectwise.net")]
        pub api_host: String,
        /// The company name you log in with.
        pub company_id: String,
        /// Masked: •••• and at most the last 4 characters.
        #[schema(example = "••••cdef")]
        pub public_key: String,
        /// Masked: •••• and at most the last 4 characters.
        #[schema(example = "••••cdef")]
        pub private_key: String,
        /// The client id, lower-case.
        #[schema(format = Uuid)]
        pub client_id: String,
    }
}

psa_view! {
    /// The HaloPSA integration, the secret masked: what a PUT takes, so a GET's answer can be
    /// sent back as it is.
    HaloPsaIntegration {
        /// The Halo API root.
        #[schema(example = "https://mymsp.halopsa.com/api")]
        pub resource_server: String,
        /// The authorisation server.
        #[schema(example = "https://mymsp.halopsa.com/auth")]
        pub auth_server: String,
        /// The hosted Halo tenant; null for a self-hosted Halo.
        #[schema(required)]
        pub tenant: Option<String>,
        /// The API application's client id.
        pub client_id: String,
        /// Masked: •••• and at most the last 4 characters.
        #[schema(example = "••••cdef")]
        pub client_secret: String,
    }
}

psa_view! {
    /// The Autotask integration, secrets masked: what a PUT takes, so a GET's answer can be
    /// sent back as it is.
    AutotaskIntegration {
        /// The API user's user name.
        #[schema(example = "api-user@mymsp.com")]
        pub username: String,
        /// Masked: •••• and at most the last 4 characters.
        #[schema(example = "••••cdef")]
        pub secret: String,
        /// Masked: •••• and at most the last 4 characters.
        #[schema(example = "••••cdef")]
        pub integration_code: String,
    }
}
