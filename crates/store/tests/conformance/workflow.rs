//! The incident workflow on both backends: status changes and their refusals, the reopen
//! rule, merge and split with their counts, comments, read marks, and the audit trail
//! each change writes, which nothing may change afterwards.

use super::backends::{Backend, TestDb};
use super::{about, insert, op, tenant};
use pushdetect_model::workflow::{Change, Note, Resolution, Role, Status, MAX_MERGE, MAX_SPLIT};
use pushdetect_model::ErrorCode;
use pushdetect_store::{
    Actor, AssigneeFilter, AuditAction, AuditFilter, CommentChange, Incident, IncidentFilter,
    Principal, Store, StoreError,
};

fn analyst(user: i64, name: &str) -> Actor {
    Actor {
        principal: Some(Principal::User(user)),
        label: name.into(),
        address: Some("192.0.2.7".into()),
    }
}

fn close(resolution: Resolution) -> Change {
    Change {
        status: Some(Status::Closed),
        resolution: Some(resolution),
        ..Change::default()
    }
}

fn refused_with(result: Result<impl std::fmt::Debug, StoreError>, code: ErrorCode) -> String {
    match result {
        Err(StoreError::Refused(e)) if e.code == code => e.message,
        other => panic!("expected a refusal with {code:?}, got {other:?}"),
    }
}

/// The account's listed incidents of a host (of its machine).
pub async fn open_incidents(store: &dyn Store, account: i64, host: &str) -> Vec<Incident> {
    store
        .list_incidents(
            account,
            &IncidentFilter {
                host: Some(host.into()),
                limit: 100,
                ..IncidentFilter::default()
            },
        )
        .await
        .unwrap()
}

async fn actions(store: &dyn Store, account: i64, incident: i64) -> Vec<AuditAction> {
    store
        .incident_history(account, incident)
        .await
        .unwrap()
        .iter()
        .map(|r| r.action)
        .collect()
}

