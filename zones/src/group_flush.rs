//! Group commit for sled: concurrent writers wait for one shared fsync
//! instead of each paying for its own.
//!
//! A writer applies its write, then takes a [`Ticket`] and waits for it,
//! blocking ([`GroupFlush::wait`], or [`GroupFlush::flush`] for both) or
//! as a future ([`GroupFlush::wait_async`], [`GroupFlush::flush_async`])
//! that parks no thread. One flusher thread per database runs
//! `sled::Db::flush`, which makes durable everything written before it
//! started, for every ticket taken before it began; tickets taken meanwhile
//! are covered by its next flush, all at once. A wait returns only once a
//! flush that began after its ticket was taken has completed, so an
//! acknowledged write is on disk. A failed flush fails every ticket it
//! covered and every later one: after an I/O error nothing more is
//! acknowledged until the database is reopened.
//!
//! Every store on one database shares one `GroupFlush` (an
//! `Arc<GroupFlush>`, from [`GroupFlush::shared`]), so that their writers
//! share flushes too: each flush seals one of sled's I/O buffers and costs
//! a write, a sync and the wake-ups around them, whoever asked for it.
//! Dropping the `GroupFlush` stops its thread (after the flush in
//! progress, if any). It also holds the database's one [`Undo`]
//! ([`GroupFlush::undo`]), so that the stores sharing the database share
//! its recovery too.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use tokio::sync::watch;

use crate::Undo;

/// One flush shared by the writers that wait for it at the same time.
#[derive(Debug)]
pub struct GroupFlush {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
    undo: Mutex<Option<Arc<Undo>>>,
}

/// A claim on a flush: everything the holder wrote before taking it is on
/// disk once the ticket is flushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[must_use = "a write is durable only once its ticket has been waited for"]
pub struct Ticket(u64);

/// What the writers and the flusher thread share.
#[derive(Debug)]
struct Shared {
    db: sled::Db,
    state: Mutex<State>,
    /// The flusher waits here for tickets (or the stop).
    requested: Condvar,
    /// Blocking waiters wait here for a flush.
    done: Condvar,
    /// Futures wait on this for a flush.
    progress: watch::Sender<Progress>,
}

/// Tickets: each caller takes the next number; a finished flush covers
/// every ticket taken before it began.
#[derive(Debug, Default)]
struct State {
    issued: u64,
    flushed: u64,
    /// Why a flush failed, once one has.
    failed: Option<Arc<str>>,
    /// The flusher is waiting on `requested` (so a new ticket must wake it).
    flusher_idle: bool,
    /// Threads waiting on `done`.
    blocked: usize,
    stop: bool,
}

/// How far the flushes have come, for futures.
#[derive(Clone, Debug, Default)]
struct Progress {
    flushed: u64,
    failed: Option<Arc<str>>,
}

impl GroupFlush {
    /// Flushes of `db`, by a new flusher thread.
    pub fn new(db: &sled::Db) -> GroupFlush {
        let shared = Arc::new(Shared {
            db: db.clone(),
            state: Mutex::default(),
            requested: Condvar::new(),
            done: Condvar::new(),
            progress: watch::Sender::new(Progress::default()),
        });
        let worker = Arc::clone(&shared);
        let flusher = std::thread::Builder::new()
            .name("sled-flush".to_owned())
            .spawn(move || worker.run())
            .unwrap_or_else(|e| panic!("cannot start the flusher thread: {e}"));
        GroupFlush { shared, flusher: Some(flusher), undo: Mutex::new(None) }
    }

    /// Flushes of `db`, to be shared by every store that opens trees in it.
    pub fn shared(db: &sled::Db) -> Arc<GroupFlush> {
        Arc::new(GroupFlush::new(db))
    }

    /// The database these flushes make durable.
    pub fn db(&self) -> &sled::Db {
        &self.shared.db
    }

    /// The database's crash-atomic writes: opened, and so recovered
    /// ([`Undo::open`]), by the first store that asks, before it writes;
    /// later callers share it. (A second recovery while the first store
    /// writes would roll back that store's write sets in flight.)
    pub fn undo(&self) -> sled::Result<Arc<Undo>> {
        let mut shared = self.undo.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(undo) = &*shared {
            return Ok(Arc::clone(undo));
        }
        let undo = Arc::new(Undo::open(self.db())?);
        *shared = Some(Arc::clone(&undo));
        Ok(undo)
    }

    /// A ticket for everything this thread wrote to the database before the
    /// call; the flusher starts on it unless it is busy.
    pub fn ticket(&self) -> Ticket {
        let mut state = self.shared.lock();
        state.issued += 1;
        if state.flusher_idle {
            state.flusher_idle = false;
            self.shared.requested.notify_one();
        }
        Ticket(state.issued)
    }

