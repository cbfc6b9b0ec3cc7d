//! Database access: one connection type over SQLite and PostgreSQL, a pool,
//! embedded migrations, write transactions and the SQLite group commit.

mod connection;
mod deadline;
mod group_commit;
mod pool;
pub mod schema;
mod transaction;

pub use self::connection::{
    mask_password, ConnectionLimits, ConnectionManager, DatabaseUrl, DbConnection, DbError,
};
pub use self::pool::{run_migrations, Db, DbOptions, DbPool, OpenError, PoolStats, PooledConn};
pub use self::transaction::write_transaction;
