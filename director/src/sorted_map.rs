//! A map kept as one vector sorted by key, for the daemon's per-real-server and per-check
//! tables: built whole (at start and at each reload), read and updated in place by key
//! between. A hash map holds up to twice its entries in slots (16,000 real servers: 32,768
//! slots); this holds exactly its entries, for a binary search per lookup. Inserting or
//! removing one key moves the entries after it: for the rare single changes (an operator's
//! command), not for building.

use std::borrow::Borrow;

/// Entries sorted by key, each key once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SortedMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// The map of these entries; of equal keys the last one stays (as with repeated inserts).
    pub(crate) fn from_entries(mut entries: Vec<(K, V)>) -> Self {
        // Stable: equal keys keep their order; of each run the last one's entry stays (moved
        // into the first's place, which dedup keeps).
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
        entries.shrink_to_fit();
        SortedMap { entries }
    }

    fn find<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value of `key`.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// The value of `key`, to change.
    pub(crate) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| &mut self.entries[i].1)
    }

    /// Sets `key`'s value; the old one, if any.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`; its value, if it had one.
    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| self.entries.remove(i).1)
    }

    /// The number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entries, in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The keys, in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> {
        self.entries.iter().map(|(k, _)| k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_whole_and_changed_by_key_like_a_map() {
        let mut m = SortedMap::from_entries(vec![(3, "c"), (1, "a"), (2, "b"), (1, "a2")]);
        assert_eq!(m.len(), 3, "equal keys: one entry");
        assert_eq!(m.get(&1), Some(&"a2"), "the last of equal keys stays");
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(m.insert(0, "z"), None);
        assert_eq!(m.insert(2, "B"), Some("b"));
        assert_eq!(m.remove(&3), Some("c"));
        assert_eq!(m.remove(&3), None);
        *m.get_mut(&0).unwrap() = "Z";
        assert!(m.get(&2).is_some() && m.get(&5).is_none());
        assert_eq!(
            m.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(),
            [(0, "Z"), (1, "a2"), (2, "B")]
        );
    }
}
