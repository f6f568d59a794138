//! The write-in-place loop, written once for every destination object: a posture document
//! (the Hudu article, the IT Glue flexible asset) and a PSA sync's Hudu company and asset.
//! The recorded object is updated by its id; when it is gone (or there is none), an object of
//! one of the titles looked up is adopted (the caller's choice: a posture document is looked
//! up under its exact title, then its previous title when the tenant was renamed; a PSA
//! record only under its planned name, and only when a create of it was interrupted); only
//! then is one created.
//!
//! Invariant: a create is the last resort and is never repeated here, so a write repeated
//! after a lost answer finds the first create's object by its title instead of making a
//! second one. The destination's errors pass through untouched (a `Rejected` stays one).

use crate::{KnownDocument, SinkError};
use std::future::Future;

/// One destination's three calls for one object, each counting its provider requests (or,
/// for a caller that counts writes, its writes).
pub trait InPlace: Sync {
    /// How the destination names an object written (its id, and whatever else the caller
    /// needs to know of it afterwards).
    type Id: Send + Sync + std::fmt::Debug;

    /// Writes the object over `remote`; `None` when the provider no longer has it (404), so
    /// the loop adopts or creates instead.
    fn update(
        &self,
        remote: &Self::Id,
        requests: &mut u32,
    ) -> impl Future<Output = Result<Option<Self::Id>, SinkError>> + Send;

    /// The object titled exactly `title` that may be adopted, if there is one.
    fn find(
        &self,
        title: &str,
        requests: &mut u32,
    ) -> impl Future<Output = Result<Option<Self::Id>, SinkError>> + Send;

    /// Creates the object (with whatever bookkeeping the destination needs around it); its
    /// id.
    fn create(
        &self,
        requests: &mut u32,
    ) -> impl Future<Output = Result<Self::Id, SinkError>> + Send;
}

/// How the loop reached the object it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The recorded object, updated by its id.
    Recorded,
    /// An object found under one of the titles looked up, adopted and updated.
    Title,
    /// A new object, created.
    Create,
}

/// Where the loop wrote: the object and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written<Id> {
    /// The provider's id of the object written.
    pub remote_id: Id,
    /// How it was reached.
    pub via: Via,
}

/// Writes one object in place (see the module doc): over `recorded` when the destination
/// still has it, else over the first object found under `titles` (in order), else a new one.
pub async fn write_in_place<D: InPlace>(
    destination: &D,
    recorded: Option<D::Id>,
    titles: &[&str],
    requests: &mut u32,
) -> Result<Written<D::Id>, SinkError> {
    let written = |remote_id, via| Written { remote_id, via };
    if let Some(recorded) = recorded {
        if let Some(id) = destination.update(&recorded, requests).await? {
            return Ok(written(id, Via::Recorded));
        }
        tracing::warn!(document = ?recorded, "the recorded document is gone; looking for it by title");
    }
    for title in titles {
        if let Some(existing) = destination.find(title, requests).await? {
            if let Some(id) = destination.update(&existing, requests).await? {
                return Ok(written(id, Via::Title));
            }
        }
    }
    Ok(written(destination.create(requests).await?, Via::Create))
}

