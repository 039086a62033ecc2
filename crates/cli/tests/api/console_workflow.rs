//! The incident workflow in the console: two analysts and a viewer in real Chromium
//! sessions (assign, "assigned to me", unread, comment, close, reopen by a push), the
//! CSRF check of every workflow form, and the audit page with its filters and CSV export.

use crate::console::{
    body, browser, click, column, console_http, console_login, driver, post, status, submit_form,
    wait_for,
};
use crate::support::*;
use fantoccini::{Client as Browser, Locator};
use pushdetect_server::provision::add_user;
use pushdetect_store::{Actor, Role};

/// A user of the first account with this role: (login name, password).
async fn person(app: &TestApp, name: &str, role: Role) -> (String, String) {
    let account = app.account_id().await;
    let new = add_user(app.store.as_ref(), account, name, role, &Actor::operator())
        .await
        .unwrap();
    (new.user.username, new.password)
}

/// Logs a browser in as this user, landing on the incident list.
async fn log_in_as(b: &Browser, app: &TestApp, username: &str, password: &str) {
    b.goto(&app.url("/login?next=/incidents")).await.unwrap();
    wait_for(b, "#username")
        .await
        .send_keys(username)
        .await
        .unwrap();
    b.find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    click(b, "form button[type=submit]").await;
    wait_for(b, "table.incidents").await;
}

/// An IOC result about 10.0.0.9 / WS-09 at `at`, pushed by the sensor.
async fn push_at(app: &TestApp, at: &str) {
    let sensor = app.license_client().await;
    let form = with(&ioc_form(&app.creds.sensor_key), "check_time_end", Some(at));
    assert_ok(&sensor.post(IOC, &pairs(&form)).await);
}

/// The ids of the incidents the page lists.
async fn listed(b: &Browser) -> Vec<String> {
    let mut ids = Vec::new();
    for row in b
        .find_all(Locator::Css("table.incidents tbody tr"))
        .await
        .unwrap()
    {
        ids.push(row.attr("data-incident-id").await.unwrap().unwrap());
    }
    ids
}

/// Chooses `value` in the select named `name` of the form `form`.
async fn choose(b: &Browser, form: &str, name: &str, value: &str) {
    b.find(Locator::Css(&format!(
        "{form} select[name={name}] option[value='{value}']"
    )))
    .await
    .unwrap_or_else(|e| panic!("{form} {name}={value}: {e}"))
    .click()
    .await
    .unwrap();
}

async fn text(b: &Browser, css: &str) -> String {
    wait_for(b, css).await.text().await.unwrap()
}

