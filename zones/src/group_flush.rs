//! Group commit for sled: concurrent writers wait for one shared fsync
//! instead of each paying for its own.
//!
//! A writer applies its write, then calls [`GroupFlush::flush`]. The first
//! caller with no flush in progress becomes the leader and runs
//! `sled::Db::flush`, which makes durable everything written before it
//! started; callers that arrive meanwhile wait, and the next leader's
//! flush covers all of them at once. Every caller returns only once a
//! flush that began after its write has completed, so an acknowledged
//! write is on disk. A failed flush fails every caller it covered and every
//! later one: after an I/O error nothing more is acknowledged until the
//! database is reopened.
//!
//! Every store on one database shares one `GroupFlush` (an
//! `Arc<GroupFlush>`, from [`GroupFlush::shared`]), so that their writers
//! share flushes too: each flush seals one of sled's I/O buffers and costs
//! a write, a sync and the wake-ups around them, whoever asked for it.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// One flush shared by the writers that wait for it at the same time.
#[derive(Debug)]
pub struct GroupFlush {
    db: sled::Db,
    state: Mutex<State>,
    done: Condvar,
}

/// Tickets: each caller takes the next number; a finished flush covers
/// every ticket taken before it began.
#[derive(Debug, Default)]
struct State {
    issued: u64,
    flushed: u64,
    flushing: bool,
    /// Why a flush failed, once one has.
    failed: Option<String>,
}

impl GroupFlush {
    /// Flushes of `db`.
    pub fn new(db: &sled::Db) -> GroupFlush {
        GroupFlush { db: db.clone(), state: Mutex::default(), done: Condvar::new() }
    }

    /// Flushes of `db`, to be shared by every store that opens trees in it.
    pub fn shared(db: &sled::Db) -> Arc<GroupFlush> {
        Arc::new(GroupFlush::new(db))
    }

    /// The database these flushes make durable.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// Returns once everything this thread wrote to the database before the
    /// call is on disk (see the module documentation).
    pub fn flush(&self) -> sled::Result<()> {
        let mut state = self.lock();
        state.issued += 1;
        let ticket = state.issued;
        loop {
            if state.flushed >= ticket {
                return Ok(());
            }
            if let Some(error) = &state.failed {
                return Err(sled::Error::Io(std::io::Error::other(error.clone())));
            }
            if state.flushing {
                state = self.done.wait(state).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            state = self.lead(state);
        }
    }

    /// Runs one flush for every ticket issued so far, without the lock.
    fn lead<'a>(&'a self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        state.flushing = true;
        let covered = state.issued;
        drop(state);
        let result = self.db.flush();
        let mut state = self.lock();
        state.flushing = false;
        match result {
            Ok(_) => state.flushed = covered,
            Err(error) => state.failed = Some(format!("flushing the database failed: {error}")),
        }
        self.done.notify_all();
        state
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::thread;

    use super::*;

    #[test]
    fn concurrent_writers_are_all_acknowledged_and_durable() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let group = Arc::new(GroupFlush::new(&db));
        let writers: Vec<_> = (0..16u32)
            .map(|w| {
                let (db, group) = (db.clone(), group.clone());
                thread::spawn(move || {
                    for i in 0..50u32 {
                        db.insert(format!("{w}/{i}"), &i.to_be_bytes()).unwrap();
                        group.flush().unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        let state = group.lock();
        assert_eq!((state.issued, state.flushed, state.flushing), (800, 800, false));
        drop(state);
        drop((group, db));
        let db = crate::open_sled(dir.path()).unwrap();
        assert_eq!(db.len(), 800, "every acknowledged write is there after a reopen");
    }

    #[test]
    fn after_a_failed_flush_nothing_more_is_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let group = GroupFlush::new(&sled::open(dir.path()).unwrap());
        group.flush().unwrap();
        group.lock().failed = Some("disk on fire".into());
        for _ in 0..2 {
            let error = group.flush().unwrap_err();
            assert!(error.to_string().contains("disk on fire"), "{error}");
        }
    }
}