/// Writes one posture document titled `title` in `parent_id` in place: the recorded one when
/// it is in that parent, else one titled `title`, or the recorded (old) title, else a new one.
pub(crate) async fn write_document<D: InPlace<Id = String>>(
    destination: &D,
    title: &str,
    parent_id: i64,
    known: Option<&KnownDocument>,
    requests: &mut u32,
) -> Result<Written<String>, SinkError> {
    let recorded = known
        .filter(|k| k.parent_id == parent_id)
        .map(|k| k.remote_id.clone());
    let mut titles = vec![title];
    if let Some(known) = known.filter(|k| k.title != title) {
        titles.push(known.title.as_str());
    }
    write_in_place(destination, recorded, &titles, requests).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A destination in memory: documents `(id, title)`, and every call made.
    #[derive(Default)]
    struct Memory {
        docs: Mutex<Vec<(String, String)>>,
        calls: Mutex<Vec<String>>,
        title: String,
    }

    impl Memory {
        fn with(docs: &[(&str, &str)], title: &str) -> Self {
            Self {
                docs: Mutex::new(
                    docs.iter()
                        .map(|(i, t)| ((*i).to_owned(), (*t).to_owned()))
                        .collect(),
                ),
                calls: Mutex::default(),
                title: title.to_owned(),
            }
        }

        fn calls(&self) -> Vec<String> {
            self.calls.lock().map(|c| c.clone()).unwrap_or_default()
        }

        fn note(&self, call: String, requests: &mut u32) {
            *requests += 1;
            if let Ok(mut c) = self.calls.lock() {
                c.push(call);
            }
        }
    }

    impl InPlace for Memory {
        type Id = String;

        async fn update(
            &self,
            remote_id: &String,
            requests: &mut u32,
        ) -> Result<Option<String>, SinkError> {
            self.note(format!("update {remote_id}"), requests);
            let mut docs = self
                .docs
                .lock()
                .map_err(|_| SinkError::Transient("lock".into()))?;
            Ok(docs.iter_mut().find(|(i, _)| i == remote_id).map(|d| {
                d.1 = self.title.clone();
                d.0.clone()
            }))
        }

        async fn find(&self, title: &str, requests: &mut u32) -> Result<Option<String>, SinkError> {
            self.note(format!("find {title}"), requests);
            let docs = self
                .docs
                .lock()
                .map_err(|_| SinkError::Transient("lock".into()))?;
            Ok(docs.iter().find(|(_, t)| t == title).map(|d| d.0.clone()))
        }

        async fn create(&self, requests: &mut u32) -> Result<String, SinkError> {
            self.note("create".into(), requests);
            let mut docs = self
                .docs
                .lock()
                .map_err(|_| SinkError::Transient("lock".into()))?;
            let id = format!("{}", docs.len() + 100);
            docs.push((id.clone(), self.title.clone()));
            Ok(id)
        }
    }

    fn known(id: &str, parent_id: i64, title: &str) -> KnownDocument {
        KnownDocument {
            remote_id: id.into(),
            parent_id,
            title: title.into(),
        }
    }

    async fn write(m: &Memory, known: Option<KnownDocument>) -> (Written<String>, u32) {
        let mut requests = 0;
        let written = write_document(m, &m.title.clone(), 7, known.as_ref(), &mut requests)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (written, requests)
    }

    #[tokio::test]
    async fn the_recorded_document_is_updated_with_one_request() {
        let m = Memory::with(&[("1", "T")], "T");
        let (w, n) = write(&m, Some(known("1", 7, "T"))).await;
        assert_eq!((w.remote_id.as_str(), w.via, n), ("1", Via::Recorded, 1));
        assert_eq!(m.calls(), ["update 1"]);
    }

    #[tokio::test]
    async fn a_gone_document_is_found_by_title_before_anything_is_created() {
        let m = Memory::with(&[("5", "T")], "T");
        let (w, _) = write(&m, Some(known("1", 7, "T"))).await;
        assert_eq!((w.remote_id.as_str(), w.via), ("5", Via::Title));
        assert_eq!(m.calls(), ["update 1", "find T", "update 5"]);
    }

    #[tokio::test]
    async fn a_renamed_tenants_document_is_adopted_under_its_old_title() {
        let m = Memory::with(&[("5", "Old")], "New");
        // Recorded in another parent (the mapping moved): not updated by id.
        let (w, _) = write(&m, Some(known("5", 8, "Old"))).await;
        assert_eq!((w.remote_id.as_str(), w.via), ("5", Via::Title));
        assert_eq!(m.calls(), ["find New", "find Old", "update 5"]);
        assert_eq!(
            m.docs.lock().map(|d| d[0].1.clone()).ok(),
            Some("New".into())
        );
    }

    #[tokio::test]
    async fn only_a_document_nowhere_to_be_found_is_created_once() {
        let m = Memory::with(&[("5", "Other")], "T");
        let (w, n) = write(&m, None).await;
        assert_eq!((w.remote_id.as_str(), w.via, n), ("101", Via::Create, 2));
        assert_eq!(m.calls(), ["find T", "create"]);
        // Delivered again: the created document is found, not made twice.
        let (again, _) = write(&m, None).await;
        assert_eq!((again.remote_id.as_str(), again.via), ("101", Via::Title));
        assert_eq!(m.docs.lock().map(|d| d.len()).ok(), Some(2));
    }

    #[tokio::test]
    async fn only_the_titles_asked_for_are_looked_up_and_none_means_a_straight_create() {
        // A PSA record with no interrupted create: a namesake is never adopted.
        let m = Memory::with(&[("5", "T")], "T");
        let mut requests = 0;
        let w = write_in_place(&m, None, &[], &mut requests)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((w.remote_id.as_str(), w.via), ("101", Via::Create));
        assert_eq!(m.calls(), ["create"]);
        // Titles are looked up in the order given; the first one found is adopted.
        let m = Memory::with(&[("5", "B"), ("6", "C")], "T");
        let w = write_in_place(&m, Some("1".into()), &["A", "B", "C"], &mut requests)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((w.remote_id.as_str(), w.via), ("5", Via::Title));
        assert_eq!(m.calls(), ["update 1", "find A", "find B", "update 5"]);
    }
}
