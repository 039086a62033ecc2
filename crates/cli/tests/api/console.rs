//! The web console, driven end to end by a real headless Chromium (through chromedriver)
//! against a running server; and its CSRF and header rules over plain HTTP.

use crate::analyst::{analyst, submit, wait_result, EICAR};
use crate::support::*;
use fantoccini::{Client as Browser, ClientBuilder, Locator};
use serde_json::json;
use std::process::Stdio;
use std::time::Duration;

/// A chromedriver process on a free port, stopped on drop.
pub struct Driver {
    child: std::process::Child,
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts chromedriver (`$CHROMEDRIVER`, else /usr/bin/chromedriver). The test command
/// installs Debian's chromium and chromium-driver when they are missing. The port is one
/// the system just handed out; if another process takes it before chromedriver binds it,
/// chromedriver exits and is started again on another (bounded).
pub async fn driver() -> Driver {
    let path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Dropping the driver kills and reaps the process, on every path.
        let mut driver = Driver {
            child: std::process::Command::new(&path)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start {path} ({e}); run ./scripts/test.sh, which installs it")
                }),
            url: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if matches!(driver.child.try_wait(), Ok(Some(_))) {
                break;
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    panic!("chromedriver did not start in five tries");
}

/// A headless Chromium at 1280x800.
pub async fn browser(driver: &Driver) -> Browser {
    let mut caps = serde_json::Map::new();
    let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": binary, "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--window-size=1280,800"]}),
    );
    let b = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session");
    b.goto("about:blank").await.unwrap();
    set_viewport(&b, 1280, 800).await;
    b
}

/// Sizes the window so that the viewport (not the window) is `width` x `height`.
pub(crate) async fn set_viewport(b: &Browser, width: u64, height: u64) {
    let size = || async {
        let v = b
            .execute(
                "return [window.innerWidth, window.innerHeight, window.outerWidth, window.outerHeight];",
                vec![],
            )
            .await
            .unwrap();
        let n = |i: usize| v[i].as_u64().unwrap();
        (n(0), n(1), n(2), n(3))
    };
    let (w, h, outer_w, outer_h) = size().await;
    b.set_window_size((outer_w + width - w) as u32, (outer_h + height - h) as u32)
        .await
        .unwrap();
    let (w, h, _, _) = size().await;
    assert_eq!((w, h), (width, height), "viewport size");
}

/// Waits (bounded) until `css` matches, and returns the element.
pub(crate) async fn wait_for(b: &Browser, css: &str) -> fantoccini::elements::Element {
    b.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
}

pub(crate) async fn log_in(b: &Browser, app: &TestApp) {
    b.goto(&app.url("/events")).await.unwrap();
    assert!(b.current_url().await.unwrap().path().starts_with("/login"));
    wait_for(b, "#username")
        .await
        .send_keys(&app.creds.username)
        .await
        .unwrap();
    b.find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(&app.creds.password)
        .await
        .unwrap();
    click(b, "form button[type=submit]").await;
    wait_for(b, "table#events").await;
}

/// Submits EICAR through the Analyst API and waits for its result; returns the task.
async fn analysed_eicar(app: &TestApp) -> String {
    let c = analyst(app).await;
    let (_, v) = submit(app, &c, EICAR, "eicar.com").await;
    let uuid = v["data"]["task_uuid"].as_str().unwrap().to_owned();
    wait_result(app, &c, &uuid).await;
    uuid
}

