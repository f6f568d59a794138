//! The projection of a PSA company's payload onto Hudu: a pure function from the payload, its
//! match and the integration's options to the objects wanted there (the company, and one
//! asset per record in the layout its kind and sort rules pick), each with its key in the map
//! of remote objects, title, body and fingerprint. No I/O; unit-tested on its own.

use crate::payload::{CompanyPayload, Record, RecordKind};
use docsync_domain::psa::{PsaKind, PsaOptions};
use docsync_sinks::hudu_objects::field_key;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The object kind of a PSA company in the map of remote objects.
pub const COMPANY_KIND: &str = "company";

/// The layout each kind of record goes to (resolved ids: found, created or configured).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HuduLayouts {
    /// Contacts.
    pub contacts: i64,
    /// Sites.
    pub sites: i64,
    /// Configurations without a matching sort rule.
    pub configurations: i64,
    /// Agreements.
    pub agreements: i64,
    /// `(type, layout)` sort rules for configurations: the first whose type equals the
    /// configuration's type, ignoring case, wins.
    pub sort_rules: Vec<(String, i64)>,
}

impl HuduLayouts {
    /// The layout of a record.
    pub fn layout_of(&self, record: &Record, kind: RecordKind) -> i64 {
        match kind {
            RecordKind::Contact => self.contacts,
            RecordKind::Site => self.sites,
            RecordKind::Agreement => self.agreements,
            RecordKind::Configuration => record
                .type_name
                .as_deref()
                .and_then(|t| {
                    self.sort_rules
                        .iter()
                        .find(|(rule, _)| rule.trim().eq_ignore_ascii_case(t.trim()))
                        .map(|(_, layout)| *layout)
                })
                .unwrap_or(self.configurations),
        }
    }
}

/// One object the destination should hold.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedObject {
    /// Its kind in the map (`company`, `contact`, ...).
    pub kind: String,
    /// The source's id, e.g. `connectwise-manage:4711`.
    pub source_key: String,
    /// Its title (the asset or company name).
    pub title: String,
    /// The destination body without its name (Hudu company or asset attributes).
    pub body: Value,
    /// Whether it should be archived.
    pub archived: bool,
    /// The layout (assets).
    pub layout_id: Option<i64>,
    /// The serial (assets), for `matchOnSerial` adoption.
    pub serial: Option<String>,
    /// The fingerprint of what is written (title included only when it is written).
    pub fingerprint: String,
}

/// What a company's payload becomes in Hudu.
#[derive(Debug, Clone, PartialEq)]
pub struct HuduPlan {
    /// The scope of this company's objects in the map, e.g. `connectwise-manage:250`.
    pub scope: String,
    /// The company itself, when docsync writes it (a `create`, or `updateCompanyDetails`).
    pub company: Option<PlannedObject>,
    /// Its records as assets, in write order.
    pub assets: Vec<PlannedObject>,
    /// Records the skip options left out (the payload's, plus configuration types here).
    pub skipped: i64,
}

/// The key of a PSA id in the map (`connectwise-manage:250`).
pub fn source_key(psa: PsaKind, id: i64) -> String {
    format!("{}:{id}", psa.as_str())
}

/// Plans the objects of one company.
pub fn project_hudu(
    psa: PsaKind,
    payload: &CompanyPayload,
    options: &PsaOptions,
    layouts: &HuduLayouts,
) -> HuduPlan {
    let scope = source_key(psa, payload.company.psa_id);
    let c = &payload.company;
    let company_archived = options.auto_archive && (!c.active || c.deleted);
    let company = (payload.destination_company_id.is_none() || options.update_company_details)
        .then(|| {
            let body = json!({
                "address_line_1": c.address_line_1,
                "address_line_2": c.address_line_2,
                "city": c.city,
                "state": c.state,
                "zip": c.zip,
                "country_name": c.country,
                "phone_number": c.phone,
                "website": c.website,
                "company_type": c.company_type,
            });
            PlannedObject {
                kind: COMPANY_KIND.into(),
                source_key: scope.clone(),
                title: c.name.clone(),
                fingerprint: fingerprint(Some(&c.name), &body, company_archived, None),
                body,
                archived: company_archived,
                layout_id: None,
                serial: None,
            }
        });
    let skip_types: Vec<String> = options
        .skip
        .configuration_types
        .iter()
        .map(|t| t.trim().to_lowercase())
        .collect();
    let mut skipped = payload.skipped;
    let mut assets = Vec::with_capacity(payload.records.len());
    for record in &payload.records {
        let Some(kind) = record.kind else { continue };
        if kind == RecordKind::Configuration
            && record
                .type_name
                .as_deref()
                .is_some_and(|t| skip_types.contains(&t.trim().to_lowercase()))
        {
            skipped += 1;
            continue;
        }
        let layout_id = layouts.layout_of(record, kind);
        let archived = options.auto_archive && !record.active;
        let mut custom = Map::new();
        for label in kind.field_labels() {
            let value = record.fields.get(*label).cloned().unwrap_or_default();
            custom.insert(field_key(label), Value::String(value));
        }
        let body = json!({
            "asset_layout_id": layout_id,
            "primary_serial": record.serial,
            "primary_mail": record.email,
            "primary_model": record.model,
            "primary_manufacturer": record.manufacturer,
            "custom_fields": [Value::Object(custom)],
        });
        let named = options.auto_update_names.then_some(record.name.as_str());
        assets.push(PlannedObject {
            kind: kind.as_str().into(),
            source_key: source_key(psa, record.source_id),
            title: record.name.clone(),
            fingerprint: fingerprint(named, &body, archived, Some(layout_id)),
            body,
            archived,
            layout_id: Some(layout_id),
            serial: record.serial.clone().filter(|s| !s.trim().is_empty()),
        });
    }
    HuduPlan {
        scope,
        company,
        assets,
        skipped,
    }
}

