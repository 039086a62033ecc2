//! Forwarding on both backends: deliveries written with the events (and incident changes)
//! their destinations' filters send, one node at a time holding a destination, a retried
//! delivery holding back the ones after it, dead letters and re-sends, and accounts that
//! never see each other's destinations.

use super::backends::{Backend, TestDb};
use super::{about, op, tenant};
use pushdetect_model::forwarding::{Filter, IncidentChange};
use pushdetect_model::workflow::{Change, Resolution, Status};
use pushdetect_model::EventKind;
use pushdetect_store::forwarding::{Carried, Delivery, NewDestination};
use pushdetect_store::{AuditAction, AuditFilter, Dedup, Inserted, Store, StoreError};
use serde_json::json;

fn destination(account_id: i64, name: &str, filter: &Filter) -> NewDestination {
    NewDestination {
        account_id,
        name: name.into(),
        target: "tcp://siem.example:514".into(),
        format: "cef".into(),
        filter: filter.to_json(),
        options: json!({}),
        secret: Some("s3cret".into()),
        dead_after_secs: 3600,
        created_at_ms: 0,
    }
}

async fn pending(store: &dyn Store, destination: i64) -> Vec<(String, Option<i64>, Option<i64>)> {
    store
        .pending_deliveries(destination, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.change, d.event_id, d.incident_id))
        .collect()
}

