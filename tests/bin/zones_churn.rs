//! `zones-churn DATA_DIR COUNT`: commits COUNT change sets to the zone store
//! in DATA_DIR and acknowledges each on stdout, for the durability test to
//! kill at a random moment.
//!
//! It creates `churn.test.` (SOA serial 1, NS) if absent. Change set `i`
//! adds TXT `"<i>"` at `n<i>.churn.test.`, and when `i` is a multiple of 10
//! also removes `n<i-5>`. Every change set bumps the serial by one, so `i`
//! is the serial before it: a run continues where the last one stopped.
//! After `commit` returns (flushed to disk) it prints `ack <i> <serial>` and
//! flushes stdout.

use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, Record};
use zones::{ChangeSet, Op, Store, Zone, zonefile};

/// The zone the churn writes to.
const APEX: &str = "churn.test.";

const ZONE: &str = "$ORIGIN churn.test.
@ 3600 IN SOA ns1 hostmaster 1 3600 600 604800 60
@ 3600 IN NS ns1
ns1 3600 IN A 192.0.2.1
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, count] = &args[..] else { bail!("usage: zones-churn DATA_DIR COUNT") };
    let count: u32 = count.parse().context("COUNT")?;
    let store = Store::open(Path::new(dir)).context("opening the store")?;
    let zone = existing_or_new(&store)?;
    let start = zone.serial();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for i in start..start.saturating_add(count) {
        let entry = store.commit(&change_set(i)?, SystemTime::now())?;
        writeln!(out, "ack {i} {}", entry.to_serial)?;
        out.flush()?;
    }
    Ok(())
}

/// The churn zone, created at serial 1 when the store lacks it.
fn existing_or_new(store: &Store) -> Result<std::sync::Arc<Zone>> {
    let apex = Name::from_ascii(APEX)?;
    if store.snapshot().get(&apex).is_none() {
        store.put_zone(zonefile::parse(ZONE, None)?, "zones-churn", "create", SystemTime::now())?;
    }
    store.snapshot().get(&apex).cloned().context("the zone was just created")
}

/// Change set `i`: add `n<i>`, and every 10th also remove `n<i-5>`.
fn change_set(i: u32) -> Result<ChangeSet> {
    let mut cs = ChangeSet::new(&Name::from_ascii(APEX)?, "zones-churn", format!("change {i}"));
    cs.push(Op::Add(txt(i)?));
    if i.is_multiple_of(10) && i >= 10 {
        cs.push(Op::Remove(txt(i - 5)?));
    }
    Ok(cs)
}

fn txt(i: u32) -> Result<Record> {
    let owner = Name::from_ascii(format!("n{i}.{APEX}"))?;
    Ok(Record::from_rdata(owner, 60, RData::TXT(TXT::new(vec![i.to_string()]))))
}
