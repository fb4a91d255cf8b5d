//! A pooled connection that keeps its prepared statements. The `postgres`
//! crate prepares a statement given as text on every call (parse, describe,
//! then bind and execute, then close: three round trips and a parse on the
//! server); here a statement is prepared once per connection and then costs
//! one round trip. (Search plans each execution for its values: it sets
//! `plan_cache_mode` in its transaction.)

use std::collections::HashMap;
use std::time::{Duration, Instant};

use postgres::types::ToSql;
use postgres::{GenericClient, NoTls, Row, Statement};

/// How many statements a connection keeps (search builds its text from the
/// filters it is given: the cache is emptied when full rather than grown).
const MAX_STATEMENTS: usize = 256;

/// A connection unused for longer than this is checked before it is lent
/// (the server may have restarted meanwhile); one used just now is not.
const CHECK_AFTER: Duration = Duration::from_secs(1);

type PgResult<T> = std::result::Result<T, postgres::Error>;
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Opens connections for the pool.
pub(super) struct Manager {
    config: postgres::Config,
}

impl Manager {
    pub(super) fn new(config: postgres::Config) -> Self {
        Self { config }
    }
}

/// A connection and the statements prepared on it.
pub(super) struct Client {
    pg: postgres::Client,
    stmts: HashMap<String, Statement>,
    used: Instant,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Client;
    type Error = postgres::Error;

    fn connect(&self) -> PgResult<Client> {
        Ok(Client {
            pg: self.config.connect(NoTls)?,
            stmts: HashMap::new(),
            used: Instant::now(),
        })
    }

    fn is_valid(&self, c: &mut Client) -> PgResult<()> {
        if c.used.elapsed() > CHECK_AFTER {
            c.pg.simple_query("")?;
        }
        c.used = Instant::now();
        Ok(())
    }

    fn has_broken(&self, c: &mut Client) -> bool {
        c.pg.is_closed()
    }
}

/// The statement for `sql` on this connection, prepared the first time.
fn prepared(
    c: &mut impl GenericClient,
    stmts: &mut HashMap<String, Statement>,
    sql: &str,
) -> PgResult<Statement> {
    if let Some(s) = stmts.get(sql) {
        return Ok(s.clone());
    }
    let s = c.prepare(sql)?;
    if stmts.len() >= MAX_STATEMENTS {
        stmts.clear();
    }
    stmts.insert(sql.to_owned(), s.clone());
    Ok(s)
}

/// Statements by their text, through the connection's cache: what the
/// `postgres` crate's clients offer, under the same names.
pub(super) trait Sql {
    type C: GenericClient;
    fn parts(&mut self) -> (&mut Self::C, &mut HashMap<String, Statement>);

    fn execute(&mut self, sql: &str, params: Params<'_>) -> PgResult<u64> {
        let (c, m) = self.parts();
        let s = prepared(c, m, sql)?;
        c.execute(&s, params)
    }
    fn query(&mut self, sql: &str, params: Params<'_>) -> PgResult<Vec<Row>> {
        let (c, m) = self.parts();
        let s = prepared(c, m, sql)?;
        c.query(&s, params)
    }
    fn query_opt(&mut self, sql: &str, params: Params<'_>) -> PgResult<Option<Row>> {
        let (c, m) = self.parts();
        let s = prepared(c, m, sql)?;
        c.query_opt(&s, params)
    }
    fn query_one(&mut self, sql: &str, params: Params<'_>) -> PgResult<Row> {
        let (c, m) = self.parts();
        let s = prepared(c, m, sql)?;
        c.query_one(&s, params)
    }
    /// Statements without parameters, as one simple query (not cached).
    fn batch_execute(&mut self, sql: &str) -> PgResult<()> {
        self.parts().0.batch_execute(sql)
    }
}

impl Sql for Client {
    type C = postgres::Client;
    fn parts(&mut self) -> (&mut postgres::Client, &mut HashMap<String, Statement>) {
        (&mut self.pg, &mut self.stmts)
    }
}

/// A transaction on a [`Client`], using its statements.
pub(super) struct Tx<'a> {
    tx: postgres::Transaction<'a>,
    stmts: &'a mut HashMap<String, Statement>,
}

impl<'a> Sql for Tx<'a> {
    type C = postgres::Transaction<'a>;
    fn parts(
        &mut self,
    ) -> (
        &mut postgres::Transaction<'a>,
        &mut HashMap<String, Statement>,
    ) {
        (&mut self.tx, self.stmts)
    }
}

impl Tx<'_> {
    pub(super) fn commit(self) -> PgResult<()> {
        self.tx.commit()
    }
}

impl Client {
    pub(super) fn is_closed(&self) -> bool {
        self.pg.is_closed()
    }

    pub(super) fn transaction(&mut self) -> PgResult<Tx<'_>> {
        Ok(Tx {
            tx: self.pg.transaction()?,
            stmts: &mut self.stmts,
        })
    }

    /// A read-only transaction that sees one snapshot throughout.
    pub(super) fn snapshot(&mut self) -> PgResult<Tx<'_>> {
        Ok(Tx {
            tx: self
                .pg
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?,
            stmts: &mut self.stmts,
        })
    }
}
