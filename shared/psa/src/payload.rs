//! Payloads of PSA syncs: the records of one PSA company as a collector read them, in a form
//! every PSA shares (so one projection serves ConnectWise, Halo and Autotask). Stored as JSON
//! with kind [`COMPANY_PAYLOAD`]; a payload of one kind is never read as another.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The stored kind of a [`CompanyPayload`].
pub const COMPANY_PAYLOAD: &str = "psa-company";

/// The kinds of record a PSA company has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// People.
    Contact,
    /// Devices and other configuration items.
    Configuration,
    /// Active agreements / contracts.
    Agreement,
    /// Sites / locations.
    Site,
}

impl RecordKind {
    /// Every kind, in the order a sync writes them.
    pub const ALL: [RecordKind; 4] = [
        RecordKind::Site,
        RecordKind::Contact,
        RecordKind::Configuration,
        RecordKind::Agreement,
    ];

    /// The object kind in the map of remote objects.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Contact => "contact",
            RecordKind::Configuration => "configuration",
            RecordKind::Agreement => "agreement",
            RecordKind::Site => "site",
        }
    }

    /// The layout docsync finds by this name, or creates, when none is configured.
    pub fn layout_name(self) -> &'static str {
        match self {
            RecordKind::Contact => "Contacts",
            RecordKind::Configuration => "Configurations",
            RecordKind::Agreement => "Agreements",
            RecordKind::Site => "Sites",
        }
    }

    /// The layout fields docsync writes for this kind (added to a layout that lacks them).
    pub fn field_labels(self) -> &'static [&'static str] {
        match self {
            RecordKind::Contact => &["Title", "Email", "Phone", "Site"],
            RecordKind::Configuration => &[
                "Type",
                "Status",
                "Serial Number",
                "Model",
                "Manufacturer",
                "IP Address",
                "MAC Address",
                "OS",
                "Site",
            ],
            RecordKind::Agreement => &["Type", "Status", "Start Date", "End Date"],
            RecordKind::Site => &["Address", "City", "State", "Zip", "Phone"],
        }
    }
}

/// A PSA company's own facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompanyFacts {
    /// The PSA's id.
    pub psa_id: i64,
    /// Name.
    pub name: String,
    /// Active (not an inactive status).
    pub active: bool,
    /// Deleted in the PSA.
    pub deleted: bool,
    /// The PSA's company type (the first, when it has several).
    pub company_type: Option<String>,
    /// Address line 1.
    pub address_line_1: Option<String>,
    /// Address line 2.
    pub address_line_2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State.
    pub state: Option<String>,
    /// Postcode.
    pub zip: Option<String>,
    /// Country name.
    pub country: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Website.
    pub website: Option<String>,
}

/// One record of a company, whatever the PSA.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// Its kind.
    pub kind: Option<RecordKind>,
    /// The PSA's id (unique per kind).
    pub source_id: i64,
    /// Its name ("First Last" for a contact).
    pub name: String,
    /// Active in the PSA.
    pub active: bool,
    /// The configuration type / category, agreement type.
    pub type_name: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Manufacturer.
    pub manufacturer: Option<String>,
    /// Primary e-mail (contacts).
    pub email: Option<String>,
    /// Other facts by layout field label (`Phone`, `IP Address` ...).
    pub fields: BTreeMap<String, String>,
}

impl Record {
    /// The record of `kind` with the PSA's `source_id` and its `fields`, or None when it has
    /// no name (a nameless record is never written). Every PSA's mapping ends here.
    pub(crate) fn finished(
        self,
        kind: RecordKind,
        source_id: i64,
        fields: BTreeMap<String, String>,
    ) -> Option<Record> {
        if self.name.trim().is_empty() {
            return None;
        }
        Some(Record {
            kind: Some(kind),
            source_id,
            fields,
            ..self
        })
    }
}

/// The records of one PSA company, as one sync read them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompanyPayload {
    /// The company.
    pub company: CompanyFacts,
    /// The destination company it is matched to (None: `create`).
    pub destination_company_id: Option<i64>,
    /// True when every record of the kinds read is in `records` (a first or full read);
    /// false when `records` holds only those changed since the last sync.
    pub full: bool,
    /// For each kind read, the ids the PSA lists now: an object whose record is not listed
    /// was deleted there. Kinds not read (skipped) are absent.
    pub present: BTreeMap<RecordKind, Vec<i64>>,
    /// The records read.
    pub records: Vec<Record>,
    /// Records left out by the skip options.
    pub skipped: i64,
}

impl CompanyPayload {
    /// An empty payload of `company` (records are added as they are read): `full` when every
    /// record of the kinds read will be in it.
    pub fn new(company: &CompanyFacts, destination_company_id: Option<i64>, full: bool) -> Self {
        Self {
            company: company.clone(),
            destination_company_id,
            full,
            present: BTreeMap::new(),
            records: Vec::new(),
            skipped: 0,
        }
    }
}
