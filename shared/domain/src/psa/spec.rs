//! The provider spec of a PSA: what one PSA's config module offers the fleet
//! ([`PsaCredentials`]), and [`PsaConfig`], the one dispatch point over every PSA.
//!
//! Invariant: every PSA is one module implementing [`PsaCredentials`] plus one line in the
//! `registry!` below; the API, the store and the sync only ever see [`PsaConfig`], never a
//! PSA's own type (the PSA crate's source dispatch matches on it once, to build the client).
//! The generic parts (the masked view with the shared options, audit diffs, secret handling)
//! are written here once.

use super::{changed_fields, FieldErrors, Parsed, PsaKind, PsaOptions};
use crate::secret::ApiKey;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// A URL the PSA config makes docsync call, for the public-host check (no request forgery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderHost {
    /// The field the user typed it in (`site`, `resourceServer` ...).
    pub field: &'static str,
    /// The URL's scheme and authority, e.g. `https://mymsp.halopsa.com`.
    pub url: String,
    /// Whether it is reached over https (plain http only where private hosts are allowed).
    pub https: bool,
}

/// One PSA's own config: its credentials and where it lives. Implemented once per PSA.
pub trait PsaCredentials: Sized + Clone + std::fmt::Debug + Send + Sync + 'static {
    /// Which PSA this is.
    const KIND: PsaKind;
    /// The names of its secrets, as they appear in the PUT body and the masked view.
    const SECRET_FIELDS: &'static [&'static str];

    /// Reads the whole PUT body (its own fields and the shared options), naming every bad or
    /// unknown field at once. With `previous`, secrets may be omitted or sent back masked.
    fn parse(
        body: &Value,
        previous: Option<&Self>,
        allow_private: bool,
    ) -> Result<Parsed<Self>, FieldErrors>;

    /// Its own fields of the masked view (secrets masked).
    fn own_view(&self) -> Map<String, Value>;

    /// The plain stored form, without secrets.
    fn stored_json(&self) -> Value;

    /// The secrets to seal and store apart, by name (each name in [`Self::SECRET_FIELDS`]).
    fn secrets(&self) -> Vec<(&'static str, &ApiKey)>;

    /// Rebuilds the value from [`Self::stored_json`] and its unsealed secrets (`open` by name).
    fn from_stored(
        plain: &Value,
        open: &mut dyn FnMut(&str) -> Result<ApiKey, String>,
    ) -> Result<Self, String>;

    /// The hosts docsync will call with this config.
    fn hosts(&self) -> Vec<ProviderHost>;

    /// The view for GET/PUT responses: its own fields masked plus the shared options; a PUT may
    /// send it back as is.
    fn masked_json(&self, options: &PsaOptions) -> Value {
        let mut view = self.own_view();
        if let Value::Object(opts) = options.to_json() {
            view.extend(opts);
        }
        Value::Object(view)
    }

    /// The stored form in one go: `(stored_json(), secrets())`.
    fn split(&self) -> (Value, Vec<(&'static str, &ApiKey)>) {
        (self.stored_json(), self.secrets())
    }

    /// Whether a field of the masked view is a secret.
    fn is_secret_field(field: &str) -> bool {
        Self::SECRET_FIELDS.contains(&field)
    }

    /// The names of the secrets whose values differ from `previous`'s (names only).
    fn changed_secrets(&self, previous: &Self) -> Vec<&'static str> {
        self.secrets()
            .into_iter()
            .zip(previous.secrets())
            .filter(|((_, new), (_, old))| new.expose() != old.expose())
            .map(|((name, _), _)| name)
            .collect()
    }

    /// The fields an upsert changed, for the audit log, sorted: the differing fields of the
    /// two masked views plus every secret whose value changed (even when both mask alike).
    /// With no `previous` (a first save), every field of the view.
    fn audit_changes(
        &self,
        options: &PsaOptions,
        previous: Option<(&Self, &PsaOptions)>,
    ) -> Vec<String> {
        let new = self.masked_json(options);
        let mut out: BTreeSet<String> = match previous {
            None => new
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default(),
            Some((old, old_options)) => changed_fields(&old.masked_json(old_options), &new)
                .into_iter()
                .collect(),
        };
        if let Some((old, _)) = previous {
            out.extend(self.changed_secrets(old).into_iter().map(str::to_owned));
        }
        out.into_iter().collect()
    }
}

