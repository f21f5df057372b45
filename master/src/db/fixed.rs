//! Statements of fixed text whose values are all bound, prepared once per connection.
//!
//! diesel prepares an UPDATE, an upsert, an `IN (…)` list or `sql_query` text afresh on every
//! execution, since it cannot tell their text is fixed; SQLite spends some 50 000 instructions
//! parsing one such statement, PostgreSQL a parse and a plan. A [`Fixed`] statement names its
//! text by a type, so diesel's statement cache keeps it by that type: parsed once per
//! connection, then only bound and run.

use std::marker::PhantomData;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, RunQueryDsl};

/// The text of one fixed statement for each backend, a `?` where each [`Bind`] goes, in order
/// (diesel writes the backend's own placeholder there: `?` for SQLite, `$n` for PostgreSQL).
pub trait FixedSql: 'static {
    /// The SQLite text.
    const SQLITE: &'static str;
    /// The PostgreSQL text.
    const POSTGRES: &'static str;
    /// The SQLite text cut at its placeholders (cut once).
    fn sqlite_pieces() -> &'static [&'static str];
    /// The PostgreSQL text cut at its placeholders (cut once).
    fn postgres_pieces() -> &'static [&'static str];
}

/// Declares a unit type naming a [`FixedSql`] statement.
macro_rules! fixed_sql {
    ($(#[$doc:meta])* $name:ident, sqlite: $sqlite:expr, postgres: $postgres:expr $(,)?) => {
        $(#[$doc])*
        pub struct $name;

        impl $crate::db::fixed::FixedSql for $name {
            const SQLITE: &'static str = $sqlite;
            const POSTGRES: &'static str = $postgres;

            fn sqlite_pieces() -> &'static [&'static str] {
                static PIECES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
                PIECES.get_or_init(|| $sqlite.split('?').collect())
            }

            fn postgres_pieces() -> &'static [&'static str] {
                static PIECES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
                PIECES.get_or_init(|| $postgres.split('?').collect())
            }
        }
    };
}
pub(crate) use fixed_sql;

/// One bound value.
#[derive(Debug, Clone)]
pub enum Bind<'a> {
    /// `BIGINT`.
    BigInt(i64),
    /// `INTEGER`.
    Integer(i32),
    /// `TEXT`.
    Text(&'a str),
    /// `TEXT`, or NULL.
    NullableText(Option<&'a str>),
    /// `BIGINT`, or NULL.
    NullableBigInt(Option<i64>),
    /// `BIGINT[]` (PostgreSQL only).
    BigInts(Vec<i64>),
    /// `INTEGER[]` (PostgreSQL only).
    Integers(Vec<i32>),
    /// `TEXT[]` (PostgreSQL only).
    Texts(Vec<&'a str>),
    /// `TEXT[]` with NULLs (PostgreSQL only).
    NullableTexts(Vec<Option<&'a str>>),
    /// `BIGINT[]` with NULLs (PostgreSQL only).
    NullableBigInts(Vec<Option<i64>>),
}

/// A statement of text `S` with its values.
pub struct Fixed<'a, S> {
    binds: Vec<Bind<'a>>,
    statement: PhantomData<S>,
}

impl<'a, S: FixedSql> Fixed<'a, S> {
    /// Statement `S` with `binds`, in placeholder order.
    pub fn new(binds: Vec<Bind<'a>>) -> Self {
        Self {
            binds,
            statement: PhantomData,
        }
    }
}

impl<S: FixedSql> QueryId for Fixed<'_, S> {
    type QueryId = S;
    const HAS_STATIC_QUERY_ID: bool = true;
}

fn postgres_only() -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError("array values are bound on PostgreSQL only".into())
}

fn miscounted() -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(
        "a fixed statement got a different number of values than it has placeholders".into(),
    )
}

/// Writes the statement cut into `pieces` with the next of `binds` (pushed by `push`) between
/// each two.
fn walk<'b, DB: diesel::backend::Backend>(
    pieces: &'static [&'static str],
    binds: &'b [Bind<'_>],
    out: &mut AstPass<'_, 'b, DB>,
    push: impl Fn(&'b Bind<'_>, &mut AstPass<'_, 'b, DB>) -> QueryResult<()>,
) -> QueryResult<()> {
    let Some((first, rest)) = pieces.split_first() else {
        return Err(miscounted());
    };
    if rest.len() != binds.len() {
        return Err(miscounted());
    }
    out.push_sql(first);
    for (bind, piece) in binds.iter().zip(rest) {
        push(bind, out)?;
        out.push_sql(piece);
    }
    Ok(())
}

