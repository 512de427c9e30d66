//! The durable ACME store in sled: its own trees, JSON values, every write
//! one [`zones::WriteSet`] over its trees (all or nothing after a crash),
//! flushed before returning (durable before acknowledged). Writers of one
//! object are serialized by `Acme`'s locks; a reader may see a write
//! half applied.
//!
//! ```text
//! acme.accounts       <account id>                  -> Account
//! acme.thumbprints    <RFC 7638 thumbprint>         -> account id
//! acme.eab            <EAB key id>                  -> EabKey
//! acme.orders         <order id>                    -> StoredOrder
//! acme.authzs         <authz id>                    -> StoredAuthz
//! acme.account_orders <account id> 0x00 <order id>  -> ""
//! acme.certs          <ARI cert id>                 -> CertRecord
//! acme.valid_authzs   <account id> 0x00 <identifier> -> authz id (the latest valid one, for reuse)
//! ```
//!
//! Reads return stored values as written; callers apply `refresh(now)`.

use std::sync::Arc;

use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::authz::StoredAuthz;
use super::error::Error;
use super::order::StoredOrder;
use super::types::{Account, AccountId, AuthzId, EabKey, Identifier, OrderId};

/// One issued certificate, as ARI and `replaces` need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertRecord {
    /// Its ARI id.
    pub ari_id: String,
    /// The account it was issued to.
    pub account: AccountId,
    /// The order that produced it.
    pub order: OrderId,
    /// Its notBefore.
    pub not_before: SystemTime,
    /// Its notAfter.
    pub not_after: SystemTime,
    /// The order that named it in `replaces`, if any.
    pub replaced_by: Option<OrderId>,
}

#[derive(Clone, Copy)]
enum T {
    Accounts,
    Thumbprints,
    Eab,
    Orders,
    Authzs,
    AccountOrders,
    Certs,
    ValidAuthzs,
}

const TREES: [&str; 8] = [
    "acme.accounts",
    "acme.thumbprints",
    "acme.eab",
    "acme.orders",
    "acme.authzs",
    "acme.account_orders",
    "acme.certs",
    "acme.valid_authzs",
];

/// A set of writes committed together by [`AcmeStore::commit`].
#[derive(Default)]
pub(crate) struct Batch {
    writes: Vec<(T, Vec<u8>, Option<Vec<u8>>)>,
}

impl Batch {
    fn put(&mut self, tree: T, key: Vec<u8>, value: &impl Serialize) -> Result<(), Error> {
        self.writes.push((tree, key, Some(serde_json::to_vec(value)?)));
        Ok(())
    }

    pub(crate) fn account(&mut self, a: &Account) -> Result<(), Error> {
        self.put(T::Accounts, a.id.0.as_bytes().to_vec(), a)
    }

    pub(crate) fn thumbprint(&mut self, thumbprint: &str, id: &AccountId) -> Result<(), Error> {
        self.put(T::Thumbprints, thumbprint.as_bytes().to_vec(), id)
    }

    pub(crate) fn remove_thumbprint(&mut self, thumbprint: &str) {
        self.writes.push((T::Thumbprints, thumbprint.as_bytes().to_vec(), None));
    }

    pub(crate) fn eab(&mut self, k: &EabKey) -> Result<(), Error> {
        self.put(T::Eab, k.key_id.as_bytes().to_vec(), k)
    }

    pub(crate) fn order(&mut self, o: &StoredOrder) -> Result<(), Error> {
        let core = o.core();
        self.put(T::Orders, core.id.0.as_bytes().to_vec(), o)?;
        self.put(T::AccountOrders, pair(&core.account.0, &core.id.0), &())
    }

    pub(crate) fn authz(&mut self, a: &StoredAuthz) -> Result<(), Error> {
        let core = a.core();
        self.put(T::Authzs, core.id.0.as_bytes().to_vec(), a)?;
        if let StoredAuthz::Valid(_) = a {
            self.put(T::ValidAuthzs, reuse_key(&core.account, &core.order_identifier()), &core.id)?;
        }
        Ok(())
    }

    pub(crate) fn cert(&mut self, c: &CertRecord) -> Result<(), Error> {
        self.put(T::Certs, c.ari_id.as_bytes().to_vec(), c)
    }
}

fn pair(a: &str, b: &str) -> Vec<u8> {
    [a.as_bytes(), &[0], b.as_bytes()].concat()
}

/// The key of `account`'s latest valid authorization for `order_identifier` (`*.x` for a wildcard).
fn reuse_key(account: &AccountId, order_identifier: &str) -> Vec<u8> {
    pair(&account.0, order_identifier)
}

/// The ACME store.
#[derive(Clone, Debug)]
pub struct AcmeStore {
    /// Flushes shared by concurrent commits (group commit).
    flushes: Arc<zones::GroupFlush>,
    /// Crash-atomic application of each batch.
    undo: Arc<zones::Undo>,
    trees: Vec<sled::Tree>,
}

