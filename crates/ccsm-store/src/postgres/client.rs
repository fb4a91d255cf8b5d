//! A pooled connection that keeps its prepared statements. The `postgres`
//! crate prepares a statement given as text on every call (parse, describe,
//! then bind and execute, then close: three round trips and a parse on the
//! server). Here a statement seen for the first time on a connection is sent
//! with its parameters' types in one round trip (a command of the CLI runs
//! most of its statements once), and one seen again is prepared and kept:
//! from then on one round trip without a parse. (Search plans each
//! execution for its values: it sets `plan_cache_mode` in its transaction.)

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use postgres::types::{ToSql, Type};
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
    stmts: Stmts,
    used: Instant,
}

/// The statements a connection has prepared, and those it has run once.
#[derive(Default)]
pub(super) struct Stmts {
    prepared: HashMap<String, Statement>,
    seen: HashSet<String>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Client;
    type Error = postgres::Error;

    fn connect(&self) -> PgResult<Client> {
        Ok(Client {
            pg: self.config.connect(NoTls)?,
            stmts: Stmts::default(),
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

/// How a statement goes to the server.
enum Way<'p> {
    /// Prepared on this connection (now or before).
    Prepared(Statement),
    /// Once, unnamed, with its parameters' types: one round trip.
    Once(Vec<(&'p (dyn ToSql + Sync), Type)>),
}

/// The types a parameter is tried as, in this order: what the values ccsm
/// passes encode as (a value the server wants as another type is converted
/// by the server, as from a literal; the first use of every statement is
/// sent this way, and the tests run them all).
const GUESSES: &[Type] = &[
    Type::TEXT,
    Type::INT8,
    Type::INT4,
    Type::INT2,
    Type::FLOAT8,
    Type::FLOAT4,
    Type::BOOL,
    Type::BYTEA,
    Type::TEXT_ARRAY,
    Type::INT8_ARRAY,
    Type::INT4_ARRAY,
    Type::FLOAT8_ARRAY,
    Type::BOOL_ARRAY,
];

/// Each parameter with the type its value encodes as (`None`: a value none
/// of [`GUESSES`] takes; the statement is then prepared).
fn typed<'p>(params: Params<'p>) -> Option<Vec<(&'p (dyn ToSql + Sync), Type)>> {
    let mut scratch = bytes::BytesMut::new();
    params
        .iter()
        .map(|p| {
            GUESSES
                .iter()
                .find(|t| {
                    scratch.clear();
                    p.to_sql_checked(t, &mut scratch).is_ok()
                })
                .map(|t| (*p, t.clone()))
        })
        .collect()
}

/// How `sql` goes: prepared if it was, or if this is its second use on the
/// connection; else once, typed.
fn way<'p>(
    c: &mut impl GenericClient,
    stmts: &mut Stmts,
    sql: &str,
    params: Params<'p>,
) -> PgResult<Way<'p>> {
    if let Some(s) = stmts.prepared.get(sql) {
        return Ok(Way::Prepared(s.clone()));
    }
    if !stmts.seen.contains(sql) {
        if let Some(t) = typed(params) {
            if stmts.seen.len() >= MAX_STATEMENTS {
                stmts.seen.clear();
            }
            stmts.seen.insert(sql.to_owned());
            return Ok(Way::Once(t));
        }
    }
    let s = c.prepare(sql)?;
    if stmts.prepared.len() >= MAX_STATEMENTS {
        stmts.prepared.clear();
    }
    stmts.prepared.insert(sql.to_owned(), s.clone());
    Ok(Way::Prepared(s))
}

/// Statements by their text, through the connection's cache: what the
/// `postgres` crate's clients offer, under the same names.
pub(super) trait Sql {
    type C: GenericClient;
    fn parts(&mut self) -> (&mut Self::C, &mut Stmts);

    fn execute(&mut self, sql: &str, params: Params<'_>) -> PgResult<u64> {
        let (c, m) = self.parts();
        match way(c, m, sql, params)? {
            Way::Prepared(s) => c.execute(&s, params),
            Way::Once(t) => c.execute_typed(sql, &t),
        }
    }
    fn query(&mut self, sql: &str, params: Params<'_>) -> PgResult<Vec<Row>> {
        let (c, m) = self.parts();
        match way(c, m, sql, params)? {
            Way::Prepared(s) => c.query(&s, params),
            Way::Once(t) => c.query_typed(sql, &t),
        }
    }
    fn query_opt(&mut self, sql: &str, params: Params<'_>) -> PgResult<Option<Row>> {
        let (c, m) = self.parts();
        match way(c, m, sql, params)? {
            Way::Prepared(s) => c.query_opt(&s, params),
            Way::Once(t) => c.query_typed_opt(sql, &t),
        }
    }
    fn query_one(&mut self, sql: &str, params: Params<'_>) -> PgResult<Row> {
        let (c, m) = self.parts();
        match way(c, m, sql, params)? {
            Way::Prepared(s) => c.query_one(&s, params),
            Way::Once(t) => c.query_typed_one(sql, &t),
        }
    }
    /// Statements without parameters, as one simple query (not cached).
    fn batch_execute(&mut self, sql: &str) -> PgResult<()> {
        self.parts().0.batch_execute(sql)
    }
}

impl Sql for Client {
    type C = postgres::Client;
    fn parts(&mut self) -> (&mut postgres::Client, &mut Stmts) {
        (&mut self.pg, &mut self.stmts)
    }
}

/// A transaction on a [`Client`], using its statements: begun together with
/// its first settings (one round trip), rolled back when dropped uncommitted.
pub(super) struct Tx<'a> {
    pg: &'a mut postgres::Client,
    stmts: &'a mut Stmts,
    open: bool,
    /// Planner settings were changed in it (`SET LOCAL enable_*`): what
    /// runs next with the planner's own choice resets them first.
    pub(super) forced: bool,
}

impl Sql for Tx<'_> {
    type C = postgres::Client;
    fn parts(&mut self) -> (&mut postgres::Client, &mut Stmts) {
        (self.pg, self.stmts)
    }
}

