//! [`ApiTokens`] on both backends.

use super::{Backend, SqlStore};
use crate::error::{conflict_as, StoreError, StoreResult};
use crate::records::{Actor, AuditAction, NewAudit};
use crate::tokens::{ApiToken, ApiTokens, NewApiToken};
use async_trait::async_trait;
use pushdetect_model::account_api::TokenScope;
use serde_json::json;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

/// The columns of [`ApiToken`], from `api_tokens t JOIN users u`.
const TOKEN_COLUMNS: &str = "t.id, t.account_id, t.user_id, u.username, t.name, t.scope, \
     t.created_at_ms, t.expires_at_ms, t.last_used_ms \
     FROM api_tokens t JOIN users u ON u.id = t.user_id";

impl<B: Backend> SqlStore<B>
where
    for<'r> &'r str: ColumnIndex<B::Row>,
    for<'q> i64: Decode<'q, B> + Type<B>,
    for<'q> String: Decode<'q, B> + Type<B>,
    for<'q> Option<i64>: Decode<'q, B>,
{
    fn api_token(row: &B::Row) -> StoreResult<ApiToken> {
        let scope: String = row.try_get("scope")?;
        Ok(ApiToken {
            id: row.try_get("id")?,
            account_id: row.try_get("account_id")?,
            user_id: row.try_get("user_id")?,
            username: row.try_get("username")?,
            name: row.try_get("name")?,
            scope: TokenScope::parse("scope", &scope)
                .map_err(|e| StoreError::Corrupt(format!("api token scope: {}", e.message)))?,
            created_at_ms: row.try_get("created_at_ms")?,
            expires_at_ms: row.try_get("expires_at_ms")?,
            last_used_ms: row.try_get("last_used_ms")?,
        })
    }
}

#[async_trait]
impl<B> ApiTokens for SqlStore<B>
where
    B: Backend,
    for<'c> &'c mut B::Connection: Executor<'c, Database = B>,
    for<'q> B::Arguments<'q>: IntoArguments<'q, B>,
    for<'r> &'r str: ColumnIndex<B::Row>,
    usize: ColumnIndex<B::Row>,
    for<'q> i64: Encode<'q, B> + Decode<'q, B> + Type<B>,
    for<'q> bool: Encode<'q, B> + Decode<'q, B> + Type<B>,
    for<'q> String: Encode<'q, B> + Decode<'q, B> + Type<B>,
    for<'q> &'q str: Encode<'q, B> + Type<B>,
    for<'q> Option<i64>: Encode<'q, B> + Decode<'q, B>,
    for<'q> Option<String>: Encode<'q, B>,
{
    async fn create_api_token(
        &self,
        new: &NewApiToken<'_>,
        actor: &Actor,
    ) -> StoreResult<ApiToken> {
        let mut tx = self.writer.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_tokens (account_id, user_id, name, token_hash, scope, \
             created_at_ms, expires_at_ms) \
             SELECT account_id, id, $1, $2, $3, $4, $5 FROM users WHERE id = $6 AND account_id = $7 \
             RETURNING id",
        )
        .bind(new.name)
        .bind(new.token_hash)
        .bind(new.scope.as_str())
        .bind(new.now_ms)
        .bind(new.expires_at_ms)
        .bind(new.user_id)
        .bind(new.account_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(conflict_as(format!("a token named '{}'", new.name)))?
        .ok_or_else(|| StoreError::NotFound(format!("user {}", new.user_id)))?;
        let token = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} WHERE t.id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from)
            .and_then(|row| Self::api_token(&row))?;
        let record = NewAudit::of(
            Some(token.account_id),
            AuditAction::TokenCreated,
            format!("token {id}"),
        )
        .after(json!({
            "user": token.username,
            "name": token.name,
            "scope": token.scope.as_str(),
            "expires_at_ms": token.expires_at_ms,
        }));
        Self::write_audit(&mut tx, actor, &record, new.now_ms).await?;
        tx.commit().await?;
        Ok(token)
    }

    async fn list_api_tokens(
        &self,
        account_id: Option<i64>,
        user_id: Option<i64>,
    ) -> StoreResult<Vec<ApiToken>> {
        sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} WHERE ($1 IS NULL OR t.account_id = $2) \
             AND ($3 IS NULL OR t.user_id = $4) ORDER BY t.id"
        ))
        .bind(account_id)
        .bind(account_id)
        .bind(user_id)
        .bind(user_id)
        .fetch_all(&self.writer)
        .await?
        .iter()
        .map(Self::api_token)
        .collect()
    }

    async fn revoke_api_token(&self, id: i64, actor: &Actor) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let token = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} WHERE t.id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(Self::api_token)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("token {id}")))?;
        sqlx::query("DELETE FROM api_tokens WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let record = NewAudit::of(
            Some(token.account_id),
            AuditAction::TokenRevoked,
            format!("token {id}"),
        )
        .change(
            json!({"user": token.username, "name": token.name}),
            json!(null),
        );
        Self::write_audit(
            &mut tx,
            actor,
            &record,
            chrono::Utc::now().timestamp_millis(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_api_token(&self, token_hash: &str, now_ms: i64) -> StoreResult<Option<ApiToken>> {
        // Read from the writer: a revocation answered OK applies to the next request.
        sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} JOIN accounts a ON a.id = t.account_id \
             WHERE t.token_hash = $1 AND (t.expires_at_ms IS NULL OR t.expires_at_ms > $2) \
             AND NOT u.disabled AND NOT a.disabled"
        ))
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.writer)
        .await?
        .as_ref()
        .map(Self::api_token)
        .transpose()
    }

    async fn touch_api_token(&self, id: i64, now_ms: i64) -> StoreResult<()> {
        sqlx::query("UPDATE api_tokens SET last_used_ms = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