    /// Blocks until `ticket` is flushed.
    pub fn wait(&self, ticket: Ticket) -> sled::Result<()> {
        let mut state = self.shared.lock();
        loop {
            if state.flushed >= ticket.0 {
                return Ok(());
            }
            if let Some(error) = &state.failed {
                return Err(failure(error));
            }
            state.blocked += 1;
            state = self.shared.done.wait(state).unwrap_or_else(PoisonError::into_inner);
            state.blocked -= 1;
        }
    }

    /// Resolves once `ticket` is flushed, without parking a thread.
    pub async fn wait_async(&self, ticket: Ticket) -> sled::Result<()> {
        let mut progress = self.shared.progress.subscribe();
        let reached = progress.wait_for(|p| p.flushed >= ticket.0 || p.failed.is_some()).await;
        match reached {
            Ok(p) if p.flushed >= ticket.0 => Ok(()),
            Ok(p) => Err(failure(p.failed.as_deref().unwrap_or("the flush failed"))),
            Err(_) => Err(failure("the flusher has stopped")),
        }
    }

    /// Returns once everything this thread wrote to the database before the
    /// call is on disk (see the module documentation).
    pub fn flush(&self) -> sled::Result<()> {
        self.wait(self.ticket())
    }

    /// [`GroupFlush::flush`] as a future: everything written before the
    /// first poll is on disk when it resolves.
    pub async fn flush_async(&self) -> sled::Result<()> {
        self.wait_async(self.ticket()).await
    }
}

impl Drop for GroupFlush {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.requested.notify_one();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}

impl Shared {
    /// The flusher thread: one flush for every ticket issued so far, until
    /// stopped. After a failure it flushes no more.
    fn run(&self) {
        let mut state = self.lock();
        loop {
            while !state.stop && (state.issued == state.flushed || state.failed.is_some()) {
                state.flusher_idle = true;
                state = self.requested.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
            state.flusher_idle = false;
            if state.stop {
                return;
            }
            let covered = state.issued;
            drop(state);
            let result = self.db.flush();
            state = self.lock();
            match result {
                Ok(_) => state.flushed = covered,
                Err(error) => state.failed = Some(format!("flushing the database failed: {error}").into()),
            }
            if state.blocked > 0 {
                self.done.notify_all();
            }
            let progress = Progress { flushed: state.flushed, failed: state.failed.clone() };
            self.progress.send_replace(progress);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn failure(why: &str) -> sled::Error {
    sled::Error::Io(std::io::Error::other(why.to_owned()))
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
        let state = group.shared.lock();
        assert_eq!((state.issued, state.flushed), (800, 800));
        drop(state);
        drop((group, db));
        let db = crate::open_sled(dir.path()).unwrap();
        assert_eq!(db.len(), 800, "every acknowledged write is there after a reopen");
    }

    #[test]
    fn futures_are_acknowledged_with_blocking_writers_and_durable() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let group = Arc::new(GroupFlush::new(&db));
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let tasks: Vec<_> = (0..16u32)
            .map(|w| {
                let (db, group) = (db.clone(), group.clone());
                runtime.spawn(async move {
                    for i in 0..50u32 {
                        db.insert(format!("async {w}/{i}"), &i.to_be_bytes()).unwrap();
                        let ticket = group.ticket();
                        group.wait_async(ticket).await.unwrap();
                        assert!(group.shared.lock().flushed >= ticket.0, "resolved before its flush");
                    }
                })
            })
            .collect();
        let blocking = {
            let (db, group) = (db.clone(), group.clone());
            thread::spawn(move || {
                for i in 0..50u32 {
                    db.insert(format!("blocking {i}"), &i.to_be_bytes()).unwrap();
                    let ticket = group.ticket();
                    group.wait(ticket).unwrap();
                    assert!(group.shared.lock().flushed >= ticket.0, "returned before its flush");
                }
            })
        };
        runtime.block_on(async {
            for task in tasks {
                task.await.unwrap();
            }
        });
        blocking.join().unwrap();
        let state = group.shared.lock();
        assert_eq!((state.issued, state.flushed), (850, 850));
        drop(state);
        drop((group, db));
        let db = crate::open_sled(dir.path()).unwrap();
        assert_eq!(db.len(), 850, "every acknowledged write is there after a reopen");
    }

    #[test]
    fn after_a_failed_flush_nothing_more_is_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let group = GroupFlush::new(&sled::open(dir.path()).unwrap());
        group.flush().unwrap();
        group.shared.lock().failed = Some("disk on fire".into());
        group.shared.progress.send_replace(Progress { flushed: 1, failed: Some("disk on fire".into()) });
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for _ in 0..2 {
            let error = group.flush().unwrap_err();
            assert!(error.to_string().contains("disk on fire"), "{error}");
            let error = runtime.block_on(group.flush_async()).unwrap_err();
            assert!(error.to_string().contains("disk on fire"), "{error}");
        }
    }
}
