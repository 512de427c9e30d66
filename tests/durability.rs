//! Durability of the zone store: a writer killed with SIGKILL loses no
//! acknowledged change set, applies none by halves, and leaves a directory
//! that the next process opens; while a process holds the store, another
//! cannot open it.
//!
//! The writer is the `zones-churn` binary of this package (see its module
//! doc for what change set `i` does and why serial = i + 1).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant, SystemTime};

use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tempfile::TempDir;
use zones::{ChangeSet, Error, Op, Store, Zone, zonefile};

const APEX: &str = "churn.test.";

/// Long enough to never finish before it is killed.
const ENDLESS: u32 = 10_000_000;

/// How long to wait for one line from the churn before giving up.
const LINE_TIMEOUT: Duration = Duration::from_secs(60);

fn apex() -> Name {
    Name::from_ascii(APEX).expect("apex")
}

/// One acknowledgement: change set `i` is on disk and the zone is at `serial`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Ack {
    i: u32,
    serial: u32,
}

/// A running `zones-churn` and the lines it prints, read on a thread so that
/// waiting for them has a deadline.
struct Churn {
    child: Child,
    lines: Receiver<String>,
}

impl Churn {
    fn start(dir: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zones-churn"))
            .arg(dir)
            .arg(ENDLESS.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start zones-churn");
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next acknowledgement; panics if the churn stops or stalls.
    fn next_ack(&mut self) -> Ack {
        let line = self.lines.recv_timeout(LINE_TIMEOUT).unwrap_or_else(|e| {
            let status = self.child.try_wait();
            panic!("no line from zones-churn ({e}); exit status {status:?}")
        });
        parse_ack(&line).unwrap_or_else(|| panic!("not an ack: {line:?}"))
    }

    /// Kills the churn with SIGKILL and returns the acks it printed that
    /// were not read yet. No line is torn: the churn writes each one with a
    /// single `write` of fewer than PIPE_BUF bytes, which a pipe keeps whole.
    fn kill(mut self) -> Vec<Ack> {
        self.child.kill().expect("SIGKILL zones-churn");
        self.child.wait().expect("reap zones-churn");
        self.lines.iter().map(|line| parse_ack(&line).unwrap_or_else(|| panic!("not an ack: {line:?}"))).collect()
    }
}

impl Drop for Churn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_ack(line: &str) -> Option<Ack> {
    let mut words = line.split(' ');
    let (Some("ack"), Some(i), Some(serial), None) = (words.next(), words.next(), words.next(), words.next()) else {
        return None;
    };
    Some(Ack { i: i.parse().ok()?, serial: serial.parse().ok()? })
}

/// Runs the churn on `dir` until it has acknowledged `count` change sets,
/// kills it, and returns every acknowledgement it printed.
fn churn_then_kill(dir: &Path, count: usize) -> Vec<Ack> {
    let mut churn = Churn::start(dir);
    let mut acks: Vec<Ack> = (0..count).map(|_| churn.next_ack()).collect();
    acks.extend(churn.kill());
    acks
}

/// The change sets whose TXT should be in the zone once change sets
/// `1..=last` are applied: all but those removed by a later one (change
/// set `j`, a multiple of 10, removes `j - 5`).
fn expected_txt(last: u32) -> BTreeSet<u32> {
    (1..=last).filter(|i| !(i % 10 == 5 && i + 5 <= last)).collect()
}

/// The `i` of every `n<i>` TXT record in the zone, checking its value.
fn txt_in(zone: &Zone) -> BTreeSet<u32> {
    let mut found = BTreeSet::new();
    for set in zone.rrsets().into_iter().filter(|s| s.rtype() == RecordType::TXT) {
        let owner = set.name().to_ascii();
        let number = owner.strip_prefix('n').and_then(|rest| rest.strip_suffix(".churn.test."));
        let i: u32 = number.and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("unexpected TXT at {owner}"));
        let RData::TXT(txt) = &set.rdatas()[0] else { panic!("{owner}: not TXT") };
        assert_eq!(txt.txt_data[0][..], *i.to_string().as_bytes(), "{owner}");
        found.insert(i);
    }
    found
}

/// Reopens the store as a restart would and checks it against the acks of
/// every round so far.
fn check_after_crash(dir: &Path, acks: &[Ack]) {
    let store = Store::open(dir).expect("reopen after SIGKILL");
    let zone = store.snapshot().get(&apex()).cloned().expect("the churn zone");
    let last_ack = acks.last().expect("some acks");
    for ack in acks {
        assert_eq!(ack.serial, ack.i + 1, "serial of change set {}", ack.i);
    }
    let last = zone.serial() - 1; // the last change set applied
    assert!(zone.serial() >= last_ack.serial, "acked serial {} lost: zone at {}", last_ack.serial, zone.serial());
    assert!(last <= last_ack.i + 1, "change set {last} applied but only {} acked (+1 in flight)", last_ack.i);
    let present = txt_in(&zone);
    for ack in acks {
        let removed_later = ack.i % 10 == 5 && ack.i + 5 <= last;
        assert!(present.contains(&ack.i) || removed_later, "acked change set {} is missing", ack.i);
    }
    assert_eq!(present, expected_txt(last), "exactly change sets 1..={last}");
    let journal = store.journal(&apex()).expect("journal");
    assert_eq!(journal.len() as u32, last + 1, "creation + one entry per change set");
    assert_eq!(journal.last().map(|e| e.to_serial), Some(zone.serial()));
    for pair in journal.windows(2) {
        assert_eq!(pair[1].from_serial, pair[0].to_serial, "journal serials are contiguous");
    }
}

#[test]
fn acknowledged_change_sets_survive_sigkill() {
    let dir = TempDir::new().expect("temp dir");
    let mut acks = Vec::new();
    for (round, count) in [(1, 300), (2, 120 + rand::random_range(0..400)), (3, 450)] {
        let new = churn_then_kill(dir.path(), count);
        assert!(new.len() >= count, "round {round}");
        if let (Some(previous), Some(first)) = (acks.last(), new.first()) {
            let previous: &Ack = previous;
            assert!(first.i == previous.i + 1 || first.i == previous.i + 2, "round {round} resumes after {previous:?}");
        }
        acks.extend(new);
        check_after_crash(dir.path(), &acks);
    }
}

fn txt_change(owner: &str, value: &str) -> ChangeSet {
    let mut cs = ChangeSet::new(&apex(), "durability test", "in-process");
    let record =
        Record::from_rdata(Name::from_ascii(owner).expect("owner"), 120, RData::TXT(TXT::new(vec![value.into()])));
    cs.push(Op::Add(record));
    cs
}

#[test]
fn a_reopened_store_shows_the_same_snapshot() {
    let dir = TempDir::new().expect("temp dir");
    let before = {
        let store = Store::open(dir.path()).expect("open");
        let zone = zonefile::parse("@ 60 IN SOA ns hm 1 2 3 4 5\n@ 60 IN NS ns\nns 60 IN A 192.0.2.1\n", Some(&apex()));
        store.put_zone(zone.expect("zone file"), "test", "create", SystemTime::now()).expect("put_zone");
        store.commit(&txt_change("a.churn.test.", "with \"quotes\"; and more"), SystemTime::now()).expect("commit");
        store.commit(&txt_change("b.c.churn.test.", "deep"), SystemTime::now()).expect("commit");
        let snapshot = store.snapshot();
        zonefile::write(snapshot.get(&apex()).expect("zone"))
    };
    let store = Store::open(dir.path()).expect("open");
    let after = store.snapshot();
    assert_eq!(zonefile::write(after.get(&apex()).expect("zone after reopen")), before);
    assert_eq!(after.zones().len(), 1);
}

#[test]
fn a_second_process_cannot_open_an_open_store() {
    let dir = TempDir::new().expect("temp dir");
    let mut churn = Churn::start(dir.path());
    churn.next_ack();
    let started = Instant::now();
    let second = Store::open(dir.path());
    assert!(matches!(second, Err(Error::Locked(_))), "{:?}", second.err());
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    churn.kill();
    let store = Store::open(dir.path()).expect("the lock dies with its process");
    let output =
        Command::new(env!("CARGO_BIN_EXE_zones-churn")).arg(dir.path()).arg("1").output().expect("run zones-churn");
    assert!(!output.status.success(), "a second process opened the store");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("in use by another nameplate process"), "{stderr}");
    drop(store);
}
