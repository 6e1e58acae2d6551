//! A small map whose entries are good for a fixed time: what every request reads and rarely
//! changes (API keys, organizations). The replica that makes a change removes the entry at once;
//! other replicas see the change when their entry expires, so the time to live bounds staleness.
use std::{
    borrow::Borrow,
    collections::HashMap,
    hash::Hash,
    sync::Mutex,
    time::{Duration, Instant},
};

pub struct TtlCache<K, V> {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        TtlCache { ttl, max_entries, entries: Mutex::new(HashMap::new()) }
    }

    /// A fresh entry; an expired one is treated as missing. Looked up by any borrowed form of the
    /// key (`&str` for `String` keys), so a lookup allocates nothing.
    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (at, value) = entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    /// Stores `value`; when full, expired entries go first, and if that is not enough, all do.
    pub fn put(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max_entries {
            entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    pub fn remove(&self, key: &K) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    /// Keeps only the entries for which `keep` says so.
    pub fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).retain(|key, (_, value)| keep(key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_removed() {
        let cache = TtlCache::new(Duration::from_millis(50), 10);
        cache.put("a", 1);
        cache.put("b", 2);
        assert_eq!((cache.get(&"a"), cache.get(&"b")), (Some(1), Some(2)));
        cache.remove(&"a");
        cache.retain(|_, v| *v != 2);
        assert_eq!((cache.get(&"a"), cache.get(&"b")), (None, None));
        cache.put("c", 3);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get(&"c"), None, "expired");
    }

    #[test]
    fn a_full_cache_makes_room() {
        let cache = TtlCache::new(Duration::from_secs(60), 3);
        for (i, key) in ["a", "b", "c", "d"].into_iter().enumerate() {
            cache.put(key, i);
        }
        assert_eq!(cache.get(&"d"), Some(3));
        assert_eq!(cache.entries.lock().unwrap().len(), 1, "nothing had expired, so everything else went");
    }
}
