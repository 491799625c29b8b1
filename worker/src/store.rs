//! Durable storage of one cart in its Durable Object's SQLite database.
//!
//! A compacted snapshot (`Cart::save`) plus the incremental changes saved since (`Cart::save_incremental`), each a
//! row. Writes append one small row; when the increments outgrow the snapshot (as automerge-repo does) they are
//! folded into a new snapshot, so storage stays proportional to the document and write cost stays flat.
//! Statements issued without an intervening `await` commit together, so a compaction is atomic.
//!
//! Beside the document, a long-lived cart keeps a read model: its current [`cart_core::CartView`] as JSON in the
//! `meta` row `view`, rewritten by every write in the same transaction as the change it describes. A cold object
//! answers a read from it without loading the document, whose load cost grows with the number of changes (each
//! is rebuilt and hashed by Automerge): about 100 ms in the object for 10,000 edits against under 1 ms for the row.

use worker::{SqlStorage, SqlStorageValue};

use crate::error::{ApiError, ApiResult};

/// Largest value written to one row: far below the 2 MB row limit.
const CHUNK: usize = 512 * 1024;
/// Increments below this size are never compacted: a new cart's few changes are cheaper to keep as they are.
const MIN_COMPACT_BYTES: usize = 16 * 1024;
/// Once the stored document reaches this size, writes keep the read model (and keep it from then on). Below it,
/// loading the document costs about as much as reading the row would.
pub const READ_MODEL_BYTES: usize = 16 * 1024;
/// The meta key of the read model.
pub const VIEW_KEY: &str = "view";
/// The meta key of the last change row the read model describes (0 after a compaction emptied the table). Written in
/// the read model's statement; a cold read checks it against the table, so a write that failed between its two
/// statements (change appended, read model not) cannot leave a stale read model in use.
pub const VIEW_SEQ_KEY: &str = "viewSeq";

/// Sizes of what is stored, for the dev storage route and tests.
#[cfg(feature = "dev")]
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageStats {
    pub snapshot_bytes: usize,
    pub change_rows: usize,
    pub change_bytes: usize,
    /// Size of the read model row (0 when the cart keeps none).
    pub view_bytes: usize,
    /// Whether the read model covers every stored change (what a cold read checks before using it).
    pub view_current: bool,
    pub database_bytes: usize,
    /// SHA-256 of every row of every table, in order: equal digests, equal storage (fault-injection tests).
    pub digest: String,
}

pub struct Store {
    sql: SqlStorage,
    snapshot_len: usize,
    changes_len: usize,
    /// Whether the tables exist. They are created by the first write, never by a read: a cart that is only ever
    /// read leaves no storage behind.
    tables: std::cell::Cell<bool>,
    /// Whether the idempotency table exists (carts stored before it was added lack it until their next write).
    idempotency: std::cell::Cell<bool>,
    /// Whether the checkouts table exists (likewise).
    checkouts: std::cell::Cell<bool>,
    /// The sequence number of the last change row this store appended (SQLite's own, from `RETURNING`), so the
    /// read model's row needs no query for it. A store whose transaction rolled back is dropped with its cart.
    appended_seq: std::cell::Cell<Option<i64>>,
}

/// One stored answer to a write sent with an `Idempotency-Key`.
pub struct Idempotent {
    /// What the request was (method, route and body, hashed by the front worker): a key reused for another
    /// request is refused.
    pub fingerprint: String,
    pub status: u16,
    /// The answer's JSON body.
    pub body: String,
}

/// How long, and how many, idempotency keys a cart keeps.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 3600 * 1000;
pub const IDEMPOTENCY_MAX_KEYS: i64 = 200;

/// The tables, created by the first write.
const TABLES: [&str; 5] = [
    "CREATE TABLE IF NOT EXISTS snapshot (idx INTEGER PRIMARY KEY, data BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)",
    "CREATE TABLE IF NOT EXISTS checkouts (key TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, snapshot TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL, at INTEGER NOT NULL)",
];

/// A numeric cell as an integer (the runtime may hand integers over as floats).
pub fn integer(value: Option<SqlStorageValue>) -> Option<i64> {
    match value {
        Some(SqlStorageValue::Integer(n)) => Some(n),
        Some(SqlStorageValue::Float(n)) => Some(n as i64),
        _ => None,
    }
}

fn db(context: &str, err: worker::Error) -> ApiError {
    ApiError::internal(context, err)
}

