//! The write-in-place loop of a posture document, written once for every destination (the Hudu
//! article, the IT Glue flexible asset): the recorded document is updated by its id when it is
//! still in the mapped parent; when it is gone (or there is none), a document of the exact
//! title in the parent is adopted, also under the previous title when the tenant was renamed
//! (a create whose answer was lost, or one made by hand); only then is one created.
//!
//! Invariant: a create is the last resort and is never repeated here, so a delivery repeated
//! after a lost answer finds the first create's document by its title instead of making a
//! second one.

use crate::{KnownDocument, SinkError};

/// One destination's three calls for one document, each counting its provider requests.
pub(crate) trait InPlace {
    /// Writes the document over the one with `remote_id`; `None` when the provider no longer
    /// has it (404), so the loop adopts or creates instead.
    async fn update(
        &self,
        remote_id: &str,
        requests: &mut u32,
    ) -> Result<Option<String>, SinkError>;

    /// The id of the document titled exactly `title` in the parent, if there is one.
    async fn find(&self, title: &str, requests: &mut u32) -> Result<Option<String>, SinkError>;

    /// Creates the document; its id.
    async fn create(&self, requests: &mut u32) -> Result<String, SinkError>;
}

/// Where the loop wrote: the document's id and whether it was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    /// The provider's id of the document written.
    pub(crate) remote_id: String,
    /// True when a new document was created.
    pub(crate) created: bool,
}

/// Writes one document titled `title` in `parent_id` in place (see the module doc).
pub(crate) async fn write_in_place(
    destination: &impl InPlace,
    title: &str,
    parent_id: i64,
    known: Option<&KnownDocument>,
    requests: &mut u32,
) -> Result<Written, SinkError> {
    let updated = |remote_id| Written {
        remote_id,
        created: false,
    };
    if let Some(known) = known.filter(|k| k.parent_id == parent_id) {
        if let Some(id) = destination.update(&known.remote_id, requests).await? {
            return Ok(updated(id));
        }
        tracing::warn!(document = %known.remote_id, "the recorded document is gone; looking for it by title");
    }
    let mut candidates = vec![title];
    if let Some(known) = known.filter(|k| k.title != title) {
        candidates.push(known.title.as_str());
    }
    for candidate in candidates {
        if let Some(existing) = destination.find(candidate, requests).await? {
            if let Some(id) = destination.update(&existing, requests).await? {
                return Ok(updated(id));
            }
        }
    }
    Ok(Written {
        remote_id: destination.create(requests).await?,
        created: true,
    })
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
        async fn update(
            &self,
            remote_id: &str,
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

    async fn write(m: &Memory, known: Option<KnownDocument>) -> (Written, u32) {
        let mut requests = 0;
        let written = write_in_place(m, &m.title.clone(), 7, known.as_ref(), &mut requests)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (written, requests)
    }

    #[tokio::test]
    async fn the_recorded_document_is_updated_with_one_request() {
        let m = Memory::with(&[("1", "T")], "T");
        let (w, n) = write(&m, Some(known("1", 7, "T"))).await;
        assert_eq!((w.remote_id.as_str(), w.created, n), ("1", false, 1));
        assert_eq!(m.calls(), ["update 1"]);
    }

    #[tokio::test]
    async fn a_gone_document_is_found_by_title_before_anything_is_created() {
        let m = Memory::with(&[("5", "T")], "T");
        let (w, _) = write(&m, Some(known("1", 7, "T"))).await;
        assert_eq!((w.remote_id.as_str(), w.created), ("5", false));
        assert_eq!(m.calls(), ["update 1", "find T", "update 5"]);
    }

    #[tokio::test]
    async fn a_renamed_tenants_document_is_adopted_under_its_old_title() {
        let m = Memory::with(&[("5", "Old")], "New");
        // Recorded in another parent (the mapping moved): not updated by id.
        let (w, _) = write(&m, Some(known("5", 8, "Old"))).await;
        assert_eq!((w.remote_id.as_str(), w.created), ("5", false));
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
        assert_eq!((w.remote_id.as_str(), w.created, n), ("101", true, 2));
        assert_eq!(m.calls(), ["find T", "create"]);
        // Delivered again: the created document is found, not made twice.
        let (again, _) = write(&m, None).await;
        assert_eq!((again.remote_id.as_str(), again.created), ("101", false));
        assert_eq!(m.docs.lock().map(|d| d.len()).ok(), Some(2));
    }
}