impl AcmeStore {
    /// Opens (creating) the ACME trees in the database of `flushes`,
    /// sharing its flushes with the other stores there.
    pub fn open(flushes: &Arc<zones::GroupFlush>) -> Result<Self, Error> {
        let db = flushes.db();
        let trees = TREES.iter().map(|name| db.open_tree(name)).collect::<Result<_, _>>()?;
        let undo = flushes.undo()?;
        Ok(Self { flushes: Arc::clone(flushes), undo, trees })
    }

    /// Applies `batch` (all or nothing) and flushes it to disk (with whatever
    /// else was written to the database before), sharing the flush with
    /// concurrent commits.
    pub(crate) fn commit(&self, batch: Batch) -> Result<(), Error> {
        self.stage(batch)?;
        self.flushes.flush()?;
        Ok(())
    }

    /// Applies `batch` without waiting for the disk (a crash leaves all of
    /// it or none, [`zones::Undo`]): the next commit's flush covers it. For
    /// state that no response acknowledges.
    pub(crate) fn stage(&self, batch: Batch) -> Result<(), Error> {
        let mut set = zones::WriteSet::default();
        for (tree, key, value) in batch.writes {
            let tree = &self.trees[tree as usize];
            match value {
                Some(value) => set.insert(tree, key, value),
                None => set.remove(tree, key),
            }
        }
        Ok(self.undo.apply(set)?)
    }

    fn get<V: DeserializeOwned>(&self, tree: T, key: &[u8]) -> Result<Option<V>, Error> {
        match self.trees[tree as usize].get(key)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    pub(crate) fn account(&self, id: &AccountId) -> Result<Option<Account>, Error> {
        self.get(T::Accounts, id.0.as_bytes())
    }

    pub(crate) fn account_by_thumbprint(&self, thumbprint: &str) -> Result<Option<Account>, Error> {
        match self.get::<AccountId>(T::Thumbprints, thumbprint.as_bytes())? {
            Some(id) => self.account(&id),
            None => Ok(None),
        }
    }

    pub(crate) fn eab(&self, key_id: &str) -> Result<Option<EabKey>, Error> {
        self.get(T::Eab, key_id.as_bytes())
    }

    pub(crate) fn order(&self, id: &OrderId) -> Result<Option<StoredOrder>, Error> {
        self.get(T::Orders, id.0.as_bytes())
    }

    pub(crate) fn authz(&self, id: &AuthzId) -> Result<Option<StoredAuthz>, Error> {
        self.get(T::Authzs, id.0.as_bytes())
    }

    pub(crate) fn cert(&self, ari_id: &str) -> Result<Option<CertRecord>, Error> {
        self.get(T::Certs, ari_id.as_bytes())
    }

    /// The latest valid authorization of `account` for the order identifier `id` (`*.x` for a wildcard).
    pub(crate) fn reusable_authz(&self, account: &AccountId, id: &Identifier) -> Result<Option<AuthzId>, Error> {
        self.get(T::ValidAuthzs, &reuse_key(account, id.as_str()))
    }

    /// The ids of `account`'s orders, in key order.
    pub(crate) fn account_orders(&self, account: &AccountId) -> Result<Vec<OrderId>, Error> {
        let prefix = pair(&account.0, "");
        self.trees[T::AccountOrders as usize]
            .scan_prefix(&prefix)
            .keys()
            .map(|k| Ok(OrderId(String::from_utf8_lossy(&k?[prefix.len()..]).into_owned())))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::acme::types::AccountStatus;
    use crate::pki::testutil::reopen;

    fn account(id: &str) -> Account {
        Account {
            id: AccountId(id.into()),
            thumbprint: format!("tp-{id}"),
            jwk: serde_json::json!({"kty": "EC"}),
            contact: vec![],
            status: AccountStatus::Valid,
            team: Some("blue".into()),
            eab_key_id: None,
            created_at: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn committed_writes_survive_reopening_the_database() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            let store = AcmeStore::open(&zones::GroupFlush::shared(&db)).unwrap();
            let mut batch = Batch::default();
            batch.account(&account("a1")).unwrap();
            batch.thumbprint("tp-a1", &AccountId("a1".into())).unwrap();
            store.commit(batch).unwrap();
        }
        let db = reopen(dir.path());
        let store = AcmeStore::open(&zones::GroupFlush::shared(&db)).unwrap();
        assert_eq!(store.account(&AccountId("a1".into())).unwrap(), Some(account("a1")));
        assert_eq!(store.account_by_thumbprint("tp-a1").unwrap(), Some(account("a1")));
        assert_eq!(store.account_by_thumbprint("tp-a2").unwrap(), None);
    }

    #[test]
    fn removals_apply_in_the_same_batch() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let store = AcmeStore::open(&zones::GroupFlush::shared(&db)).unwrap();
        let mut batch = Batch::default();
        batch.account(&account("a1")).unwrap();
        batch.thumbprint("old", &AccountId("a1".into())).unwrap();
        store.commit(batch).unwrap();
        let mut batch = Batch::default();
        batch.remove_thumbprint("old");
        batch.thumbprint("new", &AccountId("a1".into())).unwrap();
        store.commit(batch).unwrap();
        assert_eq!(store.account_by_thumbprint("old").unwrap(), None);
        assert_eq!(store.account_by_thumbprint("new").unwrap().unwrap().id.0, "a1");
    }
}
