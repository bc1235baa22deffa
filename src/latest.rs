//! [`Latest`]: a cache of one value, for the most recent key asked for.

use std::sync::Mutex;

/// One value, for the most recent key asked for: signing keys change once a
/// day, what depends on `X-Amz-Date` once a second, and the local bucket
/// with the `Host` it is reached at. Shared by threads; the lock is held
/// only to compare the key and clone the value, or to store a new one:
/// making a value runs outside it, so a slow one does not hold up the
/// threads asking for the cached one. Two threads that miss together both
/// make the value, and the last one stored stays.
pub(crate) struct Latest<K, V>(Mutex<Option<(K, V)>>);

impl<K, V> std::fmt::Debug for Latest<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The values here are keys, or HMAC states keyed with them.
        f.write_str("Latest(<redacted>)")
    }
}

impl<K, V> Default for Latest<K, V> {
    fn default() -> Self {
        Latest(Mutex::new(None))
    }
}

impl<K: PartialEq, V: Clone> Latest<K, V> {
    /// The value for `key`, made by `make` unless it is the latest.
    pub(crate) fn get_or(&self, key: K, make: impl FnOnce() -> V) -> V {
        match self.try_get_or(key, || Some(make())) {
            Some(value) => value,
            None => unreachable!("`make` always gives a value"),
        }
    }

    /// [`Latest::get_or`] with a `make` that may fail: then nothing is
    /// stored and `None` is returned.
    pub(crate) fn try_get_or(&self, key: K, make: impl FnOnce() -> Option<V>) -> Option<V> {
        if let Some((cached, value)) = &*self.lock() {
            if *cached == key {
                return Some(value.clone());
            }
        }
        let value = make()?;
        *self.lock() = Some((key, value.clone()));
        Some(value)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(K, V)>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_a_value_only_for_a_new_key() {
        let latest = Latest::default();
        let mut made = 0;
        for (key, expected) in [(1, 10), (1, 10), (2, 20), (1, 10)] {
            let value = latest.get_or(key, || {
                made += 1;
                key * 10
            });
            assert_eq!(value, expected);
        }
        assert_eq!(made, 3);
        assert_eq!(latest.try_get_or(3, || None), None);
        // A failed make stores nothing: the latest is still key 1.
        assert_eq!(latest.try_get_or(1, || None), Some(10));
    }

    #[test]
    fn the_lock_is_free_while_a_value_is_made() {
        let latest = Latest::default();
        let value = latest.get_or(1, || {
            assert!(latest.0.try_lock().is_ok(), "made under the lock");
            1
        });
        assert_eq!(value, 1);
    }
}