impl Store {
    /// Opens the store; reads only, creates nothing (see [`Store::writable`]).
    pub fn open(sql: SqlStorage) -> ApiResult<Self> {
        let store = Store {
            sql,
            snapshot_len: 0,
            changes_len: 0,
            tables: std::cell::Cell::new(false),
            idempotency: std::cell::Cell::new(false),
            checkouts: std::cell::Cell::new(false),
            appended_seq: std::cell::Cell::new(None),
        };
        // Tables added by later releases (checkouts, idempotency) are missing from carts last written before them;
        // they are created by the next write. The cart is there when its document tables are.
        let found = store.number(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('snapshot', 'changes', 'meta')",
        )?;
        store.tables.set(found == 3);
        if found == 3 {
            let later = store.number(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('checkouts', 'idempotency')",
            )?;
            // Both or neither in practice (checkouts came first, and every write since creates both).
            store.idempotency.set(later == 2);
            store.checkouts.set(later >= 1);
        }
        Ok(store)
    }

    /// Every statement goes through here (so the dev build's fault injection can fail the Nth one).
    fn exec(
        &self,
        query: &str,
        bindings: impl Into<Option<Vec<SqlStorageValue>>>,
    ) -> worker::Result<worker::SqlCursor> {
        #[cfg(feature = "dev")]
        if fault::fires() {
            return Err(worker::Error::RustError(format!(
                "injected storage failure at: {query}"
            )));
        }
        self.sql.exec(query, bindings)
    }

    /// Creates the tables before the first write.
    fn writable(&self) -> ApiResult<()> {
        if !self.tables.get() || !self.idempotency.get() || !self.checkouts.get() {
            for table in TABLES {
                self.exec(table, None).map_err(|e| db("create tables", e))?;
            }
            self.tables.set(true);
            self.idempotency.set(true);
            self.checkouts.set(true);
        }
        Ok(())
    }

    /// The stored answer under idempotency `key`, if it is younger than a day.
    pub fn idempotent(&self, key: &str, now: i64) -> ApiResult<Option<Idempotent>> {
        if !self.idempotency.get() {
            return Ok(None);
        }
        let cursor = self
            .exec(
                "SELECT fingerprint, status, body FROM idempotency WHERE key = ? AND at > ?",
                vec![
                    key.into(),
                    SqlStorageValue::Integer(now - IDEMPOTENCY_TTL_MS),
                ],
            )
            .map_err(|e| db("read idempotency key", e))?;
        let Some(row) = cursor.raw().next() else {
            return Ok(None);
        };
        let mut row = row.map_err(|e| db("read idempotency key", e))?.into_iter();
        match (row.next(), integer(row.next()), row.next()) {
            (
                Some(SqlStorageValue::String(fingerprint)),
                Some(status),
                Some(SqlStorageValue::String(body)),
            ) => Ok(Some(Idempotent {
                fingerprint,
                status: u16::try_from(status).unwrap_or(200),
                body,
            })),
            _ => Ok(None),
        }
    }

    /// Stores the answer under idempotency `key`, dropping keys older than a day and beyond the newest
    /// [`IDEMPOTENCY_MAX_KEYS`].
    pub fn put_idempotent(&self, key: &str, answer: &Idempotent, now: i64) -> ApiResult<()> {
        self.writable()?;
        self.exec(
            "INSERT OR REPLACE INTO idempotency (key, fingerprint, status, body, at) VALUES (?, ?, ?, ?, ?)",
            vec![
                key.into(),
                answer.fingerprint.as_str().into(),
                SqlStorageValue::Integer(i64::from(answer.status)),
                answer.body.as_str().into(),
                SqlStorageValue::Integer(now),
            ],
        )
        .map_err(|e| db("store idempotency key", e))?;
        self.exec(
            "DELETE FROM idempotency WHERE at <= ? OR key NOT IN (SELECT key FROM idempotency ORDER BY at DESC LIMIT ?)",
            vec![
                SqlStorageValue::Integer(now - IDEMPOTENCY_TTL_MS),
                SqlStorageValue::Integer(IDEMPOTENCY_MAX_KEYS),
            ],
        )
        .map_err(|e| db("expire idempotency keys", e))?;
        Ok(())
    }

    /// Reads the snapshot followed by every increment: bytes `Cart::load` accepts. Empty for a cart never written.
    pub fn load(&mut self) -> ApiResult<Vec<u8>> {
        if !self.tables.get() {
            return Ok(Vec::new());
        }
        let snapshot = self.blobs("SELECT data FROM snapshot ORDER BY idx")?;
        let changes = self.blobs("SELECT data FROM changes ORDER BY seq")?;
        self.snapshot_len = snapshot.len();
        self.changes_len = changes.len();
        let mut bytes = snapshot;
        bytes.extend(changes);
        Ok(bytes)
    }