impl<S: FixedSql> QueryFragment<Sqlite> for Fixed<'_, S> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        walk(
            S::sqlite_pieces(),
            &self.binds,
            &mut out,
            |bind, out| match bind {
                Bind::BigInt(v) => out.push_bind_param::<BigInt, _>(v),
                Bind::Integer(v) => out.push_bind_param::<Integer, _>(v),
                Bind::Text(v) => out.push_bind_param::<Text, _>(v),
                Bind::NullableText(v) => out.push_bind_param::<Nullable<Text>, _>(v),
                Bind::NullableBigInt(v) => out.push_bind_param::<Nullable<BigInt>, _>(v),
                Bind::BigInts(_)
                | Bind::Integers(_)
                | Bind::Texts(_)
                | Bind::NullableTexts(_)
                | Bind::NullableBigInts(_) => Err(postgres_only()),
            },
        )
    }
}

impl<S: FixedSql> QueryFragment<Pg> for Fixed<'_, S> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        walk(
            S::postgres_pieces(),
            &self.binds,
            &mut out,
            |bind, out| match bind {
                Bind::BigInt(v) => out.push_bind_param::<BigInt, _>(v),
                Bind::Integer(v) => out.push_bind_param::<Integer, _>(v),
                Bind::Text(v) => out.push_bind_param::<Text, _>(v),
                Bind::NullableText(v) => out.push_bind_param::<Nullable<Text>, _>(v),
                Bind::BigInts(v) => out.push_bind_param::<Array<BigInt>, _>(v),
                Bind::Integers(v) => out.push_bind_param::<Array<Integer>, _>(v),
                Bind::Texts(v) => out.push_bind_param::<Array<Text>, _>(v),
                Bind::NullableTexts(v) => out.push_bind_param::<Array<Nullable<Text>>, _>(v),
                Bind::NullableBigInt(v) => out.push_bind_param::<Nullable<BigInt>, _>(v),
                Bind::NullableBigInts(v) => out.push_bind_param::<Array<Nullable<BigInt>>, _>(v),
            },
        )
    }
}

impl<Conn, S> RunQueryDsl<Conn> for Fixed<'_, S> {}

#[cfg(test)]
mod tests {
    use super::*;

    fixed_sql!(
        /// A statement for the tests.
        Example,
        sqlite: "UPDATE t SET a = ? WHERE b = ?",
        postgres: "UPDATE t SET a = v.a FROM unnest(?::bigint[], ?::text[]) AS v(a, b) WHERE t.b = v.b",
    );

    #[test]
    fn each_placeholder_gets_the_backends_own_marker() {
        let sqlite = Fixed::<Example>::new(vec![Bind::BigInt(1), Bind::Text("x")]);
        let sql = diesel::debug_query::<Sqlite, _>(&sqlite).to_string();
        assert!(sql.starts_with("UPDATE t SET a = ? WHERE b = ?"), "{sql}");
        let pg = Fixed::<Example>::new(vec![Bind::BigInts(vec![1]), Bind::Texts(vec!["x"])]);
        let sql = diesel::debug_query::<Pg, _>(&pg).to_string();
        assert!(
            sql.starts_with("UPDATE t SET a = v.a FROM unnest($1::bigint[], $2::text[])"),
            "{sql}"
        );
    }

    #[test]
    fn a_statement_with_too_few_or_too_many_values_is_refused() {
        let few = Fixed::<Example>::new(vec![Bind::BigInt(1)]);
        let many = Fixed::<Example>::new(vec![Bind::BigInt(1), Bind::Text("x"), Bind::BigInt(2)]);
        for query in [few, many] {
            let mut builder = diesel::sqlite::SqliteQueryBuilder::new();
            let result = QueryFragment::<Sqlite>::to_sql(&query, &mut builder, &Sqlite);
            assert!(result.is_err());
        }
        let arrays = Fixed::<Example>::new(vec![Bind::BigInts(vec![1]), Bind::Texts(vec![])]);
        let mut builder = diesel::sqlite::SqliteQueryBuilder::new();
        assert!(QueryFragment::<Sqlite>::to_sql(&arrays, &mut builder, &Sqlite).is_err());
    }
}