/// A browser-like HTTP client for the console: a cookie jar, redirects not followed.
pub(crate) fn console_http() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The CSRF token of the login form (setting its cookie in the client's jar).
pub(crate) async fn login_token(http: &reqwest::Client, app: &TestApp) -> String {
    let html = http
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

pub(crate) async fn status(http: &reqwest::Client, app: &TestApp, path: &str) -> u16 {
    http.get(app.url(path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

pub(crate) async fn post(
    http: &reqwest::Client,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> u16 {
    let r = http.post(app.url(path)).form(form).send().await.unwrap();
    r.status().as_u16()
}

pub(crate) async fn body(http: &reqwest::Client, app: &TestApp, path: &str) -> String {
    http.get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_analyst_logs_in_watches_a_push_arrive_filters_follows_to_the_task_exports_and_logs_out()
{
    let app = TestApp::start().await;
    let task = analysed_eicar(&app).await;
    let sensor = Client::new(&app.base);
    sensor
        .login_license(&app.creds.access_key, &app.creds.api_token)
        .await;
    assert_ok(
        &sensor
            .post(IOC, &pairs(&ioc_form(&app.creds.sensor_key)))
            .await,
    );

    let driver = driver().await;
    let b = browser(&driver).await;
    log_in(&b, &app).await;
    wait_for(&b, "tr[data-event-id='1']").await;

    // A push while the page is open appears without a reload.
    let mut download = download_form(&app.creds.sensor_key);
    download[0].1 = task.clone();
    assert_ok(&sensor.post(FILE_DOWNLOAD, &pairs(&download)).await);
    let row = wait_for(&b, "tr[data-event-id='2']").await;
    assert!(row.text().await.unwrap().contains("file_download"));

    // Filter by type.
    let select = b.find(Locator::Css("select[name=type]")).await.unwrap();
    select.select_by_value("ioc").await.unwrap();
    click(&b, ".filters button[type=submit]").await;
    wait_for(&b, "select[name=type] option[value=ioc][selected]").await;
    let rows = b
        .find_all(Locator::Css("table#events tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "only the IOC event");
    assert!(b.find(Locator::Css("tr[data-event-id='2']")).await.is_err());

    // Free-text search finds the download by its file name.
    b.goto(&app.url("/events?q=invoice.exe")).await.unwrap();
    wait_for(&b, "tr[data-event-id='2']").await;
    assert_eq!(count(&b, "table#events tbody tr").await, 1);

    // The detail shows the raw parameters and links to the analysis task.
    click(&b, "tr[data-event-id='2'] a").await;
    let raw = wait_for(&b, "table.raw").await.text().await.unwrap();
    assert!(
        raw.contains("/downloads/invoice.exe") && raw.contains("application_protocol"),
        "{raw}"
    );
    click(&b, "a.task-link").await;
    let score = wait_for(&b, "#task-score").await.text().await.unwrap();
    assert_eq!(score, "100");
    let page = b.source().await.unwrap();
    assert!(
        page.contains("eicar_test_file"),
        "the matched rule is shown"
    );

    // CSV export of the filtered set, with the browser's session.
    b.goto(&app.url("/events?type=ioc")).await.unwrap();
    let href = wait_for(&b, "#export-csv")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let cookies = b.get_all_cookies().await.unwrap();
    let cookie_header: Vec<String> = cookies
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect();
    let csv = reqwest::Client::new()
        .get(app.url(&href))
        .header("cookie", cookie_header.join("; "))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "header and the IOC event: {text}");
    assert!(
        lines[0].starts_with("event_id,type,") && lines[1].starts_with("1,ioc,"),
        "{text}"
    );

    // Log out: the console asks for a login again.
    click(&b, "form.logout button").await;
    wait_for(&b, "#username").await;
    b.goto(&app.url("/events")).await.unwrap();
    assert!(b.current_url().await.unwrap().path().starts_with("/login"));
    b.close().await.unwrap();
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused_and_pages_carry_security_headers() {
    let app = TestApp::start().await;
    let http = console_http();
    let page = http.get(app.url("/login")).send().await.unwrap();
    let h = page.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "no inline script or style"
    );
    let token = login_token(&http, &app).await;

    let creds = [
        ("username", app.creds.username.as_str()),
        ("password", app.creds.password.as_str()),
    ];
    assert_eq!(post(&http, &app, "/login", &creds).await, 403, "no token");
    let mut with_wrong = creds.to_vec();
    with_wrong.push(("csrf", "0000"));
    assert_eq!(
        post(&http, &app, "/login", &with_wrong).await,
        403,
        "wrong token"
    );
    let mut with_token = creds.to_vec();
    with_token.push(("csrf", &token));
    assert_eq!(post(&http, &app, "/login", &with_token).await, 303);
    assert_eq!(status(&http, &app, "/events").await, 200);

    // Logging out takes the token too: without it the session stays.
    assert_eq!(post(&http, &app, "/logout", &[("csrf", "x")]).await, 403);
    assert_eq!(status(&http, &app, "/events").await, 200);
    assert_eq!(post(&http, &app, "/logout", &[("csrf", &token)]).await, 303);
    assert_eq!(status(&http, &app, "/events").await, 303);
}

#[tokio::test]
async fn another_accounts_events_and_tasks_are_not_found() {
    let app = TestApp::start().await;
    let task = analysed_eicar(&app).await;
    let sensor = app.license_client().await;
    let mut download = download_form(&app.creds.sensor_key);
    download[0].1 = task.clone();
    assert_ok(&sensor.post(FILE_DOWNLOAD, &pairs(&download)).await);
    let other = app.other_tenant().await;
    let http = console_http();
    let token = login_token(&http, &app).await;
    let form = [
        ("username", other.username.as_str()),
        ("password", other.password.as_str()),
        ("csrf", token.as_str()),
    ];
    assert_eq!(post(&http, &app, "/login", &form).await, 303);
    let list = body(&http, &app, "/events").await;
    assert!(
        !list.contains("data-event-id"),
        "no events of the first account"
    );
    assert_eq!(status(&http, &app, "/events/1").await, 404);
    assert_eq!(status(&http, &app, &format!("/tasks/{task}")).await, 404);
    let csv = body(&http, &app, "/events/export.csv").await;
    assert_eq!(csv.lines().count(), 1, "only the header: {csv}");
}

/// Fills the first account with a few events of each type, over two hosts.
async fn seed(app: &TestApp) -> String {
    let task = analysed_eicar(app).await;
    let sensor = app.license_client().await;
    let mut download = download_form(&app.creds.sensor_key);
    download[0].1 = task.clone();
    assert_ok(&sensor.post(FILE_DOWNLOAD, &pairs(&download)).await);
    for host in ["10.0.0.9", "10.0.0.10"] {
        let form = with(&ioc_form(&app.creds.sensor_key), "main_ipv4", Some(host));
        assert_ok(&sensor.post(IOC, &pairs(&form)).await);
    }
    app.create_task(TASK).await;
    app.create_task("dcbadcbadcbadcbadcbadcbadcbadcba").await;
    let mail = mail_form(&app.creds.sensor_key, SPEC_SAMPLE_MAIL);
    assert_ok(&sensor.post(MAIL, &pairs(&mail)).await);
    task
}

/// Renders the dashboard, events, event detail and host pages in Chromium at 1280x800,
/// checks what they show, and writes each as a PNG to `$PUSHDETECT_SCREENSHOTS` (a
/// temporary directory when unset): `./scripts/screenshots.sh` makes the README's.
#[tokio::test]
async fn the_dashboard_and_host_pages_and_their_screenshots() {
    let app = TestApp::start().await;
    seed(&app).await;
    let dir = match std::env::var_os("PUSHDETECT_SCREENSHOTS") {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("pushdetect-shots-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).unwrap();
    let driver = driver().await;
    let b = browser(&driver).await;
    log_in(&b, &app).await;

    b.goto(&app.url("/")).await.unwrap();
    let cards = wait_for(&b, ".cards").await.text().await.unwrap();
    // The sample mail occurred in 2018: outside the default 24 hours.
    let total = b.find(Locator::Css(".cards div.card .n")).await.unwrap();
    assert_eq!(total.text().await.unwrap(), "3", "{cards}");
    assert!(!cards.contains("mail"), "{cards}");
    assert!(!b
        .find_all(Locator::Css("svg.chart rect"))
        .await
        .unwrap()
        .is_empty());
    let tools = b
        .find(Locator::Css("section[aria-labelledby=tools-title]"))
        .await
        .unwrap();
    assert!(tools.text().await.unwrap().contains("Acme / IocScan"));
    let shots = [
        ("dashboard", "/"),
        ("events", "/events"),
        ("event-detail", "/events/1"),
    ];
    for (name, path) in shots {
        b.goto(&app.url(path)).await.unwrap();
        wait_for(&b, "main h1").await;
        let png = b.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{name}");
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    // From the dashboard's top hosts to a host page with the machine's identifiers and
    // timeline: both IOC results named WS-09, by two addresses (DHCP moved it).
    b.goto(&app.url("/")).await.unwrap();
    let top = wait_for(&b, "section[aria-labelledby=hosts-title]").await;
    assert!(
        top.text()
            .await
            .unwrap()
            .contains("ws-09 (10.0.0.10, 10.0.0.9, ws-09)"),
        "{}",
        top.text().await.unwrap()
    );
    click(&b, "a[href='/hosts/ws-09']").await;
    assert_eq!(
        wait_for(&b, "#host-name").await.text().await.unwrap(),
        "ws-09"
    );
    assert_eq!(
        column(&b, "table.identifiers tbody td:first-child").await,
        ["10.0.0.10", "10.0.0.9", "ws-09"]
    );
    let rows = b
        .find_all(Locator::Css("table.timeline tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "both events about the machine");
    std::fs::write(dir.join("host.png"), b.screenshot().await.unwrap()).unwrap();
    b.close().await.unwrap();
}

/// Clicks the element `css` matches.
pub(crate) async fn click(b: &Browser, css: &str) {
    b.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Clicks the button `css` matches and waits until the page it loads has replaced the
/// current one (so that what is found next is on the new page, not the old).
pub(crate) async fn submit_form(b: &Browser, css: &str) {
    let old = b.find(Locator::Css("html")).await.unwrap();
    click(b, css).await;
    for _ in 0..150 {
        if old.tag_name().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("submitting {css} loaded no new page");
}

/// How many elements `css` matches.
pub(crate) async fn count(b: &Browser, css: &str) -> usize {
    b.find_all(Locator::Css(css)).await.unwrap().len()
}

/// The text of every cell of a column of a table's body.
pub(crate) async fn column(b: &Browser, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for cell in b.find_all(Locator::Css(css)).await.unwrap() {
        out.push(cell.text().await.unwrap().trim().to_owned());
    }
    out
}

fn key(k: fantoccini::key::Key) -> String {
    char::from(k).to_string()
}

/// A server holding `seed`'s events and a blocked mail received now, and a browser
/// logged in to its console; the uuid of the analysed task.
async fn seeded_console() -> (TestApp, String, Driver, Browser) {
    let app = TestApp::start().await;
    let task = seed(&app).await;
    let sensor = app.license_client().await;
    let blocked = SPEC_SAMPLE_MAIL.replace(
        r#""action": "LOG"
}"#,
        r#""action": "BLOCK"
}"#,
    );
    assert_ne!(blocked, SPEC_SAMPLE_MAIL);
    // Received now, so that the dashboard's period holds it.
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let blocked = blocked
        .replace("asdfasdasfdsasdrfe3434fs", "blocked-1")
        .replace("2018-06-04 10:11:12", &now);
    let mail = mail_form(&app.creds.sensor_key, &blocked);
    assert_ok(&sensor.post(MAIL, &pairs(&mail)).await);
    let driver = driver().await;
    let b = browser(&driver).await;
    log_in(&b, &app).await;
    (app, task, driver, b)
}

#[tokio::test]
async fn keyboard_use_impact_filter_and_sort_and_the_dashboard() {
    let (app, _, _driver, b) = seeded_console().await;
    // Keyboard: the first Tab reaches the skip link, which leads to the content.
    b.goto(&app.url("/events")).await.unwrap();
    wait_for(&b, "table#events").await;
    b.find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys(&key(fantoccini::key::Key::Tab))
        .await
        .unwrap();
    let focused = b.active_element().await.unwrap();
    assert_eq!(
        focused.attr("class").await.unwrap().as_deref(),
        Some("skip")
    );
    focused
        .send_keys(&key(fantoccini::key::Key::Enter))
        .await
        .unwrap();
    assert_eq!(b.current_url().await.unwrap().fragment(), Some("main"));

    // Filter by impact and sort by it, typing and pressing Enter in the form.
    let min = b
        .find(Locator::Css("input[name=min_impact]"))
        .await
        .unwrap();
    min.send_keys("80").await.unwrap();
    b.find(Locator::Css("select[name=order]"))
        .await
        .unwrap()
        .select_by_value("impact")
        .await
        .unwrap();
    let old = b.find(Locator::Css("html")).await.unwrap();
    min.send_keys(&key(fantoccini::key::Key::Enter))
        .await
        .unwrap();
    for _ in 0..150 {
        if old.tag_name().await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = b.current_url().await.unwrap();
    assert!(
        url.query()
            .is_some_and(|q| q.contains("order=impact") && q.contains("min_impact=80")),
        "the form was submitted from the keyboard: {url}"
    );
    wait_for(&b, "table#events").await;
    assert_eq!(
        column(&b, "table#events tbody td[data-label=Impact]").await,
        vec!["100", "85", "85", "80"],
        "highest impact first, only 80 and above"
    );
    assert_eq!(
        column(&b, "table#events tbody td[data-label=Action]").await[3],
        "BLOCK"
    );

    // The dashboard counts per action and lists the latest high-impact events.
    b.goto(&app.url("/?period=30d")).await.unwrap();
    let actions = wait_for(&b, "section[aria-label='Events per action']")
        .await
        .text()
        .await
        .unwrap();
    let actions = actions.replace('\n', " ");
    assert!(
        actions.contains("3 no action") && actions.contains("1 BLOCK"),
        "{actions}"
    );
    let mut high = column(&b, "table.high-impact tbody td[data-label=Impact]").await;
    high.sort();
    assert_eq!(
        high,
        vec!["100", "80", "85", "85"],
        "impact 70 or more only"
    );
    b.close().await.unwrap();
}

#[tokio::test]
async fn incidents_hosts_and_tasks_pages() {
    let (app, task, _driver, b) = seeded_console().await;
    // Incidents: the list, one incident with its events, its host with its incidents.
    b.goto(&app.url("/incidents")).await.unwrap();
    wait_for(&b, "table.incidents").await;
    let hosts = column(&b, "table.incidents tbody td[data-label=Host]").await;
    assert!(
        hosts
            .iter()
            .any(|h| h.starts_with("jane.doe@corp.com") && h.ends_with("mailbox")),
        "{hosts:?}"
    );
    b.find(Locator::Css(
        "tr[data-incident-id] td[data-label=Host] a[href='/hosts/10.0.0.5']",
    ))
    .await
    .unwrap();
    let row = b
        .find(Locator::XPath(
            "//tr[td[@data-label='Host']/a[.='10.0.0.5']]//td[@data-label='#']/a",
        ))
        .await
        .unwrap();
    row.click().await.unwrap();
    assert_eq!(
        wait_for(&b, "#incident-impact").await.text().await.unwrap(),
        "100"
    );
    assert_eq!(count(&b, "table.events tbody tr").await, 1);
    click(&b, "#incident-host").await;
    assert_eq!(
        wait_for(&b, "#host-name").await.text().await.unwrap(),
        "10.0.0.5"
    );
    assert_eq!(
        column(&b, "table.incidents tbody td[data-label=Impact]").await,
        vec!["100"]
    );

    // Tasks: the analysed file with its score and rule, linking to the task.
    b.goto(&app.url("/tasks?state=completed&kind=file"))
        .await
        .unwrap();
    let line = wait_for(&b, &format!("tr[data-task='{task}']"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        line.contains("eicar.com") && line.contains("completed") && line.contains("100"),
        "{line}"
    );
    assert!(
        line.to_lowercase().contains("eicar"),
        "the matched rule: {line}"
    );
    b.goto(&app.url("/tasks?state=queued")).await.unwrap();
    wait_for(&b, "table.tasks").await;
    assert!(b
        .find(Locator::Css(&format!("tr[data-task='{task}']")))
        .await
        .is_err());
    b.goto(&app.url("/tasks?state=sleeping")).await.unwrap();
    assert!(wait_for(&b, "p.error")
        .await
        .text()
        .await
        .unwrap()
        .contains("'state'"));
    b.close().await.unwrap();
}

#[tokio::test]
async fn a_phone_screen_never_scrolls_sideways_and_labels_cells() {
    let (app, task, _driver, b) = seeded_console().await;
    // A phone: nothing wider than the screen, rows as labelled cards, the menu usable.
    set_viewport(&b, 390, 844).await;
    for path in [
        "/",
        "/events",
        "/incidents",
        "/tasks",
        "/hosts/10.0.0.5",
        "/events/1",
        "/incidents/1",
        &format!("/tasks/{task}"),
        "/admin",
    ] {
        b.goto(&app.url(path)).await.unwrap();
        wait_for(&b, "main h1").await;
        let widths = b
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            widths[0].as_u64() <= widths[1].as_u64(),
            "{path} scrolls sideways: {widths}"
        );
    }
    b.goto(&app.url("/events")).await.unwrap();
    let cell = wait_for(&b, "table#events tbody td[data-label=Type]").await;
    let label = b
        .execute(
            "return getComputedStyle(arguments[0], '::before').content;",
            vec![serde_json::to_value(&cell).unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(label, "\"Type\"", "each cell is labelled on a phone");
    let nav = b
        .find(Locator::Css("nav[aria-label=Main] a[href='/incidents']"))
        .await
        .unwrap();
    assert!(nav.is_displayed().await.unwrap());
    nav.click().await.unwrap();
    wait_for(&b, "table.incidents").await;
    b.close().await.unwrap();
}

/// Logs in to the console over HTTP; returns the CSRF token for forms.
pub(crate) async fn console_login(
    http: &reqwest::Client,
    app: &TestApp,
    username: &str,
    password: &str,
) -> String {
    let token = login_token(http, app).await;
    let form = [
        ("username", username),
        ("password", password),
        ("csrf", token.as_str()),
    ];
    assert_eq!(
        post(http, app, "/login", &form).await,
        303,
        "login of {username}"
    );
    token
}

#[tokio::test]
async fn admins_manage_users_licenses_sensors_and_tokens_and_nobody_else_can() {
    let app = TestApp::start().await;
    let driver = driver().await;
    let b = browser(&driver).await;
    log_in(&b, &app).await;
    click(&b, "nav a[href='/admin']").await;
    wait_for(&b, "#add-user").await;
    assert!(
        b.find(Locator::Css("tr[data-user=admin]"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("(you)"),
        "no button to disable oneself"
    );

    // A new analyst: the password is shown once, and works.
    b.find(Locator::Css("#add-user input[name=username]"))
        .await
        .unwrap()
        .send_keys("analyst1")
        .await
        .unwrap();
    submit_form(&b, "#add-user button").await;
    let secret = wait_for(&b, "#secret").await.text().await.unwrap();
    let shown = |what: &str| {
        secret
            .lines()
            .find_map(|l| l.strip_prefix(what))
            .unwrap()
            .trim()
            .to_owned()
    };
    let (login, password) = (shown("username"), shown("password"));
    assert_eq!(login, "default/analyst1", "qualified by the account's name");
    let analyst = console_http();
    let token = console_login(&analyst, &app, &login, &password).await;
    let page = body(&analyst, &app, "/events").await;
    assert!(
        !page.contains("href=\"/admin\""),
        "no admin link for an analyst"
    );
    assert_eq!(status(&analyst, &app, "/admin").await, 403);
    assert_eq!(
        post(
            &analyst,
            &app,
            "/admin",
            &[("csrf", &token), ("op", "add_user"), ("username", "x")]
        )
        .await,
        403
    );
    b.goto(&app.url("/admin")).await.unwrap();
    assert!(wait_for(&b, "#add-user")
        .await
        .is_displayed()
        .await
        .unwrap());
    assert!(
        b.source()
            .await
            .unwrap()
            .contains("data-user=\"default/analyst1\""),
        "listed"
    );

    // Rotating the license's token: the old one stops working, the new one works.
    submit_form(
        &b,
        &format!("tr[data-license='{}'] button.rotate", app.creds.key_id),
    )
    .await;
    let secret = wait_for(&b, "#secret").await.text().await.unwrap();
    let new_token = secret
        .lines()
        .find_map(|l| l.strip_prefix("API token"))
        .unwrap()
        .trim()
        .to_owned();
    let papi_login = |token: String| {
        let app = &app;
        async move {
            reqwest::Client::new()
                .post(app.url("/papi/login.json"))
                .form(&[
                    ("api_key", app.creds.access_key.as_str()),
                    ("api_token", token.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    assert_error(&papi_login(app.creds.api_token.clone()).await, 3004, "");
    assert_eq!(papi_login(new_token.clone()).await["success"], 1);

    // A new sensor takes pushes; disabled, it refuses them.
    b.find(Locator::Css("#add-sensor input[name=name]"))
        .await
        .unwrap()
        .send_keys("dmz")
        .await
        .unwrap();
    submit_form(&b, "#add-sensor button").await;
    let notice = wait_for(&b, "#notice").await.text().await.unwrap();
    let key = notice
        .split("key ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    let sensor = Client::new(&app.base);
    sensor
        .login_license(&app.creds.access_key, &new_token)
        .await;
    assert_ok(&sensor.post(IOC, &pairs(&ioc_form(&key))).await);
    let id: String = notice
        .split("subkey_id ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')')
        .to_owned();
    submit_form(&b, &format!("tr[data-sensor='{id}'] button")).await;
    assert!(wait_for(&b, "#notice")
        .await
        .text()
        .await
        .unwrap()
        .contains("disabled"));
    assert_error(
        &sensor.post(IOC, &pairs(&ioc_form(&key))).await,
        3001,
        "Permission denied",
    );

    // Another account's records cannot be reached by id.
    let other = app.other_tenant().await;
    let admin = console_http();
    let token = console_login(&admin, &app, &app.creds.username, &app.creds.password).await;
    for (op, id) in [
        ("set_license", other.key_id),
        ("rotate_token", other.key_id),
        ("set_sensor", other.subkey_id),
    ] {
        let r = admin
            .post(app.url("/admin"))
            .form(&[
                ("csrf", token.as_str()),
                ("op", op),
                ("id", &id.to_string()),
                ("disabled", "1"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{op}");
        assert!(r.text().await.unwrap().contains("of this account"), "{op}");
    }
    let o = Client::new(&app.base);
    o.login_license(&other.access_key, &other.api_token).await;
    assert_ok(&o.post(IOC, &pairs(&ioc_form(&other.sensor_key))).await);
    assert_eq!(
        post(
            &admin,
            &app,
            "/admin",
            &[("op", "add_user"), ("username", "y")]
        )
        .await,
        403,
        "CSRF"
    );
    b.close().await.unwrap();
}

/// An admin's refused name must not tell which names other accounts hold: the names an
/// admin makes are qualified by the account, so the same name is free in every account.
#[tokio::test]
async fn an_admin_learns_nothing_of_other_accounts_user_names() {
    let app = TestApp::start().await;
    let other = app.other_tenant().await;
    let add = |http: reqwest::Client, token: String, name: &'static str| {
        let app = &app;
        async move {
            let r = http
                .post(app.url("/admin"))
                .form(&[
                    ("csrf", token.as_str()),
                    ("op", "add_user"),
                    ("username", name),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let mine = console_http();
    let my_token = console_login(&mine, &app, &app.creds.username, &app.creds.password).await;
    let theirs = console_http();
    let their_token = console_login(&theirs, &app, &other.username, &other.password).await;

    let (code, page) = add(theirs.clone(), their_token.clone(), "alice").await;
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("other/alice"), "{page}");
    let (code, page) = add(mine.clone(), my_token.clone(), "alice").await;
    assert_eq!(code, 200, "the other account's alice is not seen: {page}");
    assert!(page.contains("default/alice"), "{page}");
    assert!(!page.contains("other/alice"), "{page}");

    // Within one account a name is taken once; '/' is the account separator.
    let (code, page) = add(mine.clone(), my_token.clone(), "alice").await;
    assert_eq!(code, 400);
    assert!(page.contains("default/alice&#39; already exists"), "{page}");
    let (code, page) = add(mine, my_token, "other/alice").await;
    assert_eq!(code, 400);
    assert!(page.contains("without spaces or &#39;/&#39;"), "{page}");
}

#[tokio::test]
async fn after_login_only_a_same_origin_path_is_followed() {
    let app = TestApp::start().await;
    for (next, location) in [
        ("/\t/evil.example/", "/"),
        ("/\n/evil.example/", "/"),
        ("/incidents", "/incidents"),
    ] {
        let http = console_http();
        let token = login_token(&http, &app).await;
        let r = http
            .post(app.url("/login"))
            .form(&[
                ("username", app.creds.username.as_str()),
                ("password", app.creds.password.as_str()),
                ("csrf", token.as_str()),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{next:?}");
        assert_eq!(r.headers()["location"], location, "{next:?}");
    }
}

#[tokio::test]
async fn direction_overrides_and_byte_order_marks_are_shown_escaped() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let sensor = app.license_client().await;
    let download = with(
        &download_form(&app.creds.sensor_key),
        "filename",
        Some("\u{FEFF}invoice\u{202E}gpj.exe"),
    );
    assert_ok(&sensor.post(FILE_DOWNLOAD, &pairs(&download)).await);
    let http = console_http();
    let token = login_token(&http, &app).await;
    let form = [
        ("username", app.creds.username.as_str()),
        ("password", app.creds.password.as_str()),
        ("csrf", token.as_str()),
    ];
    assert_eq!(post(&http, &app, "/login", &form).await, 303);
    for page in ["/events", "/events/1"] {
        let html = body(&http, &app, page).await;
        assert!(
            html.contains("&lt;U+FEFF&gt;invoice&lt;U+202E&gt;gpj.exe"),
            "{page}"
        );
        assert!(
            !html.contains('\u{202E}') && !html.contains('\u{FEFF}'),
            "{page}"
        );
    }
}

/// An event that this version's parser refuses (stored under older rules) still lists,
/// saying so instead of a summary, and its page still opens with its raw parameters.
#[tokio::test]
async fn an_event_this_version_cannot_read_is_listed_with_its_raw_parameters() {
    use sqlx::Connection;
    let app = TestApp::start().await;
    let sensor = app.license_client().await;
    assert_ok(
        &sensor
            .post(IOC, &pairs(&ioc_form(&app.creds.sensor_key)))
            .await,
    );
    let id = sensor.get_ok(LIST, &[]).await["events"][0]["event_id"].clone();
    let url = format!("sqlite:{}", app.data_dir().join("pushdetect.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("UPDATE events SET raw_params = json_set(raw_params, '$.ioc_uuid', 'old-form')")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    let http = console_http();
    console_login(&http, &app, &app.creds.username, &app.creds.password).await;
    let list = body(&http, &app, "/events").await;
    assert!(
        list.contains("(not readable by this version: see its raw parameters)"),
        "{list}"
    );
    let page = body(&http, &app, &format!("/events/{id}")).await;
    assert!(page.contains("old-form"), "{page}");
}

/// The event list's order is read in any case; another is refused naming the field and
/// the orders there are.
#[tokio::test]
async fn the_event_list_order_is_checked_and_named() {
    let app = TestApp::start().await;
    let http = console_http();
    console_login(&http, &app, &app.creds.username, &app.creds.password).await;
    assert_eq!(status(&http, &app, "/events?order=Oldest").await, 200);
    assert_eq!(status(&http, &app, "/events?order=score").await, 400);
    let page = body(&http, &app, "/events?order=score").await;
    assert!(
        page.contains("&#39;order&#39; must be one of newest, oldest, impact, not &#39;score&#39;"),
        "{page}"
    );
}

/// The console's host filters match a host as the read API does (as stored: an IPv6
/// address in canonical form, a name in lower case) and refuse a malformed one naming the
/// field, on the event list and on the incident list.
#[tokio::test]
async fn the_console_host_filters_match_hosts_as_stored() {
    let app = TestApp::start().await;
    let sensor = app.license_client().await;
    let form = with(
        &ioc_form(&app.creds.sensor_key),
        "main_ipv6",
        Some("2001:DB8::1"),
    );
    assert_ok(&sensor.post(IOC, &pairs(&form)).await);
    let http = console_http();
    console_login(&http, &app, &app.creds.username, &app.creds.password).await;
    let row = "<tr data-event-id=\"1\">";
    for host in ["2001:db8:0:0::1", "WS-09.", "ws-09"] {
        let page = body(&http, &app, &format!("/events?host={host}")).await;
        assert!(page.contains(row), "{host}: {page}");
    }
    let page = body(&http, &app, "/events?host=2001:db8::2").await;
    assert!(!page.contains(row), "{page}");
    assert_eq!(status(&http, &app, "/events?host=a%20b").await, 400);
    let page = body(&http, &app, "/events?host=a%20b").await;
    assert!(page.contains("&#39;host&#39; must be"), "{page}");
    // The address finds the machine's incident, known by its name.
    let incidents = body(&http, &app, "/incidents?host=2001:DB8:0::1").await;
    assert!(
        incidents.contains("<tr data-incident-id=\"1\"") && incidents.contains(">ws-09</a>"),
        "{incidents}"
    );
    assert_eq!(status(&http, &app, "/incidents?host=a%20b").await, 400);
}

/// An event's page links to its incidents and shows a mail's fields as fields; what does
/// not exist is a styled page saying so, for browsers, and a bare 404 for other clients.
#[tokio::test]
async fn event_pages_link_their_incidents_and_missing_pages_say_so() {
    let app = TestApp::start().await;
    let sensor = app.license_client().await;
    assert_ok(
        &sensor
            .post(
                MAIL,
                &pairs(&mail_form(&app.creds.sensor_key, SPEC_SAMPLE_MAIL)),
            )
            .await,
    );
    let http = console_http();
    console_login(&http, &app, &app.creds.username, &app.creds.password).await;
    let page = body(&http, &app, "/events/1").await;
    let incident = app
        .user_client()
        .await
        .get_ok("/papi/push_detection/incident/list.json", &[])
        .await["incidents"][0]["incident_id"]
        .as_i64()
        .unwrap();
    assert!(
        page.contains(&format!("href=\"/incidents/{incident}\"")),
        "{page}"
    );
    let fields = page.split("<h2>Fields</h2>").nth(1).unwrap();
    let fields = fields.split("<h2>").next().unwrap();
    assert!(fields.contains("support@corp.com"), "{fields}");
    assert!(
        !fields.contains("&quot;") && !fields.contains('{'),
        "no JSON: {fields}"
    );

    for path in [
        "/events/999",
        "/incidents/999",
        "/tasks/00000000000000000000000000000000",
    ] {
        let r = http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("id=\"not-found\"") && html.contains("href=\"/events\""),
            "{html}"
        );
    }
    let r = http
        .get(app.url("/no/such/page"))
        .header("Accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Nothing is served at this address"));
    let r = reqwest::Client::new()
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.text().await.unwrap().is_empty(),
        "a bare 404 for API clients"
    );
}

/// One file pushed by two events under two names: the task's page, opened from an
/// event, shows the name that event gives it, not only the first submitter's.
#[tokio::test]
async fn a_task_opened_from_an_event_shows_the_name_that_event_gives_it() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let sensor = app.license_client().await;
    for name in ["/dl/first.exe", "/dl/second-name.exe"] {
        let form = with(
            &download_form(&app.creds.sensor_key),
            "filename",
            Some(name),
        );
        assert_ok(&sensor.post(FILE_DOWNLOAD, &pairs(&form)).await);
    }
    let http = console_http();
    console_login(&http, &app, &app.creds.username, &app.creds.password).await;
    let event = body(&http, &app, "/events/2").await;
    assert!(
        event.contains(&format!("href=\"/tasks/{TASK}?event=2\"")),
        "{event}"
    );
    let page = body(&http, &app, &format!("/tasks/{TASK}?event=2")).await;
    let seen = page
        .split("id=\"seen-as\"")
        .nth(1)
        .unwrap_or_else(|| panic!("{page}"));
    assert!(
        seen.contains("/dl/second-name.exe")
            && !seen.split("</tr>").next().unwrap().contains("first"),
        "{seen}"
    );
    let page = body(&http, &app, &format!("/tasks/{TASK}?event=1")).await;
    assert!(page.contains("/dl/first.exe"), "{page}");
    let plain = body(&http, &app, &format!("/tasks/{TASK}")).await;
    assert!(!plain.contains("id=\"seen-as\""));
}
