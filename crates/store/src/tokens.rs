//! API tokens: the bearer credentials a user makes for scripts and SIEM pulls, kept as
//! SHA-256 hashes with their scope, expiry and last use.

use crate::error::StoreResult;
use crate::records::Actor;
use async_trait::async_trait;
use pushdetect_model::account_api::TokenScope;

/// A stored API token (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Its id, as listings and revocations name it.
    pub id: i64,
    /// The account of its user.
    pub account_id: i64,
    /// The user it acts for.
    pub user_id: i64,
    /// That user's login name.
    pub username: String,
    /// What it is for, unique among the user's tokens.
    pub name: String,
    /// What it may do.
    pub scope: TokenScope,
    /// When it was made, ms.
    pub created_at_ms: i64,
    /// When it stops working, ms; none: when revoked.
    pub expires_at_ms: Option<i64>,
    /// When it was last used, ms (recorded at most once a minute).
    pub last_used_ms: Option<i64>,
}

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewApiToken<'a> {
    /// The user it acts for (of `account_id`).
    pub user_id: i64,
    /// Their account.
    pub account_id: i64,
    /// What it is for.
    pub name: &'a str,
    /// The token's SHA-256, hex.
    pub token_hash: &'a str,
    /// What it may do.
    pub scope: TokenScope,
    /// When it stops working, ms.
    pub expires_at_ms: Option<i64>,
    /// Now, ms.
    pub now_ms: i64,
}

/// The storage of API tokens.
#[async_trait]
pub trait ApiTokens {
    /// Stores a token (audited as `token.created`). A name the user already gave another
    /// token is a Conflict; an unknown user is NotFound.
    async fn create_api_token(&self, new: &NewApiToken<'_>, actor: &Actor)
        -> StoreResult<ApiToken>;
    /// The tokens of an account (or every account), of one user or all, oldest first.
    async fn list_api_tokens(
        &self,
        account_id: Option<i64>,
        user_id: Option<i64>,
    ) -> StoreResult<Vec<ApiToken>>;
    /// Removes a token (audited as `token.revoked`); NotFound if there is none.
    async fn revoke_api_token(&self, id: i64, actor: &Actor) -> StoreResult<()>;
    /// The token with this hash if it works at `now_ms`: not expired, its user and account
    /// enabled.
    async fn find_api_token(&self, token_hash: &str, now_ms: i64) -> StoreResult<Option<ApiToken>>;
    /// Records a use of the token.
    async fn touch_api_token(&self, id: i64, now_ms: i64) -> StoreResult<()>;
}
