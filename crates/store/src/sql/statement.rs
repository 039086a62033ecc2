//! SQL built piece by piece (filters, lists of uuids, rows of an INSERT) with its values,
//! placeholders numbered in order. sqlx's `QueryBuilder` ties its arguments' lifetime to a
//! borrow of itself, which code generic over the backend cannot meet; a [`Statement`]
//! keeps the values until [`Statement::query`] binds them the way every other query here
//! is bound.

use sqlx::query::Query;
use sqlx::{Database, Encode, Type};
use std::fmt::{Display, Write};

/// A value bound to a statement: to a [`Statement`], or one cell of a batch of rows that a
/// [`Backend`](super::Backend) inserts (and that reads as JSON where a batch is joined as
/// a table).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Bound {
    /// An integer or NULL.
    Int(Option<i64>),
    /// A text or NULL.
    Text(Option<String>),
    /// A boolean.
    Bool(bool),
}

impl From<i64> for Bound {
    fn from(v: i64) -> Self {
        Bound::Int(Some(v))
    }
}
impl From<&i64> for Bound {
    fn from(v: &i64) -> Self {
        Bound::Int(Some(*v))
    }
}
impl From<Option<i64>> for Bound {
    fn from(v: Option<i64>) -> Self {
        Bound::Int(v)
    }
}
impl From<String> for Bound {
    fn from(v: String) -> Self {
        Bound::Text(Some(v))
    }
}
impl From<&String> for Bound {
    fn from(v: &String) -> Self {
        Bound::Text(Some(v.clone()))
    }
}
impl From<&str> for Bound {
    fn from(v: &str) -> Self {
        Bound::Text(Some(v.to_owned()))
    }
}
impl From<Option<String>> for Bound {
    fn from(v: Option<String>) -> Self {
        Bound::Text(v)
    }
}
impl From<&Option<String>> for Bound {
    fn from(v: &Option<String>) -> Self {
        Bound::Text(v.clone())
    }
}
impl From<bool> for Bound {
    fn from(v: bool) -> Self {
        Bound::Bool(v)
    }
}

/// SQL text and the values of its placeholders `$1`, `$2`, ... in order.
#[derive(Debug, Default)]
pub(super) struct Statement {
    sql: String,
    binds: Vec<Bound>,
}

impl Statement {
    /// A statement starting with this text.
    pub(super) fn new(sql: impl Into<String>) -> Self {
        Statement {
            sql: sql.into(),
            binds: Vec::new(),
        }
    }

    /// Appends SQL text.
    pub(super) fn push(&mut self, sql: impl Display) -> &mut Self {
        let _ = write!(self.sql, "{sql}");
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(super) fn push_bind(&mut self, value: impl Into<Bound>) -> &mut Self {
        self.binds.push(value.into());
        let _ = write!(self.sql, "${}", self.binds.len());
        self
    }

    /// Appends one placeholder per value, separated by commas.
    pub(super) fn push_list<V: Into<Bound>>(
        &mut self,
        values: impl IntoIterator<Item = V>,
    ) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push_bind(v);
        }
        self
    }

    /// The query, with every value bound.
    pub(super) fn query<B>(&self) -> Query<'_, B, B::Arguments<'_>>
    where
        B: Database,
        for<'q> i64: Encode<'q, B> + Type<B>,
        for<'q> bool: Encode<'q, B> + Type<B>,
        for<'q> String: Encode<'q, B> + Type<B>,
        for<'q> Option<i64>: Encode<'q, B>,
        for<'q> Option<String>: Encode<'q, B>,
    {
        let mut q = sqlx::query(&self.sql);
        for b in &self.binds {
            q = match b.clone() {
                Bound::Int(v) => q.bind(v),
                Bound::Text(v) => q.bind(v),
                Bound::Bool(v) => q.bind(v),
            };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_the_order_values_are_bound() {
        let mut s = Statement::new("SELECT 1 FROM t WHERE a = ");
        s.push_bind(7i64)
            .push(" AND b IN (")
            .push_list(["x", "y"])
            .push(")");
        assert_eq!(s.sql, "SELECT 1 FROM t WHERE a = $1 AND b IN ($2, $3)");
        assert_eq!(
            s.binds,
            vec![
                Bound::Int(Some(7)),
                Bound::Text(Some("x".into())),
                Bound::Text(Some("y".into()))
            ]
        );
    }
}