/// The fingerprint of what a write sends: the body (keys sorted by serde_json's map), the
/// archive state and, when the name is written, the name.
pub fn fingerprint(
    name: Option<&str>,
    body: &Value,
    archived: bool,
    layout: Option<i64>,
) -> String {
    let mut hash = Sha256::new();
    hash.update(name.unwrap_or("\u{0}keep").as_bytes());
    hash.update([0, u8::from(archived)]);
    hash.update(layout.unwrap_or_default().to_le_bytes());
    hash.update(body.to_string().as_bytes());
    let digest = hash.finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::CompanyFacts;
    use std::collections::BTreeMap;

    fn layouts() -> HuduLayouts {
        HuduLayouts {
            contacts: 1,
            sites: 2,
            configurations: 3,
            agreements: 4,
            sort_rules: vec![("Managed Server".into(), 7)],
        }
    }

    fn record(
        kind: RecordKind,
        id: i64,
        name: &str,
        type_name: Option<&str>,
        active: bool,
    ) -> Record {
        Record {
            kind: Some(kind),
            source_id: id,
            name: name.into(),
            active,
            type_name: type_name.map(Into::into),
            serial: Some(format!("SN-{id}")),
            fields: BTreeMap::from([("Type".to_owned(), type_name.unwrap_or("").to_owned())]),
            ..Record::default()
        }
    }

    fn payload() -> CompanyPayload {
        CompanyPayload {
            company: CompanyFacts {
                psa_id: 250,
                name: "Contoso".into(),
                active: true,
                city: Some("Melbourne".into()),
                ..CompanyFacts::default()
            },
            destination_company_id: Some(42),
            full: true,
            present: BTreeMap::new(),
            records: vec![
                record(
                    RecordKind::Configuration,
                    1,
                    "SRV01",
                    Some("managed server"),
                    true,
                ),
                record(
                    RecordKind::Configuration,
                    2,
                    "PC01",
                    Some("Managed Workstation"),
                    false,
                ),
                record(RecordKind::Contact, 3, "Ada Lovelace", None, true),
                record(RecordKind::Configuration, 4, "PRN", Some("Printer"), true),
            ],
            skipped: 0,
        }
    }

    #[test]
    fn records_land_in_the_layout_their_kind_and_sort_rules_pick() {
        let mut options = PsaOptions::default();
        options.skip.configuration_types = vec!["printer".into()];
        let plan = project_hudu(PsaKind::ConnectWiseManage, &payload(), &options, &layouts());
        assert_eq!(plan.scope, "connectwise-manage:250");
        let by_key: BTreeMap<_, _> = plan
            .assets
            .iter()
            .map(|a| (a.source_key.as_str(), a))
            .collect();
        assert_eq!(
            by_key["connectwise-manage:1"].layout_id,
            Some(7),
            "sort rule ignores case"
        );
        assert_eq!(
            by_key["connectwise-manage:2"].layout_id,
            Some(3),
            "default layout"
        );
        assert!(
            by_key["connectwise-manage:2"].archived,
            "inactive is archived with autoArchive"
        );
        assert_eq!(by_key["connectwise-manage:3"].layout_id, Some(1));
        assert!(!by_key.contains_key("connectwise-manage:4"), "skipped type");
        assert_eq!(plan.skipped, 1);
        let body = &by_key["connectwise-manage:1"].body;
        assert_eq!(body["custom_fields"][0]["serial_number"], "");
        assert_eq!(body["primary_serial"], "SN-1");
    }

    #[test]
    fn company_details_are_written_only_when_asked() {
        let mut options = PsaOptions::default();
        let plan = project_hudu(PsaKind::ConnectWiseManage, &payload(), &options, &layouts());
        assert_eq!(
            plan.company.as_ref().map(|c| c.title.as_str()),
            Some("Contoso")
        );
        options.update_company_details = false;
        let plan = project_hudu(PsaKind::ConnectWiseManage, &payload(), &options, &layouts());
        assert!(plan.company.is_none());
        let mut create = payload();
        create.destination_company_id = None;
        create.company.active = false;
        let plan = project_hudu(PsaKind::ConnectWiseManage, &create, &options, &layouts());
        let company = plan.company.expect("a create always writes the company");
        assert!(company.archived, "an inactive company is created archived");
    }

    #[test]
    fn fingerprints_follow_content_and_names_only_when_names_are_written() {
        let mut options = PsaOptions::default();
        let a = project_hudu(PsaKind::ConnectWiseManage, &payload(), &options, &layouts());
        let mut renamed = payload();
        renamed.records[0].name = "SRV01-new".into();
        let b = project_hudu(PsaKind::ConnectWiseManage, &renamed, &options, &layouts());
        assert_ne!(a.assets[0].fingerprint, b.assets[0].fingerprint);
        assert_eq!(a.assets[1].fingerprint, b.assets[1].fingerprint);
        options.auto_update_names = false;
        let c = project_hudu(PsaKind::ConnectWiseManage, &payload(), &options, &layouts());
        let d = project_hudu(PsaKind::ConnectWiseManage, &renamed, &options, &layouts());
        assert_eq!(
            c.assets[0].fingerprint, d.assets[0].fingerprint,
            "a rename alone writes nothing"
        );
        let mut changed = payload();
        changed.records[0].serial = Some("SN-X".into());
        let e = project_hudu(PsaKind::ConnectWiseManage, &changed, &options, &layouts());
        assert_ne!(c.assets[0].fingerprint, e.assets[0].fingerprint);
    }
}
