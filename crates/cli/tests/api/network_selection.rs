//! The rules every push method shares, tested on push_result and push_mail as
//! file_download.rs tests them on push_file_download: key_id + subkey_id select the
//! sensor, they are integers, and an empty required value counts as absent.

use crate::support::*;

/// A push method's path, a valid form, and its required parameters other than `key`.
type Method = (
    &'static str,
    Vec<(&'static str, String)>,
    &'static [&'static str],
);

/// The push methods other than push_file_download, each with a valid form.
fn methods(app: &TestApp) -> [Method; 2] {
    let key = &app.creds.sensor_key;
    [
        (IOC, ioc_form(key), &IOC_REQUIRED),
        (
            MAIL,
            mail_form(key, SPEC_SAMPLE_MAIL),
            &["mail_json_str", "vendor_name", "tool_name"],
        ),
    ]
}

#[tokio::test]
async fn key_id_and_subkey_id_select_the_sensor_of_push_result_and_push_mail() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let c = app.user_client().await;
    let key_id = app.creds.key_id.to_string();
    let subkey_id = app.creds.subkey_id.to_string();
    let (_, second_sensor, _) = app.second_license().await;
    let second_subkey_id = app.subkey_id_of(&second_sensor).await.to_string();
    for (path, form, _) in methods(&app) {
        let by_ids = with(&form, "key", None);
        let ids = |k: &str, s: &str| with(&with(&by_ids, "key_id", Some(k)), "subkey_id", Some(s));
        assert_ok(&c.post(path, &pairs(&ids(&key_id, &subkey_id))).await);
        // The sensor of another license does not belong to this key_id.
        assert_error(
            &c.post(path, &pairs(&ids(&key_id, &second_subkey_id))).await,
            3001,
            "Permission denied",
        );
        let v = c.post(path, &pairs(&ids("one", &subkey_id))).await;
        assert_error(&v, 2002, "'key_id'");
        let v = c.post(path, &pairs(&ids(&key_id, "2.0"))).await;
        assert_error(&v, 2002, "'subkey_id'");
        let v = c
            .post(path, &pairs(&with(&by_ids, "key_id", Some(&key_id))))
            .await;
        assert_error(&v, 2001, "subkey_id");
    }
    // One of each, both by the ids.
    assert_eq!(app.event_count().await, 2);
    let list = c.get_ok(LIST, &[]).await;
    for e in list["events"].as_array().unwrap() {
        assert_eq!(e["license"]["key_id"], app.creds.key_id, "{e}");
        assert_eq!(e["sensor"]["subkey_id"], app.creds.subkey_id, "{e}");
    }
}

#[tokio::test]
async fn an_empty_required_value_counts_as_absent_for_push_result_and_push_mail() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    for (path, form, required) in methods(&app) {
        for name in required.iter().copied().chain(["key"]) {
            for empty in ["", "   "] {
                let v = c.post(path, &pairs(&with(&form, name, Some(empty)))).await;
                assert_error(&v, 2001, &format!("'{name}'"));
            }
        }
    }
    assert_eq!(app.event_count().await, 0);
}
