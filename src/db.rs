//! The embedded database the disclosure log and the store keep their data in: redb, one file
//! (`data.redb`) per directory, tables of byte keys and byte values in key order.
//!
//! Why redb and not sled: `make powercut` (docs/reliability.md, "Power cuts") cut power under
//! load and found that sled 0.34's flush is not durable (`sync_file_range`, no directory fsyncs)
//! and, once fsyncs were added around it, that sled's recovery could still leave a database that
//! panics at open or on every write (two seeds of six). redb's crash safety is its own contract:
//! a commit writes its pages, then a header slot with a checksum, and `fdatasync`s before it
//! returns; at open a torn or unsynced commit fails its checksum and the previous one is used.
//! What redb does not do is fsync the directory that holds the file, so [`Db::open`] does that
//! (and the parent of every directory it creates): otherwise a power cut can take a new name.
//!
//! Two kinds of write: [`Durability::Durable`] returns once the commit is on the disk (the log's
//! appends); [`Durability::Deferred`] is visible at once but only made durable by the next
//! durable commit or [`Db::flush`] (the store's deliveries, which share one flush between the
//! deliveries in flight: `store::commit`). This module is the only one that names redb.

use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::time::Duration;

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use crate::retry::{Backoff, Limit, Retry, Stopped};

/// The file in a database directory.
pub(crate) const FILE: &str = "data.redb";

/// The page cache per database. redb keeps every page a commit writes in this cache until it is
/// full (half of it may be the write buffer), so a process that appends fills all of it with
/// pages it will rarely read again: at 32 MiB it was the largest thing the hub held (32.6 of
/// 81 MiB at the heap's peak, heaptrack) and the hub's and the store's peak RSS at 20 000 bases
/// were 33 and 31 MiB above what they are at 4 MiB (docs/performance.md, "Memory"), for no
/// measurable throughput. What the cache earns its keep on is small: the B-tree pages on the
/// path of the next append (the keys are in order, so the path is the same for the next one)
/// and the indexes' interior pages; a leaf read again comes from the operating system's page
/// cache, a `pread` away.
const CACHE_BYTES: usize = 4 * 1024 * 1024;

type Bytes = &'static [u8];

/// One table: byte keys in order, byte values.
pub(crate) type Table = redb::TableDefinition<'static, Bytes, Bytes>;

/// A table's definition from its name.
pub(crate) const fn table(name: &'static str) -> Table {
    redb::TableDefinition::new(name)
}

/// What went wrong in the database. Names the directory and what redb said; never a value.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Another process (a running hub or store) has the database open.
    #[error("{}: the database is in use by another process (stop it first)", .0.display())]
    InUse(PathBuf),
    /// The directory holds a sled database, the format before redb.
    #[error(
        "{}: holds a sled database (invoice-hub's format before 2026-12-01); this version keeps \
         its data in {FILE} (docs/reliability.md, \"Power cuts\") and does not convert it",
        .0.display()
    )]
    OldFormat(PathBuf),
    /// I/O on the directory or the file, or a failure redb reported.
    #[error("{}: {message}", path.display())]
    Storage { path: PathBuf, message: String },
}

/// When a write is on the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Before [`Db::write`] returns.
    Durable,
    /// At the next durable write or [`Db::flush`]; visible to reads at once.
    Deferred,
}

/// An open database.
pub(crate) struct Db {
    db: redb::Database,
    /// The directory errors name: for an [`Db::open_copy`] the original, not the copy.
    dir: PathBuf,
    /// The private copy an [`Db::open_copy`] works on, removed when the database is dropped.
    _copy: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("dir", &self.dir).finish()
    }
}

impl Db {
    /// Whether `dir` holds a database: ours, or sled's from before (which [`Db::open`] refuses
    /// by name).
    pub(crate) fn exists(dir: &Path) -> bool {
        dir.join(FILE).is_file() || holds_sled(dir)
    }