pub async fn deliveries_are_written_with_the_events_and_incident_changes_their_filters_send(
    backend: Backend,
) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let t = tenant(store, "a").await;
    let other = tenant(store, "b").await;
    let all = store
        .create_destination(&destination(t.0, "all", &Filter::all_events()), &op())
        .await
        .unwrap();
    assert!(all.has_secret);
    assert_eq!(all.filter, Filter::all_events().to_json());
    let strong = Filter {
        types: vec![EventKind::Ioc],
        min_impact: Some(50),
        incidents: IncidentChange::ALL.to_vec(),
        ..Filter::all_events()
    };
    let strong = store
        .create_destination(&destination(t.0, "strong", &strong), &op())
        .await
        .unwrap();
    let theirs = store
        .create_destination(&destination(other.0, "all", &Filter::all_events()), &op())
        .await
        .unwrap();
    let taken = store
        .create_destination(&destination(t.0, "all", &Filter::all_events()), &op())
        .await
        .unwrap_err();
    assert!(matches!(taken, StoreError::Conflict(_)), "{taken}");

    // A weak event goes to `all` only, and its incident is too weak for `strong`; a
    // strong one goes to both and opens an incident that `strong` hears of; a resent push
    // adds nothing.
    let weak = store
        .insert_event(&about(t, &["h1"], 1_000, Some(10)), None)
        .await
        .unwrap();
    let dedup = Dedup {
        fingerprint: "f1".into(),
        since_ms: 0,
        keep_until_ms: i64::MAX,
    };
    let hot = store
        .insert_event(&about(t, &["h2"], 2_000, Some(80)), Some(&dedup))
        .await
        .unwrap();
    let again = store
        .insert_event(&about(t, &["h2"], 2_000, Some(80)), Some(&dedup))
        .await
        .unwrap();
    assert_eq!(again, Inserted::Duplicate(id_of(hot)));
    // The weak host's incident rises: an impact_raised change.
    store
        .insert_event(&about(t, &["h1"], 3_000, Some(60)), None)
        .await
        .unwrap();
    store
        .insert_event(&about(other, &["h1"], 1_000, Some(90)), None)
        .await
        .unwrap();
    let all_sent = pending(store, all.id).await;
    assert_eq!(all_sent.len(), 3);
    assert!(all_sent
        .iter()
        .all(|(c, e, i)| c == "event" && e.is_some() && i.is_none()));
    assert_eq!(all_sent[0].1, Some(id_of(weak)));
    let strong_sent = pending(store, strong.id).await;
    let kinds: Vec<&str> = strong_sent.iter().map(|(c, _, _)| c.as_str()).collect();
    assert_eq!(
        kinds,
        ["event", "new", "event", "impact_raised"],
        "{strong_sent:?}"
    );
    assert_eq!(strong_sent[0].1, Some(id_of(hot)));
    assert_eq!(pending(store, theirs.id).await.len(), 1);

    // An analyst closing the raised incident is a status change; a disabled destination
    // gets nothing new.
    let incident = strong_sent[3].2.unwrap();
    store
        .set_destination_disabled(t.0, all.id, true, &op())
        .await
        .unwrap();
    let close = Change {
        status: Some(Status::Closed),
        resolution: Some(Resolution::Benign),
        ..Change::default()
    };
    store
        .update_incident(t.0, incident, &close, &op(), 4_000)
        .await
        .unwrap();
    store
        .insert_event(&about(t, &["h9"], 5_000, Some(99)), None)
        .await
        .unwrap();
    assert_eq!(pending(store, all.id).await.len(), 3);
    let last = pending(store, strong.id).await;
    assert_eq!(last[4], ("status_changed".into(), None, Some(incident)));
    assert_eq!(
        last.len(),
        7,
        "and the new event and its incident: {last:?}"
    );

    // What deliveries carry, read for sending.
    let deliveries = store.pending_deliveries(strong.id, 100).await.unwrap();
    let carried = store.carried(&deliveries).await.unwrap();
    assert!(
        matches!(&carried[3], Carried::Incident(i) if i.id == incident && i.impact == Some(60))
    );
    assert!(matches!(&carried[0], Carried::Event(e) if e.id == id_of(hot) && e.impact == Some(80)));

    // Each account sees its own destinations; changes are audited.
    let names: Vec<String> = store
        .list_destinations(t.0)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["all", "strong"]);
    assert!(store
        .find_destination(other.0, "strong")
        .await
        .unwrap()
        .is_none());
    let foreign = store
        .set_destination_disabled(other.0, all.id, true, &op())
        .await
        .unwrap_err();
    assert!(matches!(foreign, StoreError::NotFound(_)), "{foreign}");
    let audit = store
        .list_audit(&AuditFilter {
            account_id: Some(t.0),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let actions: Vec<AuditAction> = audit.iter().map(|a| a.action).collect();
    assert!(actions.contains(&AuditAction::DestinationCreated));
    assert!(actions.contains(&AuditAction::DestinationDisabled));
    assert!(
        !audit
            .iter()
            .any(|a| format!("{:?}", a.new_value).contains("s3cret")),
        "the secret is never recorded"
    );
}

fn id_of(inserted: Inserted) -> i64 {
    match inserted {
        Inserted::New(id) | Inserted::Duplicate(id) => id,
    }
}

fn ids(list: &[Delivery]) -> Vec<i64> {
    list.iter().map(|d| d.id).collect()
}

pub async fn one_node_holds_a_destination_and_a_retried_delivery_holds_back_the_rest(
    backend: Backend,
) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let t = tenant(store, "a").await;
    let other = tenant(store, "b").await;
    let d = store
        .create_destination(&destination(t.0, "siem", &Filter::all_events()), &op())
        .await
        .unwrap();
    // Nothing to send: nothing leased.
    assert!(store
        .lease_destinations("n1", 10, 1_000, 8)
        .await
        .unwrap()
        .is_empty());
    for at in [1, 2, 3] {
        store
            .insert_event(&about(t, &["h"], at, Some(5)), None)
            .await
            .unwrap();
    }
    let leased = store.lease_destinations("n1", 10, 1_000, 8).await.unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].destination.id, d.id);
    assert_eq!(leased[0].secret.as_deref(), Some("s3cret"));
    assert!(store
        .lease_destinations("n2", 20, 1_000, 8)
        .await
        .unwrap()
        .is_empty());
    // The holder renews; another node takes over once the lease has expired.
    assert_eq!(
        store
            .lease_destinations("n1", 30, 2_000, 8)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store
        .lease_destinations("n2", 1_999, 3_000, 8)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .lease_destinations("n2", 2_001, 3_000, 8)
            .await
            .unwrap()
            .len(),
        1
    );
    store.release_destination("n1", d.id).await.unwrap();
    assert!(
        store
            .lease_destinations("n1", 2_002, 4_000, 8)
            .await
            .unwrap()
            .is_empty(),
        "n1 no longer holds it"
    );
    store.release_destination("n2", d.id).await.unwrap();

    // The first delivery fails: the destination is not due until it is.
    let list = store.pending_deliveries(d.id, 2).await.unwrap();
    assert_eq!(list.len(), 2, "limited");
    store
        .retry_delivery(list[0].id, 10_000, "connection refused")
        .await
        .unwrap();
    assert!(store
        .lease_destinations("n1", 9_999, 20_000, 8)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .lease_destinations("n1", 10_000, 20_000, 8)
            .await
            .unwrap()
            .len(),
        1
    );
    let head = &store.pending_deliveries(d.id, 1).await.unwrap()[0];
    assert_eq!((head.attempts, head.next_attempt_ms), (1, 10_000));
    assert_eq!(head.last_error.as_deref(), Some("connection refused"));

    // Sent ones go; a dead letter stays aside, and is sent again (first) when asked.
    let all = store.pending_deliveries(d.id, 100).await.unwrap();
    store.delivered(&[all[1].id]).await.unwrap();
    store
        .dead_letter(&[all[0].id], 11_000, "HTTP 400")
        .await
        .unwrap();
    assert_eq!(
        ids(&store.pending_deliveries(d.id, 100).await.unwrap()),
        [all[2].id]
    );
    let dead = store.dead_letters(t.0, d.id, 10).await.unwrap();
    assert_eq!(ids(&dead), [all[0].id]);
    assert_eq!((dead[0].dead_at_ms, dead[0].attempts), (Some(11_000), 2));
    assert!(store
        .dead_letters(other.0, d.id, 10)
        .await
        .unwrap()
        .is_empty());
    let foreign = store
        .resend(other.0, d.id, &[], 12_000, &op())
        .await
        .unwrap_err();
    assert!(matches!(foreign, StoreError::NotFound(_)), "{foreign}");
    let depth = store.outbox_depths(None).await.unwrap();
    assert_eq!(
        (depth[0].pending, depth[0].dead, depth[0].oldest_pending_ms),
        (1, 1, Some(3))
    );
    assert_eq!(store.outbox_depths(Some(t.0)).await.unwrap(), depth);
    assert!(store.outbox_depths(Some(other.0)).await.unwrap().is_empty());
    assert_eq!(
        store.resend(t.0, d.id, &[], 12_000, &op()).await.unwrap(),
        1
    );
    assert_eq!(
        store.resend(t.0, d.id, &[], 12_000, &op()).await.unwrap(),
        0,
        "nothing dead"
    );
    let again = store.pending_deliveries(d.id, 100).await.unwrap();
    assert_eq!(ids(&again), [all[0].id, all[2].id]);
    assert_eq!(
        (
            again[0].attempts,
            again[0].retry_since_ms,
            again[0].last_error.clone()
        ),
        (0, 12_000, None)
    );

    // Removing the destination removes its outbox.
    store.remove_destination(t.0, d.id, &op()).await.unwrap();
    assert!(store
        .pending_deliveries(d.id, 100)
        .await
        .unwrap()
        .is_empty());
    assert!(store.outbox_depths(None).await.unwrap().is_empty());
    let gone = store
        .remove_destination(t.0, d.id, &op())
        .await
        .unwrap_err();
    assert!(matches!(gone, StoreError::NotFound(_)), "{gone}");
}