#[tokio::test]
async fn two_analysts_and_a_viewer_work_an_incident_in_the_console() {
    let app = TestApp::start().await;
    let (alice, alice_pw) = person(&app, "alice", Role::Analyst).await;
    let (bob, bob_pw) = person(&app, "bob", Role::Analyst).await;
    let (vera, vera_pw) = person(&app, "vera", Role::Viewer).await;
    push_at(&app, "2026-01-01 10:00:00").await;
    let driver = driver().await;

    // Alice assigns the incident to Bob.
    let a = browser(&driver).await;
    log_in_as(&a, &app, &alice, &alice_pw).await;
    let ids = listed(&a).await;
    assert_eq!(ids.len(), 1, "one machine, one incident");
    let id = ids[0].clone();
    a.goto(&app.url(&format!("/incidents/{id}"))).await.unwrap();
    choose(&a, "#workflow", "assignee", &bob).await;
    submit_form(&a, "#workflow button[type=submit]").await;
    assert_eq!(text(&a, "#incident-assignee").await, bob);
    assert_eq!(text(&a, "#incident-status").await, "new");

    // Bob sees it assigned to him and unread, with the count in the navigation.
    let b = browser(&driver).await;
    log_in_as(&b, &app, &bob, &bob_pw).await;
    assert_eq!(text(&b, "#unread-count").await, "1 unread");
    b.goto(&app.url("/incidents?assignee=me&unread=1"))
        .await
        .unwrap();
    wait_for(&b, "table.incidents").await;
    assert_eq!(listed(&b).await, std::slice::from_ref(&id));
    // He opens it (read now), comments on two lines and closes it as benign.
    b.goto(&app.url(&format!("/incidents/{id}"))).await.unwrap();
    wait_for(&b, "#add-comment").await;
    assert!(b.find(Locator::Css("#unread-count")).await.is_err());
    b.find(Locator::Css("#add-comment textarea"))
        .await
        .unwrap()
        .send_keys("The weekly scan.\nIT confirmed <it>.")
        .await
        .unwrap();
    submit_form(&b, "#add-comment button[type=submit]").await;
    let comment = wait_for(&b, "#comments li p.note").await;
    assert_eq!(
        comment.text().await.unwrap(),
        "The weekly scan.\nIT confirmed <it>."
    );
    assert!(b
        .source()
        .await
        .unwrap()
        .contains("IT confirmed &lt;it&gt;."));
    choose(&b, "#workflow", "status", "closed").await;
    choose(&b, "#workflow", "resolution", "benign").await;
    b.find(Locator::Css("#workflow textarea[name=reason]"))
        .await
        .unwrap()
        .send_keys("allowed scanner")
        .await
        .unwrap();
    submit_form(&b, "#workflow button[type=submit]").await;
    assert_eq!(text(&b, "#incident-status").await, "closed");
    assert_eq!(text(&b, "#incident-resolution").await, "benign");
    assert_eq!(text(&b, "#incident-reason").await, "allowed scanner");
    let history = column(&b, "#history tbody td.action").await;
    assert_eq!(
        history,
        ["incident.assignee", "incident.comment", "incident.status"]
    );

    // A new push about the same machine (by its name) reopens it, unread for both.
    push_at(&app, "2026-01-01 10:30:00").await;
    for (who, browser) in [("alice", &a), ("bob", &b)] {
        browser.goto(&app.url("/incidents?unread=1")).await.unwrap();
        wait_for(browser, "table.incidents").await;
        assert_eq!(listed(browser).await, std::slice::from_ref(&id), "{who}");
        let status = column(browser, "table.incidents tbody td.status").await;
        assert_eq!(status, ["new"], "{who}");
    }
    b.goto(&app.url(&format!("/incidents/{id}"))).await.unwrap();
    assert_eq!(text(&b, "#incident-status").await, "new");
    assert_eq!(
        text(&b, "#incident-assignee").await,
        bob,
        "the assignee stays"
    );
    let history = column(&b, "#history tbody td.action").await;
    assert_eq!(history.last().unwrap(), "incident.reopened");
    let actors = column(&b, "#history tbody td:nth-child(2)").await;
    assert_eq!(actors.last().unwrap(), "system");
    // Vera the viewer reads everything and is offered no form; posting one anyway is 403.
    let v = browser(&driver).await;
    log_in_as(&v, &app, &vera, &vera_pw).await;
    assert_eq!(listed(&v).await, std::slice::from_ref(&id));
    assert!(v.find(Locator::Css("#bulk")).await.is_err());
    v.goto(&app.url(&format!("/incidents/{id}"))).await.unwrap();
    wait_for(&v, "#history").await;
    assert!(v.find(Locator::Css("#workflow")).await.is_err());
    assert!(v.find(Locator::Css("#add-comment")).await.is_err());
    let http = console_http();
    let csrf = console_login(&http, &app, &vera, &vera_pw).await;
    let path = format!("/incidents/{id}");
    let ack = [
        ("csrf", csrf.as_str()),
        ("op", "update"),
        ("status", "acknowledged"),
    ];
    assert_eq!(post(&http, &app, &path, &ack).await, 403);
    let note = [("csrf", csrf.as_str()), ("op", "comment"), ("comment", "x")];
    assert_eq!(post(&http, &app, &path, &note).await, 403);
    let bulk = [
        ("csrf", csrf.as_str()),
        ("action", "acknowledge"),
        ("id", &id),
    ];
    assert_eq!(post(&http, &app, "/incidents/bulk", &bulk).await, 403);
    assert_eq!(status(&http, &app, "/audit").await, 403);
    // The README's screenshots: an incident's history, and the list with its workflow
    // columns once a few more machines have reported and been worked on.
    if let Some(dir) = std::env::var_os("PUSHDETECT_SCREENSHOTS").map(std::path::PathBuf::from) {
        b.goto(&app.url(&format!("/incidents/{id}"))).await.unwrap();
        wait_for(&b, "#history").await;
        b.execute(
            "document.getElementById('history').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
        std::fs::write(
            dir.join("incident-history.png"),
            b.screenshot().await.unwrap(),
        )
        .unwrap();
        let admin = app.user_client().await;
        let sensor = app.license_client().await;
        for (n, (ip, name, confidence)) in [
            ("10.0.0.21", "WS-21", "92"),
            ("10.0.0.22", "WS-22", "35"),
            ("10.0.0.23", "WS-23", "64"),
        ]
        .into_iter()
        .enumerate()
        {
            let form = with(
                &with(
                    &with(
                        &ioc_numbered(&app.creds.sensor_key, n),
                        "main_ipv4",
                        Some(ip),
                    ),
                    "hostname",
                    Some(name),
                ),
                "match_confidence",
                Some(confidence),
            );
            assert_ok(&sensor.post(IOC, &pairs(&form)).await);
        }
        let update = "/papi/push_detection/incident/update.json";
        for change in [
            vec![
                ("incident_id", "2"),
                ("status", "acknowledged"),
                ("assignee", &alice),
            ],
            vec![
                ("incident_id", "3"),
                ("status", "closed"),
                ("resolution", "false_positive"),
            ],
        ] {
            assert_eq!(admin.post(update, &change).await["success"], 1);
        }
        b.goto(&app.url("/incidents")).await.unwrap();
        wait_for(&b, "table.incidents").await;
        std::fs::write(dir.join("incidents.png"), b.screenshot().await.unwrap()).unwrap();
    }
    for browser in [a, b, v] {
        browser.close().await.unwrap();
    }
}

#[tokio::test]
async fn every_workflow_form_checks_its_csrf_token() {
    let app = TestApp::start().await;
    push_at(&app, "2026-01-01 10:00:00").await;
    let http = console_http();
    let csrf = console_login(&http, &app, &app.creds.username, &app.creds.password).await;
    let forms: [(&str, Vec<(&str, &str)>); 5] = [
        (
            "/incidents/1",
            vec![("op", "update"), ("status", "acknowledged")],
        ),
        ("/incidents/1", vec![("op", "comment"), ("comment", "x")]),
        (
            "/incidents/1",
            vec![("op", "redact_comment"), ("comment_id", "1")],
        ),
        (
            "/incidents/bulk",
            vec![("action", "acknowledge"), ("id", "1")],
        ),
        (
            "/admin",
            vec![("op", "set_role"), ("user_id", "1"), ("role", "viewer")],
        ),
    ];
    for (path, fields) in &forms {
        for token in [None, Some("forged")] {
            let mut form = fields.clone();
            form.extend(token.map(|t| ("csrf", t)));
            assert_eq!(post(&http, &app, path, &form).await, 403, "{path} {form:?}");
        }
    }
    // Nothing changed: the incident is new and uncommented, the admin still an admin.
    let page = body(&http, &app, "/incidents/1").await;
    assert!(
        page.contains(r#"id="incident-status" class="status status-new""#),
        "{page}"
    );
    assert!(page.contains("No comments."));
    assert!(page.contains("No changes yet."));
    let mut form = forms[0].1.clone();
    form.push(("csrf", csrf.as_str()));
    assert_eq!(post(&http, &app, "/incidents/1", &form).await, 200);
    assert_eq!(status(&http, &app, "/admin").await, 200);
}

#[tokio::test]
async fn the_audit_page_filters_pages_and_exports_the_trail_for_admins_only() {
    let app = TestApp::start().await;
    let (alice, alice_pw) = person(&app, "alice", Role::Analyst).await;
    push_at(&app, "2026-01-01 10:00:00").await;
    let http = console_http();
    let csrf = console_login(&http, &app, &app.creds.username, &app.creds.password).await;
    // Acknowledged, then commented.
    for form in [
        vec![("op", "update"), ("status", "acknowledged")],
        vec![("op", "comment"), ("comment", "seen")],
    ] {
        let mut form = form;
        form.push(("csrf", csrf.as_str()));
        assert_eq!(post(&http, &app, "/incidents/1", &form).await, 200);
    }
    let page = body(&http, &app, "/audit").await;
    for action in [
        "account.created",
        "user.created",
        "login",
        "incident.status",
    ] {
        let cell = format!(r#"class="action">{action}<"#);
        assert!(page.contains(&cell), "{action}: {page}");
    }
    assert!(
        page.contains(r#"<a href="/incidents/1">"#),
        "links to its incident"
    );
    // Filters: by action, by actor, by incident; a bad one names its field.
    let statuses = body(&http, &app, "/audit?action=incident.status").await;
    assert!(statuses.contains(r#"class="action">incident.status<"#));
    assert!(!statuses.contains(r#"class="action">login<"#), "{statuses}");
    let by_incident = body(&http, &app, "/audit?incident_id=1").await;
    assert_eq!(by_incident.matches("<tr><td>").count(), 2, "{by_incident}");
    let by_actor = body(&http, &app, &format!("/audit?actor={alice}")).await;
    assert!(by_actor.contains("No records."), "alice has done nothing");
    assert_eq!(status(&http, &app, "/audit?action=nap").await, 400);
    assert!(body(&http, &app, "/audit?after=yesterday")
        .await
        .contains("&#39;after&#39; must be"));
    assert!(
        page.contains(r#"href="/audit/export.csv?""#),
        "the export link carries the filters"
    );

    // The export: a header, then every matching record, newest first, quoted as CSV.
    let csv = body(&http, &app, "/audit/export.csv?incident_id=1").await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "audit_id,at,actor,address,action,target,incident_id,before,after"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].contains(",incident.comment,"),
        "newest first: {csv}"
    );
    assert!(
        lines[1].contains(r#""characters"":4"#) && lines[1].ends_with(r#"}""#),
        "{csv}"
    );
    assert!(lines[2].contains(",incident.status,"));
    let all = body(&http, &app, "/audit/export.csv").await;
    assert!(all.lines().count() > 5, "{all}");
    assert_eq!(status(&http, &app, "/audit/export.csv?before=x").await, 400);

    // An analyst is refused both.
    let other = console_http();
    console_login(&other, &app, &alice, &alice_pw).await;
    assert_eq!(status(&other, &app, "/audit").await, 403);
    assert_eq!(status(&other, &app, "/audit/export.csv").await, 403);
}

#[tokio::test]
async fn an_admin_sets_the_accounts_grouping_rules_on_the_admin_page() {
    let app = TestApp::start().await;
    let http = console_http();
    let csrf = console_login(&http, &app, &app.creds.username, &app.creds.password).await;
    let set = |rules: &'static str| {
        let (http, app, csrf) = (&http, &app, csrf.clone());
        async move {
            let form = [
                ("csrf", csrf.as_str()),
                ("op", "set_grouping"),
                ("grouping", rules),
            ];
            let r = http
                .post(app.url("/admin"))
                .form(&form)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (code, page) = set("host,mail_sender").await;
    assert_eq!(code, 400, "host only last");
    assert!(page.contains("&#39;grouping&#39;"), "{page}");
    let (code, page) = set("mail_sender").await;
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("group by mail_sender,host"), "{page}");
    assert!(page.contains(r#"name="grouping" value="mail_sender,host""#));
    // Mails to two recipients from one sender: one incident now.
    let sensor = app.license_client().await;
    let mail = r#"{"message": {"message_id": "g-1", "sender": "Evil@Phish.Example",
        "recipients": ["a@corp.example", "b@corp.example"], "subject": "s"}, "action": "LOG"}"#;
    assert_ok(
        &sensor
            .post(MAIL, &pairs(&mail_form(&app.creds.sensor_key, mail)))
            .await,
    );
    let list = sensor
        .get_ok("/papi/push_detection/incident/list.json", &[])
        .await;
    assert_eq!(list["incidents"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["incidents"][0]["grouped_by"], "mail_sender");
    assert_eq!(list["incidents"][0]["host"], "evil@phish.example");
    assert_eq!(list["incidents"][0]["host_kind"], serde_json::Value::Null);
    let audit = body(&http, &app, "/audit?action=account.grouping").await;
    assert!(audit.contains("mail_sender,host"), "{audit}");
    // An analyst may not.
    let (name, password) = person(&app, "alice", Role::Analyst).await;
    let other = console_http();
    let token = console_login(&other, &app, &name, &password).await;
    let form = [
        ("csrf", token.as_str()),
        ("op", "set_grouping"),
        ("grouping", "host"),
    ];
    assert_eq!(post(&other, &app, "/admin", &form).await, 403);
}