    /// Opens the database in `dir`, creating the directory, the file and the `tables` that do not
    /// exist yet, and makes their names durable. Waits up to about five seconds for another
    /// process that holds the file to let go (a restart, or an auditor's command just after the
    /// hub stopped); a process that keeps it open fails the open with [`DbError::InUse`].
    pub(crate) fn open(dir: &Path, tables: &[Table]) -> Result<Db, DbError> {
        if !dir.join(FILE).is_file() && holds_sled(dir) {
            return Err(DbError::OldFormat(dir.to_owned()));
        }
        // Every directory this open creates gets a name that survives: its parent is fsynced.
        let missing: Vec<PathBuf> = dir
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && !a.is_dir())
            .map(Path::to_path_buf)
            .collect();
        std::fs::create_dir_all(dir).map_err(|e| storage(dir, e))?;
        for created in &missing {
            sync_dir(created.parent().filter(|p| !p.as_os_str().is_empty()))
                .map_err(|e| storage(dir, e))?;
        }
        let db = open_waiting(dir)?;
        sync_dir(Some(dir)).map_err(|e| storage(dir, e))?;
        let db = Db {
            db,
            dir: dir.to_owned(),
            _copy: None,
        };
        db.write(Durability::Durable, |w| {
            for t in tables {
                w.table(*t)?;
            }
            Ok::<_, DbError>(())
        })?;
        Ok(db)
    }

    /// Opens a private copy of the database in `dir`, leaving `dir` exactly as it was: how an
    /// auditor reads evidence. redb opens its file for writing and commits at open (and repairs
    /// after a crash), so opening the evidence itself would change it, and fails when it is
    /// read-only (`chmod -R a-w`). The copy lives in a directory of its own (mode 0700) that is
    /// removed when the database is dropped. A process that has the database open (a running
    /// hub or store) holds its lock: that is [`DbError::InUse`], as for [`Db::open`].
    pub(crate) fn open_copy(dir: &Path, tables: &[Table]) -> Result<Db, DbError> {
        let file = dir.join(FILE);
        if !file.is_file() && holds_sled(dir) {
            return Err(DbError::OldFormat(dir.to_owned()));
        }
        let original = std::fs::File::open(&file).map_err(|e| storage(dir, e))?;
        match original.try_lock_shared() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(DbError::InUse(dir.to_owned())),
            Err(std::fs::TryLockError::Error(e)) => return Err(storage(dir, e)),
        }
        let copy = tempfile::Builder::new()
            .prefix("invoice-hub-evidence-")
            .tempdir()
            .map_err(|e| storage(dir, format!("making a private copy: {e}")))?;
        {
            let mut from = std::io::BufReader::new(&original);
            let mut to = std::fs::File::create(copy.path().join(FILE))
                .map_err(|e| storage(dir, format!("making a private copy: {e}")))?;
            std::io::copy(&mut from, &mut to)
                .map_err(|e| storage(dir, format!("making a private copy: {e}")))?;
        }
        // Closing the original releases its shared lock.
        drop(original);
        let mut db = Db::open(copy.path(), tables).map_err(|e| match e {
            DbError::Storage { message, .. } => storage(dir, message),
            other => other,
        })?;
        db.dir = dir.to_owned();
        db._copy = Some(copy);
        Ok(db)
    }

    /// A consistent view of the database as of now.
    pub(crate) fn read(&self) -> Result<Snapshot, DbError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        Ok(Snapshot {
            txn,
            dir: self.dir.clone(),
        })
    }

    /// Runs `f` in one write transaction and commits it if `f` succeeds (all of it or nothing).
    /// Writes are serialised: a second caller waits for the first to commit.
    pub(crate) fn write<T, E: From<DbError>>(
        &self,
        durability: Durability,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut txn = self.db.begin_write().map_err(|e| self.err(e))?;
        if durability == Durability::Deferred {
            txn.set_durability(redb::Durability::None)
                .map_err(|e| self.err(e))?;
        }
        let out = {
            let mut w = Writer {
                txn: &txn,
                open: Vec::new(),
                dir: &self.dir,
            };
            f(&mut w)
        };
        match out {
            Ok(v) => {
                txn.commit().map_err(|e| self.err(e))?;
                Ok(v)
            }
            Err(e) => {
                // Dropping the transaction would abort it too; this names a failed abort.
                txn.abort().map_err(|e| self.err(e))?;
                Err(e)
            }
        }
    }

    /// Makes every deferred write so far durable (an empty durable commit).
    pub(crate) fn flush(&self) -> Result<(), DbError> {
        self.write(Durability::Durable, |_| Ok::<_, DbError>(()))
    }

    fn err(&self, e: impl Into<redb::Error>) -> DbError {
        storage(&self.dir, e.into())
    }
}

/// Opens (or creates) the file, retrying while another handle still holds its lock.
fn open_waiting(dir: &Path) -> Result<redb::Database, DbError> {
    let mut builder = redb::Builder::new();
    builder.set_cache_size(CACHE_BYTES);
    create_whole(dir, &builder)?;
    let wait = Duration::from_millis(100);
    Retry::new(
        Backoff::fixed(wait, wait),
        Limit::Time(Duration::from_secs(5)),
    )
    .run_blocking(
        |_| builder.create(dir.join(FILE)),
        |e| matches!(e, redb::DatabaseError::DatabaseAlreadyOpen),
        |_, _, _| {},
    )
    .map(|(db, _)| db)
    .map_err(|stopped| match stopped {
        Stopped::GaveUp { .. } => DbError::InUse(dir.to_owned()),
        Stopped::Fatal(e) => storage(dir, e),
    })
}

