//! In-process access to the Hudu store for tests: snapshots of the companies, asset layouts
//! and assets, and seeding them without going through HTTP (so neither the request nor the
//! write counters move).

use super::mutex;
use crate::{HuduAsset, HuduCompany, HuduLayout, Sandbox};

impl Sandbox {
    /// A snapshot of every Hudu company (the synthetic ones included), by id.
    pub fn hudu_companies(&self) -> Vec<HuduCompany> {
        mutex(&self.state.hudu).companies.snapshot()
    }

    /// A snapshot of every Hudu asset (archived ones included), by id.
    pub fn hudu_assets(&self) -> Vec<HuduAsset> {
        let store = mutex(&self.state.hudu);
        store.assets.snapshot(&store.layouts)
    }

    /// A snapshot of every Hudu asset layout, by id.
    pub fn hudu_layouts(&self) -> Vec<HuduLayout> {
        mutex(&self.state.hudu).layouts.snapshot()
    }

    /// Seeds a company with only a name (not counted in stats); returns its id.
    pub fn create_hudu_company(&self, name: &str) -> u64 {
        mutex(&self.state.hudu).companies.create_named(name)
    }

    /// Seeds an asset layout with fields `(label, field_type)` at positions 1, 2, ... (not
    /// counted in stats; neither the name's uniqueness nor the types are checked); returns
    /// its id.
    pub fn create_hudu_layout(&self, name: &str, fields: &[(&str, &str)]) -> u64 {
        mutex(&self.state.hudu).layouts.create_simple(name, fields)
    }

    /// Seeds an asset layout like [`Sandbox::create_hudu_layout`] whose fields labelled in
    /// `required` must be given a value (a create without one answers 422 naming the field);
    /// returns its id.
    pub fn create_hudu_layout_requiring(
        &self,
        name: &str,
        fields: &[(&str, &str)],
        required: &[&str],
    ) -> u64 {
        mutex(&self.state.hudu)
            .layouts
            .create_requiring(name, fields, required)
    }

    /// Makes the field labelled `label` of layout `layout_id` required (a create without a
    /// value answers 422 naming it) or not, as an admin editing the layout in Hudu does (not
    /// counted in stats); false when the layout has no such field.
    pub fn set_hudu_field_required(&self, layout_id: u64, label: &str, required: bool) -> bool {
        mutex(&self.state.hudu)
            .layouts
            .set_required(layout_id, label, required)
    }

    /// Seeds an asset without custom field values (not counted in stats; the company and
    /// layout ids are not checked, so pass existing ones); returns its id.
    pub fn create_hudu_asset(
        &self,
        company_id: u64,
        layout_id: u64,
        name: &str,
        primary_serial: Option<&str>,
    ) -> u64 {
        mutex(&self.state.hudu)
            .assets
            .create_simple(company_id, layout_id, name, primary_serial)
    }
}