    /// Appends the bytes of one incremental save.
    pub fn append(&mut self, bytes: &[u8]) -> ApiResult<()> {
        self.writable()?;
        for chunk in bytes.chunks(CHUNK) {
            let cursor = self
                .exec(
                    "INSERT INTO changes (data) VALUES (?) RETURNING seq",
                    vec![SqlStorageValue::Blob(chunk.to_vec())],
                )
                .map_err(|e| db("append change", e))?;
            let seq = match cursor.raw().next() {
                Some(row) => integer(row.map_err(|e| db("append change", e))?.into_iter().next()),
                None => None,
            };
            self.appended_seq.set(seq);
        }
        self.changes_len += bytes.len();
        Ok(())
    }

    /// The largest sequence number a change row ever had, 0 when there was none. Change rows are `AUTOINCREMENT`:
    /// numbers are never reused, even after a compaction deletes the rows.
    pub fn last_change_seq(&self) -> ApiResult<i64> {
        match self.appended_seq.get() {
            Some(seq) => Ok(seq),
            None => self.stored_seq(),
        }
    }

    /// [`Store::last_change_seq`] as SQLite keeps it, read now.
    fn stored_seq(&self) -> ApiResult<i64> {
        if !self.tables.get() {
            return Ok(0);
        }
        // AUTOINCREMENT's own counter: it never goes back, not even when a compaction deletes every change row.
        self.number("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)")
    }

    /// The last change row the read model covers, if there is a read model.
    pub fn view_seq(&self) -> ApiResult<Option<i64>> {
        Ok(integer(self.meta(VIEW_SEQ_KEY)?))
    }

    /// Bytes of the stored document: snapshot plus increments.
    pub fn document_bytes(&self) -> usize {
        self.snapshot_len + self.changes_len
    }

    /// Whether the increments have outgrown the snapshot.
    pub fn wants_compaction(&self) -> bool {
        self.changes_len >= self.snapshot_len.max(MIN_COMPACT_BYTES)
    }

    /// Replaces snapshot and increments with one new snapshot.
    pub fn compact(&mut self, snapshot: &[u8]) -> ApiResult<()> {
        self.writable()?;
        self.exec("DELETE FROM snapshot", None)
            .map_err(|e| db("compact", e))?;
        for (i, chunk) in snapshot.chunks(CHUNK).enumerate() {
            self.exec(
                "INSERT INTO snapshot (idx, data) VALUES (?, ?)",
                vec![
                    SqlStorageValue::Integer(i as i64),
                    SqlStorageValue::Blob(chunk.to_vec()),
                ],
            )
            .map_err(|e| db("compact", e))?;
        }
        self.exec("DELETE FROM changes", None)
            .map_err(|e| db("compact", e))?;
        self.snapshot_len = snapshot.len();
        self.changes_len = 0;
        Ok(())
    }

    pub fn meta(&self, key: &str) -> ApiResult<Option<SqlStorageValue>> {
        if !self.tables.get() {
            return Ok(None);
        }
        let cursor = self
            .exec(
                "SELECT value FROM meta WHERE key = ?",
                vec![SqlStorageValue::from(key)],
            )
            .map_err(|e| db("read meta", e))?;
        match cursor.raw().next() {
            Some(row) => Ok(row.map_err(|e| db("read meta", e))?.into_iter().next()),
            None => Ok(None),
        }
    }

    #[cfg(feature = "dev")]
    pub fn set_meta(&self, key: &str, value: SqlStorageValue) -> ApiResult<()> {
        self.set_metas(vec![(key, value)])
    }

