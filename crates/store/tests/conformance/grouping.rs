//! Host entities and grouping rules on both backends: the identifiers of one machine tie
//! into one entity whose incidents every event about any of them joins, a leased address
//! moves to its new machine, and an account's rules group mails by sender, IOC results by
//! IOC and downloads by the file's SHA-256.

use super::backends::{Backend, TestDb};
use super::workflow::open_incidents;
use super::{about, insert, op, queued, tenant};
use pushdetect_store::{
    AuditAction, AuditFilter, GroupBy, Grouping, Incident, IncidentFilter, NewEvent, Store,
};

/// An event about these machines, each named by its identifiers.
fn machines(t: (i64, i64, i64), machines: &[&[&str]], at: i64) -> NewEvent {
    let ids: Vec<Vec<String>> = machines
        .iter()
        .map(|m| m.iter().map(|s| s.to_string()).collect())
        .collect();
    let mut hosts: Vec<&str> = machines.iter().flat_map(|m| m.iter().copied()).collect();
    hosts.sort();
    hosts.dedup();
    let mut e = about(t, &hosts, at, Some(10));
    e.triage.machines = ids;
    e
}

async fn all_incidents(store: &dyn Store, account: i64) -> Vec<Incident> {
    let mut list = store
        .list_incidents(
            account,
            &IncidentFilter {
                limit: 100,
                ..IncidentFilter::default()
            },
        )
        .await
        .unwrap();
    list.sort_by_key(|i| i.id);
    list
}

fn summary(list: &[Incident]) -> Vec<(GroupBy, String, i64)> {
    list.iter()
        .map(|i| (i.grouped_by, i.host.clone(), i.events))
        .collect()
}

