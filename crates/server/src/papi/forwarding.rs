//! The read API's forwarding methods (`forwarding/destination/*`, `forwarding/delivery/*`):
//! admin users of the account only, every change audited. A destination's secret (a
//! webhook's signing key, a TLS client key) is answered once, by `create`, when it was
//! generated, and never again.

use super::caller::Caller;
use super::events::page_size;
use super::form::Form;
use super::reply::{Failure, Fmt, Reply};
use super::workflow::{actor, admin_only, now_ms};
use crate::client_addr::ClientAddr;
use crate::state::AppState;
use axum::extract::State;
use pushdetect_forward::probe;
use pushdetect_forward::setup::{delivery_json, destination_json, from_params, listed};
use pushdetect_model::forwarding_api::{
    DELIVERY_DEAD_LIST, DELIVERY_RESEND, DESTINATION_CREATE, DESTINATION_LIST, DESTINATION_REMOVE,
    DESTINATION_TEST, DESTINATION_UPDATE, MAX_RESEND_IDS,
};
use pushdetect_model::params::ParamReader;
use pushdetect_model::values::parse_bool;
use pushdetect_model::workflow_api::parse_ids;
use pushdetect_model::{ApiError, ErrorCode};
use pushdetect_store::forwarding::Destination;
use pushdetect_store::StoreError;
use serde_json::{json, Value};

/// The destination a `destination` parameter names, of the caller's account.
async fn named(
    app: &AppState,
    caller: &Caller,
    r: &ParamReader<'_>,
) -> Result<Destination, Failure> {
    let name = r.require("destination", "a destination name")?;
    app.store
        .find_destination(caller.account_id, name.trim())
        .await?
        .ok_or_else(|| {
            ApiError::invalid(
                "destination",
                &format!(
                    "the name of a destination of this account (there is no '{}')",
                    name.trim()
                ),
            )
            .into()
        })
}

/// Runs a forwarding call: the caller must be an admin user; its parameters are read by
/// `spec`.
macro_rules! handler {
    ($(#[$doc:meta])* $name:ident, $spec:expr, $body:expr) => {
        $(#[$doc])*
        pub async fn $name(
            State(app): State<AppState>,
            caller: Caller,
            address: ClientAddr,
            Fmt(format): Fmt,
            Form(params): Form,
        ) -> Reply {
            let result = async {
                let r = ParamReader::new(&$spec, &params)?;
                admin_only(
                    &app,
                    &caller,
                    "manage forwarding destinations (admin users only)",
                )
                .await?;
                $body(&app, &caller, address, &r).await
            }
            .await;
            Reply::new(format, result)
        }
    };
}

handler!(
    /// `POST /papi/forwarding/destination/create`.
    create, DESTINATION_CREATE, create_destination
);
handler!(
    /// `GET /papi/forwarding/destination/list`.
    list, DESTINATION_LIST, list_destinations
);
handler!(
    /// `POST /papi/forwarding/destination/update`.
    update, DESTINATION_UPDATE, update_destination
);
handler!(
    /// `POST /papi/forwarding/destination/remove`.
    remove, DESTINATION_REMOVE, remove_destination
);
handler!(
    /// `POST /papi/forwarding/destination/test`.
    test, DESTINATION_TEST, test_destination
);
handler!(
    /// `GET /papi/forwarding/delivery/dead_list`.
    dead_list, DELIVERY_DEAD_LIST, dead_letters
);
handler!(
    /// `POST /papi/forwarding/delivery/resend`.
    resend, DELIVERY_RESEND, resend_deliveries
);

async fn create_destination(
    app: &AppState,
    caller: &Caller,
    address: ClientAddr,
    r: &ParamReader<'_>,
) -> Result<Value, Failure> {
    let get = |name: &str| {
        r.get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let created = from_params(caller.account_id, &get, now_ms())?;
    let stored = app
        .store
        .create_destination(&created.new, &actor(caller, address))
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => Failure::Api(ApiError::invalid(
                "name",
                "a name no other destination of this account has",
            )),
            e => e.into(),
        })?;
    let mut out = destination_json(&stored, None);
    out["signing_key"] = json!(created.signing_key);
    Ok(out)
}

async fn list_destinations(
    app: &AppState,
    caller: &Caller,
    _address: ClientAddr,
    _r: &ParamReader<'_>,
) -> Result<Value, Failure> {
    let list: Vec<Value> = listed(app.store.as_ref(), caller.account_id)
        .await?
        .iter()
        .map(|(d, depth)| destination_json(d, depth.as_ref()))
        .collect();
    Ok(json!({"destinations": list}))
}

async fn update_destination(
    app: &AppState,
    caller: &Caller,
    address: ClientAddr,
    r: &ParamReader<'_>,
) -> Result<Value, Failure> {
    let disabled = r
        .parse_opt("disabled", parse_bool)?
        .ok_or_else(|| ApiError::missing("disabled", "True or False"))?;
    let d = named(app, caller, r).await?;
    app.store
        .set_destination_disabled(caller.account_id, d.id, disabled, &actor(caller, address))
        .await?;
    Ok(json!({"destination": d.name, "disabled": disabled}))
}

async fn remove_destination(
    app: &AppState,
    caller: &Caller,
    address: ClientAddr,
    r: &ParamReader<'_>,
) -> Result<Value, Failure> {
    let d = named(app, caller, r).await?;
    app.store
        .remove_destination(caller.account_id, d.id, &actor(caller, address))
        .await?;
    Ok(json!({"destination": d.name, "removed": true}))
}

async fn test_destination(
    app: &AppState,
    caller: &Caller,
    _address: ClientAddr,
    r: &ParamReader<'_>,
) -> Result<Value, Failure> {
    let d = named(app, caller, r).await?;
    let name = d.name.clone();
    probe::test_destination(app.store.as_ref(), d, &app.config.hostname)
        .await
        .map_err(|e| {
            ApiError::new(
                ErrorCode::NotPossible,
                format!("the test message to '{name}' was not delivered: {e}"),
            )
        })?;
    Ok(json!({"destination": name, "sent": true}))
}

async fn dead_letters(
    app: &AppState,
    caller: &Caller,
    _address: ClientAddr,
    r: &ParamReader<'_>,
) -> Result<Value, Failure> {
    let limit = page_size(r)?;
    let d = named(app, caller, r).await?;
    let dead = app
        .store
        .dead_letters(caller.account_id, d.id, limit)
        .await?;
    Ok(json!({
        "destination": d.name,
        "deliveries": dead.iter().map(delivery_json).collect::<Vec<_>>(),
    }))
}

async fn resend_deliveries(
    app: &AppState,
    caller: &Caller,
    address: ClientAddr,
    r: &ParamReader<'_>,
) -> Result<Value, Failure> {
    let ids = r
        .parse_opt("delivery_ids", |n, v| parse_ids(n, v, MAX_RESEND_IDS))?
        .unwrap_or_default();
    let d = named(app, caller, r).await?;
    let n = app
        .store
        .resend(
            caller.account_id,
            d.id,
            &ids,
            now_ms(),
            &actor(caller, address),
        )
        .await?;
    Ok(json!({"destination": d.name, "resent": n}))
}
