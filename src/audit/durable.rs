//! A sled database whose `flush` really reaches the disk.
//!
//! Why this exists: sled 0.34.7's `Db::flush` ends, on Linux, in `sync_file_range(2)`
//! (`pagecache/iobuf.rs`), which writes the data pages of its file but syncs neither the file's
//! metadata (its size, so an append can be lost) nor the disk's cache; only its background
//! flusher calls `sync_all`, every 500 ms. sled never fsyncs a directory either: not the
//! database directory when it is created, not after renaming a snapshot into place, and not the
//! files it writes under `blobs/` for large values, which are not fsynced at all. After a power
//! cut a database can therefore lose appends the exchange had acknowledged, or vanish whole.
//! `make powercut` (`examples/powercut/`) cuts power under load on a filesystem that drops every
//! write not made durable (`tools/lazyfs`) and checks what survived; this module is what it
//! needed.
//!
//! [`DurableDb::flush`] therefore runs sled's flush and then fsyncs, in this order: the blob files
//! written since the last flush and their directory, the data file, the database directory. At
//! open it fsyncs the directory, its parent (so a new database has a name that survives) and
//! sled's `conf` file. Both the disclosure log and the store open their databases here.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A sled database and the files that make its flushes durable. Derefs to [`sled::Db`];
/// [`DurableDb::flush`] shadows sled's own.
pub(crate) struct DurableDb {
    db: sled::Db,
    dir: PathBuf,
    dir_file: File,
    data_file: File,
    /// Blob files already fsynced (sled never rewrites one: a new value gets a new file).
    blobs_synced: Mutex<HashSet<OsString>>,
}

impl Deref for DurableDb {
    type Target = sled::Db;

    fn deref(&self) -> &sled::Db {
        &self.db
    }
}

impl DurableDb {
    /// Wraps a database sled has opened in `dir`, and makes its existence durable.
    pub(crate) fn new(db: sled::Db, dir: &Path) -> io::Result<DurableDb> {
        let dir_file = File::open(dir)?;
        let data_file = File::open(dir.join("db"))?;
        if let Ok(conf) = File::open(dir.join("conf")) {
            conf.sync_all()?;
        }
        data_file.sync_all()?;
        dir_file.sync_all()?;
        let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
        File::open(parent.unwrap_or(Path::new(".")))?.sync_all()?;
        let d = DurableDb {
            db,
            dir: dir.to_owned(),
            dir_file,
            data_file,
            blobs_synced: Mutex::new(HashSet::new()),
        };
        d.sync_blobs()?;
        Ok(d)
    }

    /// sled's flush, then the fsyncs that make it durable (module docs).
    pub(crate) fn flush(&self) -> sled::Result<usize> {
        let n = self.db.flush()?;
        self.sync_blobs()?;
        self.data_file.sync_data()?;
        self.dir_file.sync_all()?;
        Ok(n)
    }

    /// Fsyncs every blob file not fsynced before, then the blob directory if any was new.
    fn sync_blobs(&self) -> io::Result<()> {
        let blobs = self.dir.join("blobs");
        let entries = match std::fs::read_dir(&blobs) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut synced = self.blobs_synced.lock().unwrap_or_else(|p| p.into_inner());
        let mut present = HashSet::new();
        let mut new = false;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            present.insert(name.clone());
            if synced.contains(&name) {
                continue;
            }
            match File::open(entry.path()) {
                Ok(f) => f.sync_all()?,
                // sled removed it meanwhile (a value rewritten or deleted): nothing to keep.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
            synced.insert(name);
            new = true;
        }
        // Forget the ones sled removed, so the set stays as small as the directory.
        synced.retain(|n| present.contains(n));
        if new {
            File::open(&blobs)?.sync_all()?;
        }
        Ok(())
    }
}