pub async fn the_identifiers_of_one_machine_form_one_host_entity_with_one_incident(
    backend: Backend,
) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let t = tenant(store, "a").await;
    let other = tenant(store, "b").await;
    // An IOC check names ws5 four ways; later events name it by one identifier each.
    let ws5: &[&str] = &["10.0.0.5", "fe80::5", "ws5", "ws5.corp.example"];
    insert(store, &machines(t, &[ws5], 1_000)).await;
    insert(store, &machines(t, &[&["10.0.0.5"]], 2_000)).await;
    insert(store, &machines(t, &[&["ws5"]], 3_000)).await;
    insert(store, &machines(t, &[&["fe80::5"]], 4_000)).await;
    // The same names in another account are another machine.
    insert(store, &machines(other, &[&["ws5"]], 4_000)).await;
    assert_eq!(
        summary(&all_incidents(store, t.0).await),
        [(GroupBy::Host, "ws5.corp.example".into(), 4)]
    );
    assert_eq!(
        summary(&all_incidents(store, other.0).await),
        [(GroupBy::Host, "ws5".into(), 1)]
    );
    // Any identifier finds the entity, its incidents and every event about it.
    let entity = store.host_entity(t.0, "fe80::5").await.unwrap();
    assert_eq!(entity.key, "ws5.corp.example");
    let names: Vec<&str> = entity
        .identifiers
        .iter()
        .map(|i| i.identifier.as_str())
        .collect();
    assert_eq!(names, ["10.0.0.5", "fe80::5", "ws5", "ws5.corp.example"]);
    let of_address = open_incidents(store, t.0, "10.0.0.5").await;
    assert_eq!(of_address.len(), 1);
    let events = store
        .list_events(
            t.0,
            &pushdetect_store::EventFilter {
                host: Some("ws5".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        events.len(),
        4,
        "every event about the machine, by any identifier"
    );
    // An unknown identifier is an entity of its own, with no ties.
    let unknown = store.host_entity(t.0, "10.9.9.9").await.unwrap();
    assert_eq!(
        (unknown.key.as_str(), unknown.identifiers.len()),
        ("10.9.9.9", 0)
    );
    // The top hosts count events per entity, once each, with its identifiers.
    let overview = store.overview(t.0, 0, 60_000, 5).await.unwrap();
    assert_eq!(overview.top_hosts.len(), 1);
    assert_eq!(overview.top_hosts[0].key, "ws5.corp.example");
    assert_eq!(overview.top_hosts[0].events, 4);
    assert_eq!(overview.top_hosts[0].identifiers.len(), 4);
}

pub async fn an_address_joins_the_machine_it_is_seen_with_and_a_lease_moves_it(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let t = tenant(store, "a").await;
    // Seen alone first, 10.0.0.7 opens an incident of its own; seen with pc7's name, it and
    // its incident become pc7's.
    insert(store, &machines(t, &[&["10.0.0.7"]], 1_000)).await;
    insert(store, &machines(t, &[&["10.0.0.7", "pc7"]], 2_000)).await;
    assert_eq!(
        summary(&all_incidents(store, t.0).await),
        [(GroupBy::Host, "pc7".into(), 2)]
    );
    // 10.0.0.9 is pc-a's, then DHCP gives it to pc-b: pc-a keeps its incident, and the
    // address alone now means pc-b.
    insert(store, &machines(t, &[&["10.0.0.9", "pc-a"]], 10_000)).await;
    insert(store, &machines(t, &[&["10.0.0.9", "pc-b"]], 11_000)).await;
    insert(store, &machines(t, &[&["10.0.0.9"]], 12_000)).await;
    let list = all_incidents(store, t.0).await;
    assert_eq!(
        summary(&list[1..]),
        [
            (GroupBy::Host, "pc-a".into(), 1),
            (GroupBy::Host, "pc-b".into(), 2),
        ]
    );
    // Two names seen together tie their machines for good: pc-a's incident is renamed
    // and, within the window, merged with pc-b's.
    insert(
        store,
        &machines(t, &[&["pc-a", "pc-a.corp.example"]], 13_000),
    )
    .await;
    insert(
        store,
        &machines(t, &[&["pc-a.corp.example", "pc-b"]], 14_000),
    )
    .await;
    let list = all_incidents(store, t.0).await;
    assert_eq!(
        summary(&list[1..]),
        [(GroupBy::Host, "pc-a.corp.example".into(), 5)]
    );
    assert_eq!(
        store.host_entity(t.0, "pc-b").await.unwrap().key,
        "pc-a.corp.example"
    );
}

pub async fn an_account_groups_by_its_rules_and_every_other_event_by_host(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let t = tenant(store, "a").await;
    let plain = tenant(store, "b").await;
    let rules = Grouping::parse("grouping", "mail_sender,task_sha256").unwrap();
    store
        .set_account_grouping(t.0, &rules, &op())
        .await
        .unwrap();
    let changes = store
        .list_audit(&AuditFilter {
            account_id: Some(t.0),
            action: Some(AuditAction::AccountGrouping),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].new_value.as_ref().unwrap()["grouping"],
        "mail_sender,task_sha256,host"
    );
    let account = store.find_account("a").await.unwrap().unwrap();
    assert_eq!(account.grouping, "mail_sender,task_sha256,host");

    // A phishing wave: one sender, three mails to five recipients.
    let mail = |t, recipients: &[&str], at| {
        let mboxes: Vec<&[&str]> = recipients.iter().map(std::slice::from_ref).collect();
        let mut e = machines(t, &mboxes, at);
        e.kind = "mail".into();
        e.triage.group_keys = vec![(GroupBy::MailSender, "evil@phish.example".into())];
        e
    };
    for (i, to) in [
        &["a@corp.example", "b@corp.example"][..],
        &["c@corp.example"],
        &["d@corp.example", "e@corp.example"],
    ]
    .iter()
    .enumerate()
    {
        insert(store, &mail(t, to, 1_000 * i as i64)).await;
        insert(store, &mail(plain, to, 1_000 * i as i64)).await;
    }
    assert_eq!(
        summary(&all_incidents(store, t.0).await),
        [(GroupBy::MailSender, "evil@phish.example".into(), 3)]
    );
    assert_eq!(
        all_incidents(store, plain.0).await.len(),
        5,
        "without rules: one incident per recipient"
    );

    // Two downloads of one file on two machines: one incident for the file, once its task
    // knows the SHA-256; a download whose task is unknown groups by host.
    store
        .create_tasks(&[
            &queued("task-1", t.0, t.1, 0, "aa11"),
            &queued("task-2", t.0, t.1, 0, "aa11"),
        ])
        .await
        .unwrap();
    for (host, task) in [
        ("10.0.1.1", "task-1"),
        ("10.0.1.2", "task-2"),
        ("10.0.1.3", "nope"),
    ] {
        let mut e = machines(t, &[&[host]], 50_000);
        e.kind = "file_download".into();
        e.triage.task_uuids = vec![task.into()];
        insert(store, &e).await;
    }
    // An IOC result: no ioc_uuid rule, so by host.
    let mut ioc = machines(t, &[&["10.0.1.4"]], 50_000);
    ioc.triage.group_keys = vec![(GroupBy::IocUuid, "u-1".into())];
    insert(store, &ioc).await;
    let list = all_incidents(store, t.0).await;
    assert_eq!(
        summary(&list[1..]),
        [
            (GroupBy::TaskSha256, "aa11".into(), 2),
            (GroupBy::Host, "10.0.1.3".into(), 1),
            (GroupBy::Host, "10.0.1.4".into(), 1),
        ]
    );
    // A host filter finds only incidents grouped by host.
    let by_host = open_incidents(store, t.0, "10.0.1.1").await;
    assert!(by_host.is_empty());
}