/// Makes a new database under a name of its own and links it into place only when it is whole.
/// A process killed while redb writes a new file's first pages (a first start cut short, a power
/// cut) would otherwise leave a `data.redb` that no later open can read ("not a redb database"),
/// and the hub or store would never start again on that directory.
fn create_whole(dir: &Path, builder: &redb::Builder) -> Result<(), DbError> {
    let file = dir.join(FILE);
    if file.exists() {
        return Ok(());
    }
    let new = dir.join(format!("{FILE}.new-{}", std::process::id()));
    let made = (|| -> Result<(), String> {
        let _ = std::fs::remove_file(&new);
        drop(builder.create(&new).map_err(|e| e.to_string())?);
        std::fs::File::open(&new)
            .and_then(|f| f.sync_all())
            .map_err(|e| e.to_string())?;
        // A link, not a rename: it never replaces a database another process made meanwhile.
        match std::fs::hard_link(&new, &file) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e.to_string()),
            _ => sync_dir(Some(dir)).map_err(|e| e.to_string()),
        }
    })();
    let _ = std::fs::remove_file(&new);
    made.map_err(|why| storage(dir, format!("creating the database: {why}")))
}

/// Whether `dir` holds a sled database (its `conf` and `db` files).
fn holds_sled(dir: &Path) -> bool {
    dir.join("conf").is_file() && dir.join("db").is_file()
}

/// Fsyncs a directory, so the names created in it survive a power cut.
fn sync_dir(dir: Option<&Path>) -> std::io::Result<()> {
    std::fs::File::open(dir.unwrap_or(Path::new(".")))?.sync_all()
}

fn storage(dir: &Path, e: impl std::fmt::Display) -> DbError {
    DbError::Storage {
        path: dir.join(FILE),
        message: e.to_string(),
    }
}

/// A read transaction: every table as it was when it began.
pub(crate) struct Snapshot {
    txn: redb::ReadTransaction,
    dir: PathBuf,
}

impl Snapshot {
    /// One table of the snapshot.
    pub(crate) fn table(&self, t: Table) -> Result<View, DbError> {
        match self.txn.open_table(t) {
            Ok(table) => Ok(View {
                table: Some(table),
                dir: self.dir.clone(),
            }),
            // Opened read-only before any writer made it: it is empty.
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(View {
                table: None,
                dir: self.dir.clone(),
            }),
            Err(e) => Err(storage(&self.dir, e)),
        }
    }
}

/// A key and its value, copied out of the database.
pub(crate) type Pair = (Vec<u8>, Vec<u8>);

/// One table of a [`Snapshot`]. Holds the snapshot open while it lives.
pub(crate) struct View {
    table: Option<redb::ReadOnlyTable<Bytes, Bytes>>,
    dir: PathBuf,
}

impl View {
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, DbError> {
        let Some(t) = &self.table else {
            return Ok(None);
        };
        Ok(t.get(key)
            .map_err(|e| self.err(e))?
            .map(|v| v.value().to_vec()))
    }

    pub(crate) fn contains(&self, key: &[u8]) -> Result<bool, DbError> {
        Ok(self.get(key)?.is_some())
    }

    /// The pairs whose keys are in `range`, in key order.
    pub(crate) fn range<'k>(
        &self,
        range: impl RangeBounds<&'k [u8]>,
    ) -> Result<impl Iterator<Item = Result<Pair, DbError>> + '_, DbError> {
        let iter = match &self.table {
            Some(t) => Some(t.range(range).map_err(|e| self.err(e))?),
            None => None,
        };
        Ok(iter.into_iter().flatten().map(|kv| {
            let (k, v) = kv.map_err(|e| self.err(e))?;
            Ok((k.value().to_vec(), v.value().to_vec()))
        }))
    }

    /// Every pair, in key order.
    pub(crate) fn iter(&self) -> Result<impl Iterator<Item = Result<Pair, DbError>> + '_, DbError> {
        self.range(..)
    }

    /// The pair with the greatest key.
    pub(crate) fn last(&self) -> Result<Option<Pair>, DbError> {
        let Some(t) = &self.table else {
            return Ok(None);
        };
        Ok(t.last()
            .map_err(|e| self.err(e))?
            .map(|(k, v)| (k.value().to_vec(), v.value().to_vec())))
    }

    pub(crate) fn len(&self) -> Result<u64, DbError> {
        match &self.table {
            Some(t) => t.len().map_err(|e| self.err(e)),
            None => Ok(0),
        }
    }

    pub(crate) fn is_empty(&self) -> Result<bool, DbError> {
        Ok(self.len()? == 0)
    }

    fn err(&self, e: impl std::fmt::Display) -> DbError {
        storage(&self.dir, e)
    }
}