/// Builds [`PsaConfig`] and its dispatch from one line per PSA: `Variant(Type)`.
macro_rules! registry {
    ($($variant:ident($ty:ty)),+ $(,)?) => {
        /// The typed config of any PSA: the one dispatch point over every PSA's module.
        #[derive(Debug, Clone)]
        pub enum PsaConfig {
            $(
                #[doc = concat!("A [`", stringify!($ty), "`].")]
                $variant($ty),
            )+
        }

        impl PsaConfig {
            /// Which PSA this is.
            pub fn kind(&self) -> PsaKind {
                match self { $(PsaConfig::$variant(_) => <$ty as PsaCredentials>::KIND,)+ }
            }

            /// Parses `kind`'s PUT body (see [`PsaCredentials::parse`]). A `previous` of another
            /// PSA is ignored.
            pub fn parse(
                kind: PsaKind,
                body: &Value,
                previous: Option<&PsaConfig>,
                allow_private: bool,
            ) -> Result<Parsed<PsaConfig>, FieldErrors> {
                $(
                    if kind == <$ty as PsaCredentials>::KIND {
                        let previous = previous.and_then(|p| match p {
                            PsaConfig::$variant(c) => Some(c),
                            #[allow(unreachable_patterns)]
                            _ => None,
                        });
                        let parsed = <$ty as PsaCredentials>::parse(body, previous, allow_private)?;
                        return Ok(Parsed {
                            config: PsaConfig::$variant(parsed.config),
                            options: parsed.options,
                            notices: parsed.notices,
                        });
                    }
                )+
                Err(vec![("psa".into(), format!("{kind} is not built yet"))])
            }

            /// Rebuilds `kind`'s config from its stored form and unsealed secrets.
            pub fn from_stored(
                kind: PsaKind,
                plain: &Value,
                open: &mut dyn FnMut(&str) -> Result<ApiKey, String>,
            ) -> Result<PsaConfig, String> {
                $(
                    if kind == <$ty as PsaCredentials>::KIND {
                        return <$ty as PsaCredentials>::from_stored(plain, open)
                            .map(PsaConfig::$variant);
                    }
                )+
                Err(format!("{kind} is not built yet"))
            }

            /// Whether `kind` has a module.
            pub fn is_built(kind: PsaKind) -> bool {
                false $(|| kind == <$ty as PsaCredentials>::KIND)+
            }

            /// Whether `field` of `kind`'s masked view is a secret.
            pub fn is_secret_field(kind: PsaKind, field: &str) -> bool {
                $(
                    if kind == <$ty as PsaCredentials>::KIND {
                        return <$ty as PsaCredentials>::is_secret_field(field);
                    }
                )+
                false
            }

            /// See [`PsaCredentials::masked_json`].
            pub fn masked_json(&self, options: &PsaOptions) -> Value {
                match self { $(PsaConfig::$variant(c) => c.masked_json(options),)+ }
            }

            /// See [`PsaCredentials::split`].
            pub fn split(&self) -> (Value, Vec<(&'static str, &ApiKey)>) {
                match self { $(PsaConfig::$variant(c) => c.split(),)+ }
            }

            /// See [`PsaCredentials::hosts`].
            pub fn hosts(&self) -> Vec<ProviderHost> {
                match self { $(PsaConfig::$variant(c) => c.hosts(),)+ }
            }

            /// See [`PsaCredentials::changed_secrets`]; every secret when `previous` is
            /// another PSA's.
            pub fn changed_secrets(&self, previous: &PsaConfig) -> Vec<&'static str> {
                match (self, previous) {
                    $((PsaConfig::$variant(new), PsaConfig::$variant(old)) => new.changed_secrets(old),)+
                    #[allow(unreachable_patterns)]
                    (new, _) => new.split().1.into_iter().map(|(n, _)| n).collect(),
                }
            }

            /// See [`PsaCredentials::audit_changes`].
            pub fn audit_changes(
                &self,
                options: &PsaOptions,
                previous: Option<(&PsaConfig, &PsaOptions)>,
            ) -> Vec<String> {
                match self {
                    $(PsaConfig::$variant(new) => {
                        let previous = previous.and_then(|(p, o)| match p {
                            PsaConfig::$variant(c) => Some((c, o)),
                            #[allow(unreachable_patterns)]
                            _ => None,
                        });
                        new.audit_changes(options, previous)
                    })+
                }
            }
        }
    };
}

registry! {
    ConnectWise(super::ConnectWiseConfig),
    Halo(super::HaloConfig),
    Autotask(super::AutotaskConfig),
}
