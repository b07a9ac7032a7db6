//! One lock per basis id in flight, shared by both stages: two messages with one id (a re-publish
//! racing its original, other content under the same id, two hand-overs of one basis) are handled
//! one after the other, so the second sees what the first logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The locks; an id's entry goes when its last holder does.
#[derive(Default)]
pub(crate) struct IdLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

/// Held while one message of this id is handled.
pub(crate) struct IdGuard<'a> {
    locks: &'a IdLocks,
    id: String,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl IdLocks {
    pub(crate) async fn lock(&self, id: &str) -> IdGuard<'_> {
        let m = {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(id.to_string()).or_default().clone()
        };
        IdGuard {
            locks: self,
            id: id.to_string(),
            _guard: m.lock_owned().await,
        }
    }

    /// Ids someone holds or waits for (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Drop for IdGuard<'_> {
    fn drop(&mut self) {
        let mut map = self.locks.0.lock().unwrap_or_else(|p| p.into_inner());
        // The map's own reference and this guard's mutex: nobody else waits for this id.
        if map.get(&self.id).is_some_and(|m| Arc::strong_count(m) <= 2) {
            map.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_holder_of_an_id_waits_and_the_entry_goes_with_the_last() {
        let locks = Arc::new(IdLocks::default());
        let first = locks.lock("A").await;
        let (l2, order) = (locks.clone(), Arc::new(Mutex::new(Vec::new())));
        let o2 = order.clone();
        let second = tokio::spawn(async move {
            let _g = l2.lock("A").await;
            o2.lock().unwrap().push("second");
        });
        tokio::task::yield_now().await;
        let _other = locks.lock("B").await; // another id does not wait
        order.lock().unwrap().push("first");
        drop(first);
        second.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["first", "second"]);
        drop(_other);
        assert_eq!(locks.len(), 0);
    }
}
