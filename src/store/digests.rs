//! The redelivery check: which bodies each destination already has.
//!
//! A delivery whose body is already in the log for its destination is a
//! redelivery. The writer decides that itself, before it commits, from an
//! in-memory map of every logged (destination, body SHA-256), loaded from
//! the log when it starts. A UNIQUE index on the same pair would decide it
//! too, but a digest is random, so every new row would land on a random
//! page of that index and cost the acknowledging commit one more 4 KiB page
//! written and synced per delivery (measured in `docs/BENCHMARKS.md`). The
//! map costs about 30 bytes of memory per logged event instead; on disk,
//! the only index it needs is ordered by sequence and grows at its end.
//!
//! The map holds 64 bits of each pair; a hit is confirmed against the
//! stored row, so two bodies that share those bits are still told apart.
//! It is exact only while one writer appends to the log, which
//! [`WriterLock`] guarantees.

use std::{
    collections::HashMap,
    fs::{File, OpenOptions, TryLockError},
    hash::{BuildHasherDefault, Hasher},
    path::{Path, PathBuf},
};

use futures_util::TryStreamExt;
use sqlx::SqliteConnection;

/// Logged events by a 64-bit key of (destination, body digest).
#[derive(Debug, Default)]
pub struct Digests {
    seqs: HashMap<u64, i64, BuildHasherDefault<KeyHasher>>,
}

impl Digests {
    /// Reads every logged event's digest, through the sequence-ordered
    /// index `events_digests` (a fraction of the log's size).
    pub async fn load(conn: &mut SqliteConnection) -> sqlx::Result<Self> {
        let mut digests = Self::default();
        let mut rows = sqlx::query_as::<_, (i64, i64, Vec<u8>)>(
            "SELECT seq, destination_id, body_sha256 FROM events INDEXED BY events_digests",
        )
        .fetch(conn);
        while let Some((seq, destination_id, digest)) = rows.try_next().await? {
            digests.insert(destination_id, &digest, seq);
        }
        Ok(digests)
    }

    /// How many logged events the map knows.
    pub fn len(&self) -> usize {
        self.seqs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }

    /// Records a committed event. A key already taken keeps its first
    /// event; the other is then found by [`Digests::find`]'s search.
    pub fn insert(&mut self, destination_id: i64, digest: &[u8], seq: i64) {
        self.seqs.entry(key(destination_id, digest)).or_insert(seq);
    }

    /// The logged event with this destination and body digest, if any.
    pub async fn find(
        &self,
        conn: &mut SqliteConnection,
        destination_id: i64,
        digest: &[u8; 32],
    ) -> sqlx::Result<Option<i64>> {
        let Some(&seq) = self.seqs.get(&key(destination_id, digest)) else {
            return Ok(None);
        };
        let stored: (i64, Vec<u8>) =
            sqlx::query_as("SELECT destination_id, body_sha256 FROM events WHERE seq = ?")
                .bind(seq)
                .fetch_one(&mut *conn)
                .await?;
        if stored == (destination_id, digest.to_vec()) {
            return Ok(Some(seq));
        }
        // Two different bodies share the key's 64 bits: about once in 10^13
        // events for a log of a million. Then the log itself is searched.
        sqlx::query_scalar("SELECT seq FROM events WHERE destination_id = ? AND body_sha256 = ?")
            .bind(destination_id)
            .bind(&digest[..])
            .fetch_optional(&mut *conn)
            .await
    }
}

/// The first 64 bits of the digest (already uniformly random), mixed with
/// the destination so the same body sent to two destinations gets two keys.
fn key(destination_id: i64, digest: &[u8]) -> u64 {
    let mut head = [0u8; 8];
    let n = digest.len().min(8);
    head[..n].copy_from_slice(&digest[..n]);
    u64::from_le_bytes(head) ^ (destination_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Keys are random already: hashing them again would only cost time.
#[derive(Debug, Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Proof that this process is the only one appending to a database: an
/// exclusive lock on a file beside it, held as long as the value lives and
/// released by the operating system if the process dies.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
}

/// Another process already writes to the database.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another whats91-ops server is already writing to this database \
         (it holds {0}); stop it first"
    )]
    Taken(PathBuf),
    #[error("cannot lock {0}")]
    Io(PathBuf, #[source] std::io::Error),
}

impl WriterLock {
    pub fn acquire(database: &Path) -> Result<Self, LockError> {
        let mut path = database.as_os_str().to_owned();
        path.push(".writer-lock");
        let path = PathBuf::from(path);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|error| LockError::Io(path.clone(), error))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(LockError::Taken(path)),
            Err(TryLockError::Error(error)) => Err(LockError::Io(path, error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_body_for_two_destinations_gets_two_keys() {
        let digest = [7u8; 32];
        assert_ne!(key(1, &digest), key(2, &digest));
        assert_eq!(key(1, &digest), key(1, &digest));
    }

    #[test]
    fn a_key_taken_keeps_its_first_event() {
        let mut digests = Digests::default();
        digests.insert(1, &[9u8; 32], 10);
        digests.insert(1, &[9u8; 32], 11);
        assert_eq!(digests.len(), 1);
        assert_eq!(digests.seqs.get(&key(1, &[9u8; 32])), Some(&10));
    }

    #[test]
    fn a_second_writer_on_the_same_database_is_refused_until_the_first_stops() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("log.db");
        let first = WriterLock::acquire(&database).unwrap();
        let second = WriterLock::acquire(&database).unwrap_err();
        assert!(matches!(second, LockError::Taken(_)), "{second:?}");
        drop(first);
        WriterLock::acquire(&database).unwrap();
    }
}
