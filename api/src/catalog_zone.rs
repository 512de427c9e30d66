//! Keeping the catalog zone (RFC 9432) in step with the zones served.
//!
//! The catalog zone is a real zone in the store (serial, journal, transfers,
//! NOTIFY like any other). Its members are every zone of the snapshot but
//! itself, each with a `group` property: the team of a delegated zone (from
//! the zones catalog), `platform` for every other zone. The difference is
//! computed by `zones::catalog::catalog_diff`.
//!
//! - Zone creation and deletion through the API add the catalog change to
//!   the same transaction ([`stage_member`]), so the catalog never lists a
//!   zone that is not served nor misses one that is.
//! - [`sync_catalog_zone`] runs as its own audited transaction (who:
//!   `system: catalog`) at server start and after `nameplate zone import`;
//!   at start it creates the catalog zone when it is missing and repairs any
//!   difference (a zone written by a path that does not stage the catalog).

use std::collections::BTreeMap;
use std::time::SystemTime;

use zones::catalog::{catalog_diff, new_catalog_zone};
use zones::{Name, Store, Transaction, ZoneSet};

use crate::{ApiError, Audit, PLATFORM_TEAM, zones_catalog};

/// The author of catalog zone change sets.
const AUTHOR: &str = "catalog";

/// Creates the catalog zone at `catalog` if it is missing and makes it list
/// exactly the zones served, in one audited transaction. Returns whether
/// anything changed.
pub fn sync_catalog_zone(store: &Store, catalog: &Name, now: SystemTime) -> Result<bool, ApiError> {
    let catalog = canonical(catalog);
    let snapshot = store.snapshot();
    let wanted = wanted(store, &snapshot, &catalog)?;
    let mut tx = Transaction::new();
    let zone = match snapshot.get(&catalog) {
        Some(zone) => (**zone).clone(),
        None => {
            let zone = new_catalog_zone(&catalog)?;
            tx.put_zone(zone.clone(), AUTHOR, "catalog zone created");
            zone
        }
    };
    if let Some(cs) = catalog_diff(&zone, &wanted, AUTHOR, "catalog zone sync")? {
        tx.change(cs);
    }
    if tx.is_empty() {
        return Ok(false);
    }
    let members = wanted.len();
    Audit::system(AUTHOR, PLATFORM_TEAM, "catalog.sync", zones_catalog::text(&catalog))
        .why(serde_json::json!({ "members": members }))
        .commit(store, tx, now)?;
    tracing::info!(catalog = %catalog, members, "catalog zone synchronized");
    Ok(true)
}

/// Adds to `tx` the catalog change that lists `member` with `group`
/// (`Some`) or unlists it (`None`), when the catalog zone exists (otherwise
/// the next start creates it with every member).
pub(crate) fn stage_member(
    tx: &mut Transaction,
    store: &Store,
    catalog: Option<&Name>,
    member: &Name,
    group: Option<&str>,
) -> Result<(), ApiError> {
    let Some(catalog) = catalog.map(canonical) else { return Ok(()) };
    let snapshot = store.snapshot();
    let Some(zone) = snapshot.get(&catalog) else { return Ok(()) };
    let mut wanted = wanted(store, &snapshot, &catalog)?;
    match group {
        Some(group) => wanted.insert(canonical(member), Some(group.to_owned())),
        None => wanted.remove(&canonical(member)),
    };
    if let Some(cs) = catalog_diff(zone, &wanted, AUTHOR, "catalog zone member")? {
        tx.change(cs);
    }
    Ok(())
}

/// Every zone of `snapshot` but the catalog, with its group.
fn wanted(store: &Store, snapshot: &ZoneSet, catalog: &Name) -> Result<BTreeMap<Name, Option<String>>, ApiError> {
    let teams: BTreeMap<String, String> =
        zones_catalog::list(store)?.into_iter().map(|z| (z.name.clone(), z.team)).collect();
    Ok(snapshot
        .zones()
        .into_iter()
        .map(|z| z.apex())
        .filter(|apex| *apex != catalog)
        .map(|apex| {
            let team = teams.get(&zones_catalog::text(apex)).cloned().unwrap_or_else(|| PLATFORM_TEAM.to_owned());
            (apex.clone(), Some(team))
        })
        .collect())
}

fn canonical(name: &Name) -> Name {
    let mut name = name.to_lowercase();
    name.set_fqdn(true);
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use zones::catalog::members;

    #[test]
    fn sync_creates_the_catalog_lists_every_zone_and_then_changes_nothing() {
        let dir = tempfile::tempdir().expect("test");
        let store = Store::open(&dir.path().join("data")).expect("test");
        let zone = zones::zonefile::parse(
            "$ORIGIN apps.example.\n@ 300 IN SOA ns1 host 1 3600 600 86400 60\n@ 300 IN NS ns1\nns1 300 IN A 192.0.2.1\n",
            None,
        )
        .expect("test");
        store.put_zone(zone, "test", "test", SystemTime::now()).expect("test");
        let catalog = Name::from_ascii("catalog.invalid.").expect("test");
        assert!(sync_catalog_zone(&store, &catalog, SystemTime::now()).expect("test"));
        let snapshot = store.snapshot();
        let listed = members(snapshot.get(&catalog).expect("test"));
        let member = Name::from_ascii("apps.example.").expect("test");
        assert_eq!(listed.keys().collect::<Vec<_>>(), [&member]);
        assert_eq!(listed[&member].1.as_deref(), Some("platform"));
        assert!(!sync_catalog_zone(&store, &catalog, SystemTime::now()).expect("test"), "in sync: nothing to do");
        let last = store.audit_log(0).next_back().expect("test").expect("test");
        assert!(String::from_utf8_lossy(&last.note).contains("catalog.sync"));
    }
}
