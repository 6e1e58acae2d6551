//! A small map whose entries are good for a fixed time: what every request reads and rarely
//! changes (API keys, organizations, identity providers' metadata). The replica that makes a change
//! removes the entry at once; other replicas see the change when their entry expires, so the time
//! to live bounds staleness. The services decide what goes in; `AppState` holds one of each.
use crate::server::db::{api_keys::KeyAuth, orgs::OrgRow};
use crate::shared::ids::{ApiKeyId, OrgId, SsoConnectionId};
use openidconnect::core::CoreProviderMetadata;
use std::sync::Arc;
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

/// How long another replica may keep using what it looked up about a key or an organization:
/// revoking a key or changing an organization takes effect everywhere within this time (at once on
/// the replica that made the change).
pub const SHORT_TTL: Duration = Duration::from_secs(2);
const MAX_ENTRIES: usize = 10_000;

/// Recently authenticated keys by secret hash, with their creator's membership. Only keys that
/// worked are cached, so every refusal takes the same path (one indexed lookup), whatever the
/// reason. Changing a member's role or removing them forgets the organization's keys here.
pub struct KeyCache(TtlCache<String, KeyAuth>);

impl Default for KeyCache {
    fn default() -> Self {
        KeyCache(TtlCache::new(SHORT_TTL, MAX_ENTRIES))
    }
}

impl KeyCache {
    pub fn get(&self, hash: &str) -> Option<KeyAuth> {
        self.0.get(hash)
    }

    pub fn put(&self, hash: String, key: KeyAuth) {
        self.0.put(hash, key);
    }

    pub fn forget(&self, id: ApiKeyId) {
        self.0.retain(|_, key| key.id != id);
    }

    pub fn forget_org(&self, org: OrgId) {
        self.0.retain(|_, key| key.org != org);
    }
}

/// Organizations recently read by `service::orgs::get`, the most frequent API call. Whatever
/// changes an organization's row or its members calls `AppState::forget_org` after committing.
pub type OrgCache = TtlCache<OrgId, OrgRow>;

pub fn org_cache() -> OrgCache {
    TtlCache::new(SHORT_TTL, MAX_ENTRIES)
}

/// OIDC discovery documents and signing keys per connection, reused for 10 minutes before being
/// fetched again.
pub type MetadataCache = TtlCache<SsoConnectionId, Arc<CoreProviderMetadata>>;

pub fn metadata_cache() -> MetadataCache {
    TtlCache::new(Duration::from_secs(600), MAX_ENTRIES)
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