    /// Writes several meta rows in one statement.
    pub fn set_metas(&self, rows: Vec<(&str, SqlStorageValue)>) -> ApiResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.writable()?;
        let mut query = String::from("INSERT INTO meta (key, value) VALUES (?, ?)");
        for _ in 1..rows.len() {
            query.push_str(", (?, ?)");
        }
        query.push_str(" ON CONFLICT(key) DO UPDATE SET value = excluded.value");
        let params: Vec<SqlStorageValue> = rows
            .into_iter()
            .flat_map(|(key, value)| [SqlStorageValue::from(key), value])
            .collect();
        self.exec(&query, params).map_err(|e| db("write meta", e))?;
        Ok(())
    }

    /// The checkout snapshot stored under idempotency `key`, as JSON text.
    pub fn checkout_by_key(&self, key: &str) -> ApiResult<Option<String>> {
        self.text("SELECT snapshot FROM checkouts WHERE key = ?", key)
    }

    /// The checkout snapshot with `id`, as JSON text.
    pub fn checkout_by_id(&self, id: &str) -> ApiResult<Option<String>> {
        self.text("SELECT snapshot FROM checkouts WHERE id = ?", id)
    }

    pub fn insert_checkout(&self, key: &str, id: &str, snapshot: &str) -> ApiResult<()> {
        self.writable()?;
        self.exec(
            "INSERT INTO checkouts (key, id, snapshot) VALUES (?, ?, ?)",
            vec![key.into(), id.into(), snapshot.into()],
        )
        .map_err(|e| db("store checkout", e))?;
        Ok(())
    }

    fn text(&self, query: &str, param: &str) -> ApiResult<Option<String>> {
        // Only the checkouts table is read this way.
        if !self.checkouts.get() {
            return Ok(None);
        }
        let cursor = self
            .exec(query, vec![SqlStorageValue::from(param)])
            .map_err(|e| db("read text", e))?;
        match cursor.raw().next() {
            Some(row) => match row.map_err(|e| db("read text", e))?.into_iter().next() {
                Some(SqlStorageValue::String(text)) => Ok(Some(text)),
                _ => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// What [`StorageStats`] says of this store (dev builds only).
    #[cfg(feature = "dev")]
    pub fn stats(&self) -> ApiResult<StorageStats> {
        Ok(StorageStats {
            snapshot_bytes: self.snapshot_len,
            change_rows: if self.tables.get() {
                self.number("SELECT COUNT(*) FROM changes")? as usize
            } else {
                0
            },
            change_bytes: self.changes_len,
            view_bytes: match self.meta(VIEW_KEY)? {
                Some(SqlStorageValue::String(json)) => json.len(),
                _ => 0,
            },
            // SQLite's counter, not the one this store remembers: the check covers what the read model was told.
            view_current: self.view_seq()? == Some(self.stored_seq()?),
            database_bytes: self.sql.database_size(),
            digest: self.digest()?,
        })
    }

    /// See [`StorageStats::digest`].
    #[cfg(feature = "dev")]
    fn digest(&self) -> ApiResult<String> {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        if self.tables.get() {
            for query in [
                "SELECT idx, data FROM snapshot ORDER BY idx",
                "SELECT seq, data FROM changes ORDER BY seq",
                "SELECT key, value FROM meta ORDER BY key",
                "SELECT key, id, snapshot FROM checkouts ORDER BY key",
                "SELECT key, fingerprint, status, body, at FROM idempotency ORDER BY key",
                "SELECT name, seq FROM sqlite_sequence ORDER BY name",
            ] {
                if (query.contains("idempotency") && !self.idempotency.get())
                    || (query.contains("checkouts") && !self.checkouts.get())
                {
                    continue;
                }
                hash.update(query.as_bytes());
                let cursor = self.exec(query, None).map_err(|e| db("digest", e))?;
                for row in cursor.raw() {
                    for value in row.map_err(|e| db("digest", e))? {
                        hash.update(format!("{value:?}").as_bytes());
                    }
                }
            }
        }
        Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The single number `query` answers (0 for no row).
    fn number(&self, query: &str) -> ApiResult<i64> {
        let cursor = self.exec(query, None).map_err(|e| db(query, e))?;
        match cursor.raw().next() {
            Some(row) => {
                Ok(integer(row.map_err(|e| db(query, e))?.into_iter().next()).unwrap_or(0))
            }
            None => Ok(0),
        }
    }

    fn blobs(&self, query: &str) -> ApiResult<Vec<u8>> {
        let cursor = self.exec(query, None).map_err(|e| db("read blobs", e))?;
        let mut out = Vec::new();
        for row in cursor.raw() {
            match row.map_err(|e| db("read blobs", e))?.into_iter().next() {
                Some(SqlStorageValue::Blob(bytes)) => out.extend(bytes),
                other => {
                    return Err(ApiError::internal(
                        "read blobs",
                        format!("unexpected value {other:?}"),
                    ))
                }
            }
        }
        Ok(out)
    }
}

/// Fault injection (dev builds only): the Nth storage statement from now of one object fails (the object arms it
/// for each command it runs and takes back what is left after it).
#[cfg(feature = "dev")]
pub mod fault {
    use std::cell::Cell;

    thread_local! {
        /// Statements left before the one that fails, for the command running now.
        static LEFT: Cell<Option<u32>> = const { Cell::new(None) };
    }

    /// Arms the failure for the command about to run (`None`: no failure).
    pub fn arm(nth: Option<u32>) {
        LEFT.with(|left| left.set(nth));
    }

    /// Disarms, answering how many statements were left (`None` once the failure fired).
    pub fn left() -> Option<u32> {
        LEFT.with(|left| left.take())
    }

    /// Counts one statement; whether it is the one that fails.
    pub fn fires() -> bool {
        LEFT.with(|left| match left.get() {
            Some(1) => {
                left.set(None);
                true
            }
            Some(n) => {
                left.set(Some(n - 1));
                false
            }
            None => false,
        })
    }
}
