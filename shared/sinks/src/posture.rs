//! The projection of a posture snapshot onto its document: a pure function from the snapshot,
//! the integration's [`PostureOptions`] and the push time to the Hudu article (title, body)
//! or the IT Glue flexible asset (name, traits), and the fingerprint of that content with its
//! timestamps aside. No I/O.
//!
//! Invariant: a push and a preview both write what these functions return, so a preview is
//! byte for byte what the next push of the same facts writes (at the same push time).

use crate::html;
use crate::itglue::traits;
use crate::template::{self, TemplateError};
use chrono::{DateTime, Utc};
use docsync_domain::{PostureOptions, Provider, Snapshot};
use serde::Serialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// A Hudu article as docsync writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HuduArticleDoc {
    /// `M365 Posture — <tenant>`.
    pub title: String,
    /// The HTML body.
    pub content: String,
}

/// An IT Glue flexible asset as docsync writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItGlueAssetDoc {
    /// The asset's name (the tenant's name, its title field).
    pub name: String,
    /// Every trait of the type: the sections not chosen are written empty, since a PATCH
    /// drops the traits it leaves out.
    pub traits: Map<String, Value>,
}

/// The Hudu article of `snapshot`: the chosen sections in the built-in layout, or the
/// integration's template.
pub fn hudu_article(
    snapshot: &Snapshot,
    options: &PostureOptions,
    pushed_at: DateTime<Utc>,
) -> Result<HuduArticleDoc, TemplateError> {
    let content = match &options.template {
        None => html::render_article_sections(snapshot, pushed_at, &options.sections),
        Some(source) => template::render(
            source,
            template::context(snapshot, pushed_at, &options.sections),
        )?,
    };
    Ok(HuduArticleDoc {
        title: snapshot.hudu_title(),
        content,
    })
}

/// The IT Glue asset of `snapshot`: the chosen sections' traits, the others empty.
pub fn itglue_asset(
    snapshot: &Snapshot,
    options: &PostureOptions,
    pushed_at: DateTime<Utc>,
) -> ItGlueAssetDoc {
    let mut sections = html::render_sections(snapshot, pushed_at);
    for s in &mut sections {
        if s.section.is_some_and(|s| !options.shows(s)) {
            s.html.clear();
        }
    }
    ItGlueAssetDoc {
        name: snapshot.tenant_name.clone(),
        traits: traits(snapshot, &sections),
    }
}

/// What a preview answers for `provider`: Hudu `{title, content}`, IT Glue `{name, traits}`.
pub fn preview(
    provider: Provider,
    snapshot: &Snapshot,
    options: &PostureOptions,
    pushed_at: DateTime<Utc>,
) -> Result<Value, TemplateError> {
    Ok(match provider {
        Provider::Hudu => json!(hudu_article(snapshot, options, pushed_at)?),
        Provider::ItGlue => json!(itglue_asset(snapshot, options, pushed_at)),
    })
}

/// The fingerprint of what a push of `snapshot` writes to `provider`, timestamps aside: the
/// document rendered with the collection and push times both set to one fixed moment, hashed.
/// Equal facts give equal fingerprints whenever they were collected or pushed.
pub fn fingerprint(
    provider: Provider,
    snapshot: &Snapshot,
    options: &PostureOptions,
) -> Result<String, TemplateError> {
    let fixed = DateTime::<Utc>::default();
    let mut timeless = snapshot.clone();
    timeless.collected_at = fixed;
    let document = preview(provider, &timeless, options, fixed)?;
    let digest = Sha256::digest(document.to_string().as_bytes());
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use docsync_domain::PostureSection;

    fn only(sections: &[PostureSection]) -> PostureOptions {
        PostureOptions {
            sections: sections.to_vec(),
            ..PostureOptions::default()
        }
    }

    #[test]
    fn the_default_article_is_the_built_in_one() {
        let s = crate::sample::sample_snapshot();
        let at = s.collected_at;
        let doc = hudu_article(&s, &PostureOptions::default(), at).unwrap();
        assert_eq!(doc.content, html::render_article_html(&s, at));
    }

    #[test]
    fn a_section_subset_shows_alone_with_the_timestamps() {
        let s = crate::sample::sample_snapshot();
        let doc = hudu_article(&s, &only(&[PostureSection::Copilot]), s.collected_at).unwrap();
        assert!(doc.content.contains("<h2>Last sync and push</h2>"));
        assert!(doc.content.contains("<h2>Copilot</h2>"));
        for gone in [
            "Tenant metadata",
            "MFA adoption",
            "Conditional Access",
            "Defender",
        ] {
            assert!(!doc.content.contains(&format!("<h2>{gone}</h2>")), "{gone}");
        }
        let asset = itglue_asset(&s, &only(&[PostureSection::Copilot]), s.collected_at);
        assert_eq!(asset.traits.len(), 3 + html::SECTION_TITLES.len());
        assert_eq!(asset.traits["tenant-metadata"], "");
        assert_eq!(asset.traits["defender"], "");
        assert_ne!(asset.traits["copilot"], "");
        assert_ne!(asset.traits["last-sync-and-push"], "");
    }

    #[test]
    fn fingerprints_ignore_the_timestamps_and_follow_the_facts() {
        let s = crate::sample::sample_snapshot();
        let o = PostureOptions::default();
        let mut later = s.clone();
        later.collected_at = s.collected_at + chrono::Duration::hours(5);
        for p in [Provider::Hudu, Provider::ItGlue] {
            let a = fingerprint(p, &s, &o).unwrap();
            assert_eq!(a, fingerprint(p, &later, &o).unwrap());
            let mut changed = s.clone();
            changed.standards.applied += 1;
            assert_ne!(a, fingerprint(p, &changed, &o).unwrap());
            assert_ne!(
                a,
                fingerprint(p, &s, &only(&[PostureSection::Copilot])).unwrap()
            );
        }
    }
}