/// The tables of one write transaction, each opened once.
pub(crate) struct Writer<'a> {
    txn: &'a redb::WriteTransaction,
    open: Vec<(Table, redb::Table<'a, Bytes, Bytes>)>,
    dir: &'a Path,
}

impl<'a> Writer<'a> {
    fn table(&mut self, t: Table) -> Result<&mut redb::Table<'a, Bytes, Bytes>, DbError> {
        use redb::TableHandle;
        let at = match self.open.iter().position(|(n, _)| n.name() == t.name()) {
            Some(at) => at,
            None => {
                let table = self.txn.open_table(t).map_err(|e| storage(self.dir, e))?;
                self.open.push((t, table));
                self.open.len() - 1
            }
        };
        Ok(&mut self.open[at].1)
    }

    pub(crate) fn insert(&mut self, t: Table, key: &[u8], value: &[u8]) -> Result<(), DbError> {
        let dir = self.dir;
        self.table(t)?
            .insert(key, value)
            .map_err(|e| storage(dir, e))?;
        Ok(())
    }

    /// A value as this transaction sees it (its own writes included).
    pub(crate) fn get(&mut self, t: Table, key: &[u8]) -> Result<Option<Vec<u8>>, DbError> {
        let dir = self.dir;
        Ok(self
            .table(t)?
            .get(key)
            .map_err(|e| storage(dir, e))?
            .map(|v| v.value().to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Table = table("t");

    #[test]
    fn writes_are_read_back_in_key_order_and_survive_a_reopen() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("new").join("nested");
        {
            let db = Db::open(&dir, &[T]).unwrap();
            db.write(Durability::Durable, |w| {
                w.insert(T, b"b", b"2")?;
                w.insert(T, b"a", b"1")?;
                assert_eq!(w.get(T, b"a")?, Some(b"1".to_vec()));
                Ok::<_, DbError>(())
            })
            .unwrap();
            db.write(Durability::Deferred, |w| w.insert(T, b"c", b"3"))
                .unwrap();
            db.flush().unwrap();
        }
        let db = Db::open(&dir, &[T]).unwrap();
        let v = db.read().unwrap().table(T).unwrap();
        let all: Vec<Pair> = v.iter().unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(all[0], (b"a".to_vec(), b"1".to_vec()));
        assert_eq!(all.len(), 3);
        assert_eq!(v.last().unwrap().unwrap().0, b"c");
        let from_b: Vec<Pair> = v
            .range(&b"b"[..]..)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(from_b.len(), 2);
    }

    #[test]
    fn a_failed_transaction_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let db = Db::open(d.path(), &[T]).unwrap();
        let r: Result<(), DbError> = db.write(Durability::Durable, |w| {
            w.insert(T, b"a", b"1")?;
            Err(DbError::InUse(PathBuf::from("x")))
        });
        assert!(r.is_err());
        assert!(db.read().unwrap().table(T).unwrap().is_empty().unwrap());
    }

    #[test]
    fn a_second_writer_is_refused_by_name() {
        let d = tempfile::tempdir().unwrap();
        let _first = Db::open(d.path(), &[T]).unwrap();
        let err = Db::open(d.path(), &[T]).unwrap_err();
        assert!(matches!(err, DbError::InUse(_)), "{err}");
    }

    #[test]
    fn a_new_database_appears_whole_under_its_name_and_leaves_nothing_beside_it() {
        let d = tempfile::tempdir().unwrap();
        // What a creation killed half-way leaves: a partial file under the temporary name.
        let stale = d.path().join(format!("{FILE}.new-{}", std::process::id()));
        std::fs::write(&stale, b"half a header").unwrap();
        drop(Db::open(d.path(), &[T]).unwrap());
        let names: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [FILE]);
        let db = Db::open(d.path(), &[T]).unwrap();
        assert!(db.read().unwrap().table(T).unwrap().is_empty().unwrap());
    }

    #[test]
    fn a_sled_directory_is_named_as_the_old_format() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("conf"), "").unwrap();
        std::fs::write(d.path().join("db"), "").unwrap();
        let err = Db::open(d.path(), &[T]).unwrap_err().to_string();
        assert!(err.contains("sled database"), "{err}");
        assert!(!d.path().join(FILE).exists());
    }
}
