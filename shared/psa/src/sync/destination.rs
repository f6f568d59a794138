//! The destination's asset layouts of a sync, resolved once (configured id, else found by exact name, else created; fields docsync
//! writes and a layout lacks are added) and cached for a few minutes.

use crate::payload::RecordKind;
use crate::projection::HuduLayouts;
use crate::CallError;
use docsync_domain::psa::PsaOptions;
use docsync_domain::AccountId;
use docsync_sinks::hudu_objects::{HuduLayoutRef, HuduObjects};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long resolved layouts are trusted before they are looked at again.
const LAYOUT_TTL: Duration = Duration::from_secs(300);

/// Resolved layouts per (account, options fingerprint).
#[derive(Debug, Clone, Default)]
pub struct LayoutCache(Arc<Mutex<HashMap<LayoutKey, (Instant, HuduLayouts)>>>);

/// An account and the fingerprint of its layout options.
type LayoutKey = (AccountId, String);

impl LayoutCache {
    /// The layouts of the options, resolved (cached for a few minutes).
    pub async fn resolve(
        &self,
        account_id: AccountId,
        options: &PsaOptions,
        hudu: &HuduObjects,
    ) -> Result<HuduLayouts, CallError> {
        let fp =
            serde_json::to_string(&(&options.layouts, &options.sort_rules)).unwrap_or_default();
        let key = (account_id, fp);
        if let Some((at, layouts)) = self.0.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            if at.elapsed() < LAYOUT_TTL {
                return Ok(layouts.clone());
            }
        }
        // The kinds' layouts at once: each is a lookup and perhaps a create, answered in a
        // few hundred milliseconds, and the sync's first writes wait for all of them. Not when
        // two kinds are configured to one layout (its missing fields must be added once).
        let configured = RecordKind::ALL.map(|kind| match kind {
            RecordKind::Contact => options.layouts.contacts,
            RecordKind::Site => options.layouts.sites,
            RecordKind::Configuration => options.layouts.configurations,
            RecordKind::Agreement => options.layouts.agreements,
        });
        let ids: Vec<i64> = configured.iter().flatten().copied().collect();
        let distinct = ids.iter().collect::<std::collections::HashSet<_>>().len() == ids.len();
        let kinds = RecordKind::ALL
            .into_iter()
            .zip(configured)
            .map(|(kind, configured)| {
                let field = format!("layouts.{}s", kind.as_str());
                async move {
                    let layout = ensure(
                        hudu,
                        configured,
                        kind.layout_name(),
                        kind.field_labels(),
                        &field,
                    )
                    .await?;
                    Ok::<_, CallError>((kind, layout.id))
                }
            });
        let resolved: HashMap<RecordKind, i64> = if distinct {
            futures::future::try_join_all(kinds).await?
        } else {
            let mut resolved = Vec::new();
            for kind in kinds {
                resolved.push(kind.await?);
            }
            resolved
        }
        .into_iter()
        .collect();
        let mut sort_rules = Vec::new();
        for (i, rule) in options.sort_rules.iter().enumerate() {
            let layout = ensure(
                hudu,
                Some(rule.layout_id),
                "",
                RecordKind::Configuration.field_labels(),
                &format!("sortRules[{i}].layoutId"),
            )
            .await?;
            sort_rules.push((rule.type_name.clone(), layout.id));
        }
        let layouts = HuduLayouts {
            contacts: resolved[&RecordKind::Contact],
            sites: resolved[&RecordKind::Site],
            configurations: resolved[&RecordKind::Configuration],
            agreements: resolved[&RecordKind::Agreement],
            sort_rules,
        };
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, (Instant::now(), layouts.clone()));
        Ok(layouts)
    }
}

/// The layout `configured`, else the one named `name`, else a new one; with every label.
async fn ensure(
    hudu: &HuduObjects,
    configured: Option<i64>,
    name: &str,
    labels: &[&str],
    field: &str,
) -> Result<HuduLayoutRef, CallError> {
    let layout = match configured {
        Some(id) => hudu.layout(id).await?.ok_or_else(|| {
            CallError::Permanent(format!("{field}: Hudu has no asset layout {id}: give the id of an active layout, or leave it out to let docsync find or create one"))
        })?,
        None => match hudu.layout_named(name).await? {
            Some(l) => l,
            None => return hudu.create_layout(name, labels).await,
        },
    };
    let missing: Vec<&str> = labels
        .iter()
        .copied()
        .filter(|l| !layout.fields.iter().any(|f| f.eq_ignore_ascii_case(l)))
        .collect();
    if missing.is_empty() {
        return Ok(layout);
    }
    hudu.add_layout_fields(&layout, &missing).await
}