pub async fn a_closed_incident_is_reopened_by_a_new_event_and_every_change_is_recorded(
    backend: Backend,
) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let t = tenant(store, "a").await;
    let alice = store
        .create_user(t.0, "alice", "hash", Role::Analyst, &op(), 0)
        .await
        .unwrap();
    let viewer = store
        .create_user(t.0, "vera", "hash", Role::Viewer, &op(), 0)
        .await
        .unwrap();
    let by = analyst(alice.id, "alice");
    insert(store, &about(t, &["10.0.0.1"], 1_000, Some(40))).await;
    let id = open_incidents(store, t.0, "10.0.0.1").await[0].id;

    // Closing needs a resolution; a viewer cannot be assigned; another account's user
    // neither; another account's incident is unknown.
    let bare = Change {
        status: Some(Status::Closed),
        ..Change::default()
    };
    let m = refused_with(
        store.update_incident(t.0, id, &bare, &by, 2_000).await,
        ErrorCode::MissingParameter,
    );
    assert!(m.contains("'resolution'"), "{m}");
    let assign = |user| Change {
        assignee: Some(Some(user)),
        ..Change::default()
    };
    let m = refused_with(
        store
            .update_incident(t.0, id, &assign(viewer.id), &by, 2_000)
            .await,
        ErrorCode::InvalidParameter,
    );
    assert!(m.contains("'assignee'"), "{m}");
    let other = tenant(store, "b").await;
    let stranger = store
        .create_user(other.0, "sam", "hash", Role::Admin, &op(), 0)
        .await
        .unwrap();
    refused_with(
        store
            .update_incident(t.0, id, &assign(stranger.id), &by, 2_000)
            .await,
        ErrorCode::InvalidParameter,
    );
    assert!(matches!(
        store
            .update_incident(other.0, id, &close(Resolution::Benign), &by, 2_000)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(actions(store, t.0, id).await, [], "refusals record nothing");

    // Assign, then close with a reason.
    let assigned = store
        .update_incident(t.0, id, &assign(alice.id), &by, 2_000)
        .await
        .unwrap();
    assert_eq!(assigned.assignee_name.as_deref(), Some("alice"));
    assert!(assigned.pinned);
    let mut closing = close(Resolution::Benign);
    closing.reason = Some(Note::parse("reason", "scheduled scan", 100).unwrap());
    let closed = store
        .update_incident(t.0, id, &closing, &by, 3_000)
        .await
        .unwrap();
    assert_eq!(closed.workflow.status, Status::Closed);
    assert_eq!(closed.workflow.reason.as_deref(), Some("scheduled scan"));
    // The same close again changes nothing and records nothing.
    store
        .update_incident(t.0, id, &closing, &by, 3_500)
        .await
        .unwrap();
    let mine = IncidentFilter {
        assignee: Some(AssigneeFilter::User(alice.id)),
        status: Some(Status::Closed),
        resolution: Some(Resolution::Benign),
        limit: 10,
        ..IncidentFilter::default()
    };
    assert_eq!(store.list_incidents(t.0, &mine).await.unwrap().len(), 1);

    // A new event about the host reopens it, assignee kept.
    insert(store, &about(t, &["10.0.0.1"], 4_000, Some(90))).await;
    let reopened = store.get_incident(t.0, id).await.unwrap().unwrap();
    assert_eq!(reopened.workflow.status, Status::New);
    assert_eq!(reopened.workflow.resolution, None);
    assert_eq!(reopened.assignee_name.as_deref(), Some("alice"));
    assert_eq!((reopened.events, reopened.impact), (2, Some(90)));
    let history = store.incident_history(t.0, id).await.unwrap();
    let kinds: Vec<AuditAction> = history.iter().map(|r| r.action).collect();
    assert_eq!(
        kinds,
        [
            AuditAction::IncidentAssignee,
            AuditAction::IncidentStatus,
            AuditAction::IncidentReopened
        ]
    );
    assert_eq!(history[0].actor, "alice");
    assert_eq!(history[0].address.as_deref(), Some("192.0.2.7"));
    assert_eq!(
        history[1].old_value.as_ref().unwrap()["status"],
        "new",
        "{history:?}"
    );
    assert_eq!(
        history[1].new_value.as_ref().unwrap()["resolution"],
        "benign"
    );
    assert_eq!(history[2].actor, "system");
    assert_eq!(
        history[2].old_value.as_ref().unwrap()["reason"],
        "scheduled scan"
    );

    // Kept closed instead: the next event starts an incident of its own.
    store
        .update_incident(t.0, id, &close(Resolution::FalsePositive), &by, 5_000)
        .await
        .unwrap();
    let mut kept = about(t, &["10.0.0.1"], 5_500, None);
    kept.reopen_closed = false;
    insert(store, &kept).await;
    let now = open_incidents(store, t.0, "10.0.0.1").await;
    assert_eq!(now.len(), 2);
    assert_eq!(now[1].id, id);
    assert_eq!(now[1].workflow.status, Status::Closed);
    assert_eq!((now[0].workflow.status, now[0].events), (Status::New, 1));

    // The trail is append-only: the database itself refuses to change or remove a record.
    for sql in ["UPDATE audit SET actor = 'mallory'", "DELETE FROM audit"] {
        let e = db.try_sql(sql).await.unwrap_err();
        assert!(e.contains("append-only"), "{sql}: {e}");
    }
    let all = store
        .list_audit(&AuditFilter {
            account_id: Some(t.0),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert!(all
        .iter()
        .any(|r| r.action == AuditAction::UserCreated && r.actor == "operator"));
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let other_trail = store
        .list_audit(&AuditFilter {
            account_id: Some(other.0),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert!(other_trail.iter().all(|r| r.account_id == Some(other.0)));
}

pub async fn merge_and_split_move_events_recount_and_keep_both_histories(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let t = tenant(store, "a").await;
    let alice = store
        .create_user(t.0, "alice", "hash", Role::Analyst, &op(), 0)
        .await
        .unwrap();
    let by = analyst(alice.id, "alice");
    let e1 = insert(store, &about(t, &["10.0.0.1"], 1_000, Some(10))).await;
    let e2 = insert(store, &about(t, &["10.0.0.1"], 2_000, Some(20))).await;
    let e3 = insert(store, &about(t, &["ws-7", "10.0.0.1"], 900_000, Some(70))).await;
    let a = open_incidents(store, t.0, "10.0.0.1").await;
    assert_eq!(a.len(), 2, "two incidents of the address, far apart");
    let (late, early) = (a[0].id, a[1].id);
    let name = open_incidents(store, t.0, "ws-7").await[0].id;
    store
        .comment(
            t.0,
            &CommentChange::Add {
                incident_id: late,
                body: "looks like the same scan",
            },
            false,
            &by,
            3_000,
        )
        .await
        .unwrap();

    // Id lists are checked here too, for callers that do not read them from a form.
    let message = refused_with(
        store.merge_incidents(t.0, early, &[], &by, 4_000).await,
        ErrorCode::MissingParameter,
    );
    assert!(message.contains("'merge_ids'"), "{message}");
    let too_many: Vec<i64> = (1..=MAX_MERGE as i64 + 1).map(|i| i + 1_000).collect();
    let message = refused_with(
        store
            .merge_incidents(t.0, early, &too_many, &by, 4_000)
            .await,
        ErrorCode::InvalidParameter,
    );
    assert!(
        message.contains(&format!("at most {MAX_MERGE} incident ids")),
        "{message}"
    );
    let message = refused_with(
        store.split_incident(t.0, early, &[], &by, 4_000).await,
        ErrorCode::MissingParameter,
    );
    assert!(message.contains("'event_ids'"), "{message}");
    let too_many: Vec<i64> = (1..=MAX_SPLIT as i64 + 1).collect();
    let message = refused_with(
        store
            .split_incident(t.0, early, &too_many, &by, 4_000)
            .await,
        ErrorCode::InvalidParameter,
    );
    assert!(
        message.contains(&format!("at most {MAX_SPLIT} event ids")),
        "{message}"
    );

    // Merge the later address incident and the name's incident into the early one: e3,
    // in both, counts once.
    let survivor = store
        .merge_incidents(t.0, early, &[late, name], &by, 4_000)
        .await
        .unwrap();
    assert_eq!(
        (
            survivor.events,
            survivor.first_ms,
            survivor.last_ms,
            survivor.impact
        ),
        (3, 1_000, 900_000, Some(70))
    );
    assert_eq!(survivor.last_event_id, e3);
    let gone = store.get_incident(t.0, late).await.unwrap().unwrap();
    assert_eq!(gone.merged_into, Some(early));
    assert_eq!(open_incidents(store, t.0, "10.0.0.1").await.len(), 1);
    let m = refused_with(
        store
            .update_incident(t.0, late, &close(Resolution::Duplicate), &by, 4_500)
            .await,
        ErrorCode::NotPossible,
    );
    assert!(m.contains(&format!("merged into incident {early}")), "{m}");
    // The survivor's history holds the merged ones' records, its comments theirs.
    let kinds = actions(store, t.0, early).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == AuditAction::IncidentMerged)
            .count(),
        3
    );
    assert!(kinds.contains(&AuditAction::CommentAdded));
    assert_eq!(store.list_comments(t.0, early).await.unwrap().len(), 1);
    // Merging across accounts: the other account's incident is unknown here.
    let other = tenant(store, "b").await;
    insert(store, &about(other, &["10.0.0.1"], 1_000, None)).await;
    let theirs = open_incidents(store, other.0, "10.0.0.1").await[0].id;
    assert!(matches!(
        store
            .merge_incidents(t.0, early, &[theirs], &by, 5_000)
            .await,
        Err(StoreError::NotFound(_))
    ));
    refused_with(
        store
            .merge_incidents(t.0, early, &[early], &by, 5_000)
            .await,
        ErrorCode::ConflictingParameters,
    );

    // Split e1 out; a split of every event is refused; an event of another incident too.
    let split = store
        .split_incident(t.0, early, &[e1], &by, 6_000)
        .await
        .unwrap();
    assert_eq!(
        (split.events, split.first_ms, split.impact),
        (1, 1_000, Some(10))
    );
    assert_eq!(split.host, "10.0.0.1");
    let rest = store.get_incident(t.0, early).await.unwrap().unwrap();
    assert_eq!(
        (rest.events, rest.first_ms, rest.impact),
        (2, 2_000, Some(70))
    );
    refused_with(
        store.split_incident(t.0, split.id, &[e1], &by, 6_500).await,
        ErrorCode::NotPossible,
    );
    let m = refused_with(
        store.split_incident(t.0, early, &[e1], &by, 6_500).await,
        ErrorCode::InvalidParameter,
    );
    assert!(m.contains(&format!("event {e1} is not")), "{m}");
    // A late event between the split parts joins the one an analyst acted on first by
    // time and merges nothing: the split stands.
    insert(store, &about(t, &["10.0.0.1"], 1_500, None)).await;
    assert_eq!(open_incidents(store, t.0, "10.0.0.1").await.len(), 2);
    let _ = e2;
}

pub async fn comments_are_edited_by_their_author_in_time_and_redacted_not_deleted(
    backend: Backend,
) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let t = tenant(store, "a").await;
    let alice = store
        .create_user(t.0, "alice", "hash", Role::Analyst, &op(), 0)
        .await
        .unwrap();
    let bob = store
        .create_user(t.0, "bob", "hash", Role::Analyst, &op(), 0)
        .await
        .unwrap();
    insert(store, &about(t, &["10.0.0.1"], 1_000, None)).await;
    let id = open_incidents(store, t.0, "10.0.0.1").await[0].id;
    let (a, b) = (analyst(alice.id, "alice"), analyst(bob.id, "bob"));
    let c = store
        .comment(
            t.0,
            &CommentChange::Add {
                incident_id: id,
                body: "first\nsecond line",
            },
            false,
            &a,
            10_000,
        )
        .await
        .unwrap();
    assert_eq!(
        (c.author_label.as_str(), c.body.as_str()),
        ("alice", "first\nsecond line")
    );
    let edit = |body| CommentChange::Edit {
        comment_id: c.id,
        body,
    };
    refused_with(
        store
            .comment(t.0, &edit("bob was here"), false, &b, 11_000)
            .await,
        ErrorCode::NotPossible,
    );
    let edited = store
        .comment(t.0, &edit("first, corrected"), false, &a, 10_000 + 600_000)
        .await
        .unwrap();
    assert_eq!(edited.edited_at_ms, Some(610_000));
    let m = refused_with(
        store
            .comment(t.0, &edit("too late"), false, &a, 10_001 + 600_000)
            .await,
        ErrorCode::NotPossible,
    );
    assert!(m.contains("10 minutes"), "{m}");
    let redact = CommentChange::Redact { comment_id: c.id };
    refused_with(
        store.comment(t.0, &redact, false, &b, 700_000).await,
        ErrorCode::NotPossible,
    );
    let redacted = store
        .comment(t.0, &redact, true, &b, 700_000)
        .await
        .unwrap();
    assert!(redacted.redacted && redacted.body.is_empty());
    let listed = store.list_comments(t.0, id).await.unwrap();
    assert_eq!(listed.len(), 1, "the record of the comment stays");
    // The trail says what happened, never the text.
    let history = store.incident_history(t.0, id).await.unwrap();
    assert_eq!(
        history.iter().map(|r| r.action).collect::<Vec<_>>(),
        [
            AuditAction::CommentAdded,
            AuditAction::CommentEdited,
            AuditAction::CommentRedacted
        ]
    );
    let text = format!("{history:?}");
    assert!(
        !text.contains("first") && !text.contains("corrected"),
        "{text}"
    );
    // Another account cannot touch it.
    let other = tenant(store, "b").await;
    refused_with(
        store.comment(other.0, &redact, true, &b, 800_000).await,
        ErrorCode::InvalidParameter,
    );
}

pub async fn an_incident_is_unread_per_user_until_opened_and_again_after_a_new_event(
    backend: Backend,
) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let t = tenant(store, "a").await;
    let alice = store
        .create_user(t.0, "alice", "hash", Role::Analyst, &op(), 0)
        .await
        .unwrap();
    let bob = store
        .create_user(t.0, "bob", "hash", Role::Viewer, &op(), 0)
        .await
        .unwrap();
    insert(store, &about(t, &["10.0.0.1"], 1_000, None)).await;
    insert(store, &about(t, &["10.0.0.2"], 1_000, None)).await;
    let id = open_incidents(store, t.0, "10.0.0.1").await[0].id;
    let unread = |user: i64| IncidentFilter {
        unread_by: Some(user),
        limit: 10,
        ..IncidentFilter::default()
    };
    assert_eq!(store.unread_count(t.0, alice.id).await.unwrap(), 2);
    store.mark_read(t.0, id, alice.id).await.unwrap();
    assert_eq!(store.unread_count(t.0, alice.id).await.unwrap(), 1);
    assert_eq!(store.unread_count(t.0, bob.id).await.unwrap(), 2);
    assert_eq!(
        store
            .list_incidents(t.0, &unread(alice.id))
            .await
            .unwrap()
            .len(),
        1
    );
    insert(store, &about(t, &["10.0.0.1"], 2_000, None)).await;
    assert_eq!(store.unread_count(t.0, alice.id).await.unwrap(), 2);
    // Another account's user marks nothing here.
    let other = tenant(store, "b").await;
    store.mark_read(other.0, id, bob.id).await.unwrap();
    assert_eq!(store.unread_count(t.0, bob.id).await.unwrap(), 2);
}