impl Tx<'_> {
    pub(super) fn commit(mut self) -> PgResult<()> {
        self.open = false;
        self.pg.batch_execute("COMMIT")
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            // (A connection that broke is dropped by the pool.)
            let _ = self.pg.batch_execute("ROLLBACK");
        }
    }
}

impl Client {
    pub(super) fn is_closed(&self) -> bool {
        self.pg.is_closed()
    }

    /// A transaction, begun with `first` (settings, a lock) in the same round trip.
    pub(super) fn begin(&mut self, first: &str) -> PgResult<Tx<'_>> {
        Ok(self.begin_reading(first, "")?.0)
    }

    /// A transaction begun with `first`, and `read` (a statement without
    /// parameters; none if empty) run in it, all in one round trip: the
    /// first column of its first row, as text.
    fn begin_reading(&mut self, first: &str, read: &str) -> PgResult<(Tx<'_>, Option<String>)> {
        let mut sql = "BEGIN".to_owned();
        for part in [first, read] {
            if !part.is_empty() {
                sql.push_str("; ");
                sql.push_str(part);
            }
        }
        let got = if read.is_empty() {
            self.pg.batch_execute(&sql).map(|()| None)
        } else {
            self.pg.simple_query(&sql).map(|msgs| {
                msgs.iter().find_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
                    _ => None,
                })
            })
        };
        let got = match got {
            Ok(g) => g,
            Err(e) => {
                // A failed `first` leaves the transaction open: closed here.
                let _ = self.pg.batch_execute("ROLLBACK");
                return Err(e);
            }
        };
        let tx = Tx {
            pg: &mut self.pg,
            stmts: &mut self.stmts,
            open: true,
            forced: false,
        };
        Ok((tx, got))
    }

    pub(super) fn transaction(&mut self) -> PgResult<Tx<'_>> {
        self.begin("")
    }

    /// A read-only transaction that sees one snapshot throughout, begun with
    /// `first` (settings) and `read` run in it, in one round trip (see
    /// [`Client::begin_reading`]).
    pub(super) fn snapshot_reading(
        &mut self,
        first: &str,
        read: &str,
    ) -> PgResult<(Tx<'_>, Option<String>)> {
        self.begin_reading(
            &format!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; {first}"),
            read,
        )
    }
}
