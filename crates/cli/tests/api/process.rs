//! The `pushdetect` binary as a user runs it: init, serve, admin, kill -9 and restart.

use crate::support::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_pushdetect");

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command that must succeed and print JSON.
fn run_json(args: &[&str]) -> Value {
    let (ok, out, err) = run(args);
    assert!(ok, "{args:?}: {err}");
    serde_json::from_str(out.trim()).unwrap()
}

fn init_json(dir: &Path) -> Value {
    run_json(&["init", "--data-dir", dir.to_str().unwrap(), "--json"])
}

/// A `pushdetect serve` process, killed (and reaped) when dropped, even by a failing test.
struct Served {
    child: Child,
    base: String,
    /// What it printed before listening.
    printed: String,
}

impl Served {
    /// Starts `serve` on a random port and waits until it listens.
    fn start(dir: &Path) -> Served {
        Self::start_with(dir, &[])
    }

    /// The same, with more flags.
    fn start_with(dir: &Path, flags: &[&str]) -> Served {
        let child = Command::new(BIN)
            .args([
                "serve",
                "--data-dir",
                dir.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut served = Served {
            child,
            base: String::new(),
            printed: String::new(),
        };
        let mut lines = BufReader::new(served.child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("pushdetect listening on ") {
                served.base = rest.split_whitespace().next().unwrap().to_owned();
                std::thread::spawn(move || lines.for_each(drop));
                return served;
            }
            served.printed.push_str(&line);
            served.printed.push('\n');
        }
        panic!("serve exited before listening: {}", served.printed);
    }

    /// A PAPI client logged in as the user of `creds` (as `init --json` prints them).
    async fn user_client(&self, creds: &Value) -> Client {
        let c = Client::new(&self.base);
        c.login_user(
            creds["username"].as_str().unwrap(),
            creds["password"].as_str().unwrap(),
        )
        .await;
        c
    }

    /// SIGKILL, as a crash or an OOM kill would.
    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGHUP: reload the analysis rules.
    fn hangup(&self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success());
    }

    /// SIGTERM; returns whether it exited successfully.
    fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        self.child.wait().unwrap().success()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn init_prints_exactly_the_documented_fields_and_refuses_to_run_twice() {
    let dir = tempfile::tempdir().unwrap();
    let creds = init_json(dir.path());
    let mut keys: Vec<&str> = creds
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "access_key",
            "api_token",
            "key_id",
            "password",
            "sensor_key",
            "subkey",
            "subkey_id",
            "username"
        ]
    );
    assert_eq!(
        creds["sensor_key"].as_str().unwrap(),
        format!(
            "{}:{}",
            creds["access_key"].as_str().unwrap(),
            creds["subkey"].as_str().unwrap()
        )
    );
    let (ok, _, err) = run(&["init", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("already initialised"), "{err}");
}

#[tokio::test]
async fn events_survive_kill_9_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let creds = init_json(dir.path());
    let server = Served::start(dir.path());
    assert!(
        !server.printed.contains("password"),
        "credentials are printed only on first init"
    );
    let c = server.user_client(&creds).await;
    let key = creds["sensor_key"].as_str().unwrap();
    for i in 0..5 {
        let f = with(&ioc_form(key), "hostname", Some(&format!("host-{i}")));
        assert_ok(&c.post(IOC, &pairs(&f)).await);
    }
    server.kill9();
    let server = Served::start(dir.path());
    let c = server.user_client(&creds).await;
    let list = c.get_ok(LIST, &[]).await;
    assert_eq!(list["events"].as_array().unwrap().len(), 5);
    // SIGTERM shuts down gracefully with exit status 0.
    assert!(server.terminate());
}

#[tokio::test]
async fn serve_initialises_an_empty_data_dir_and_prints_the_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh");
    let server = Served::start(&data);
    let field = |name: &str| {
        server
            .printed
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}:")))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("{name} not printed: {}", server.printed))
    };
    let c = Client::new(&server.base);
    c.login_license(&field("access_key"), &field("api_token"))
        .await;
    assert_ok(&c.post(IOC, &pairs(&ioc_form(&field("sensor_key")))).await);
    // Started with the test's umask (022), the server still keeps what it creates to
    // its own user: the database and its journal, the content store and its lock.
    let modes = private_modes(&data);
    assert!(
        modes.iter().any(|(p, _)| p.ends_with("pushdetect.db")),
        "{modes:?}"
    );
    assert!(
        modes.iter().any(|(p, _)| p.ends_with("content")),
        "{modes:?}"
    );
    for (path, mode) in &modes {
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(*mode, expected, "{} is {mode:o}", path.display());
    }
}

/// Every path under `root` (and `root`) with its permission bits.
fn private_modes(root: &Path) -> Vec<(std::path::PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = Vec::new();
    let mut todo = vec![root.to_owned()];
    while let Some(path) = todo.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            todo.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
        found.push((path, meta.permissions().mode() & 0o777));
    }
    found
}

/// `--log-format json` writes one JSON object per line: a request's latency is a number,
/// a failed login names the name tried (never the password).
#[tokio::test]
async fn json_logs_carry_latency_as_a_number_and_the_name_of_a_failed_login() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--log-format",
            "json",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = lines
        .by_ref()
        .find_map(|l| {
            l.unwrap()
                .strip_prefix("pushdetect listening on ")
                .map(|r| r.split_whitespace().next().unwrap().to_owned())
        })
        .expect("serve listens");
    std::thread::spawn(move || lines.for_each(drop));
    let v = Client::new(&base)
        .post(
            "/papi/login",
            &[("username", "mallory"), ("password", "guess-one")],
        )
        .await;
    assert_error(&v, 3004, "login failed");
    reqwest::get(format!("{base}/healthz")).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (latency, name) = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        let records: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect();
        let latency = records
            .iter()
            .find(|r| r["fields"]["message"] == "finished processing request")
            .map(|r| r["fields"]["latency_ms"].clone());
        let name = records
            .iter()
            .find(|r| r["fields"]["message"] == "login failed")
            .map(|r| r["fields"]["name"].clone());
        if let (Some(l), Some(n)) = (latency, name) {
            assert!(!text.contains("guess-one"), "the password is never logged");
            break (l, n);
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(latency.is_f64(), "{latency}");
    assert_eq!(name, "mallory");
    let _ = child.kill();
    let _ = child.wait();
}

/// Completions and manual pages come from the same definitions as --help: every command
/// is in them.
#[test]
fn completions_and_manual_pages_cover_every_command() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (ok, script, err) = run(&["completions", shell]);
        assert!(ok, "{shell}: {err}");
        for command in ["serve", "backup", "reset-password", "analyse-mail"] {
            assert!(script.contains(command), "{shell} lacks {command}");
        }
    }
    let (ok, page, _) = run(&["man"]);
    assert!(ok);
    assert!(page.contains(".TH pushdetect 1"), "{page}");
    assert!(page.contains("Lastline Push Detection API"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert!(ok, "{err}");
    for page in [
        "pushdetect.1",
        "pushdetect-serve.1",
        "pushdetect-backup.1",
        "pushdetect-admin-user-reset-password.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(
            text.starts_with(".ie") && text.contains(".SH NAME"),
            "{page}"
        );
    }
    let (ok, help, _) = run(&["shell", "--help"]);
    assert!(ok && help.contains("VIEW.METHOD name=value"), "{help}");
    let (ok, _, err) = run(&["completions", "tcsh"]);
    assert!(!ok && err.contains("bash"), "{err}");
}

/// A free loopback port (bound and released).
fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// Starts `serve` with `args` and `env`, waits for its listening line, stops it, and
/// returns the address it listened on.
fn listens_on(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve").args(args);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PUSHDETECT_") {
            cmd.env_remove(name);
        }
    }
    let mut child = cmd
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let found = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .find_map(|l| {
            l.unwrap()
                .strip_prefix("pushdetect listening on http://")
                .map(|r| r.split_whitespace().next().unwrap().to_owned())
        });
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    found.unwrap_or_else(|| {
        panic!(
            "serve did not listen: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// One precedence rule for every setting: flag > environment > file > default; the file
/// is named by --config or PUSHDETECT_CONFIG; a bad file fails serve naming the key, and
/// `config check` says the same without serving.
#[test]
fn settings_come_from_flags_then_environment_then_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (file_port, env_port, flag_port) = (free_port(), free_port(), free_port());
    let file = dir.path().join("pushdetect.toml");
    std::fs::write(
        &file,
        format!(
            "# pushdetect serve settings\nlisten = \"{file_port}\"\ndata_dir = \"{}\"\n\
             max_connections = 64\nsecure_cookies = true\nrule_dirs = []\n",
            data.display()
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    assert_eq!(listens_on(&["--config", f], &[]), file_port);
    assert!(
        data.join("pushdetect.db").exists(),
        "data_dir came from the file"
    );
    assert_eq!(listens_on(&[], &[("PUSHDETECT_CONFIG", f)]), file_port);
    assert_eq!(
        listens_on(
            &["--config", f],
            &[("PUSHDETECT_LISTEN", env_port.as_str())]
        ),
        env_port
    );
    assert_eq!(
        listens_on(
            &["--config", f, "--listen", &flag_port],
            &[("PUSHDETECT_LISTEN", env_port.as_str())]
        ),
        flag_port
    );
    let (ok, out, err) = run(&["config", "check", f]);
    assert!(ok && out.contains("5 settings, all valid"), "{out}{err}");
    // `config check` reads the file alone: the environment of the shell it runs in does
    // not count (a certificate without its key there would otherwise fail it).
    let out = Command::new(BIN)
        .args(["config", "check", f])
        .env("PUSHDETECT_TLS_CERT", "/nonexistent.pem")
        .env("PUSHDETECT_MAX_CONNECTIONS", "many")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    std::fs::write(&file, "listen = \"127.0.0.1:0\"\nmax_conections = 5\n").unwrap();
    for args in [vec!["config", "check", f], vec!["serve", "--config", f]] {
        let (ok, _, err) = run(&args);
        assert!(!ok, "{args:?}");
        assert!(
            err.contains("unknown setting 'max_conections'")
                && err.contains("did you mean 'max_connections'"),
            "{err}"
        );
    }
    std::fs::write(&file, "max_connections = \"many\"\n").unwrap();
    let (ok, _, err) = run(&["config", "check", f]);
    assert!(
        !ok && err.contains("setting 'max_connections'") && err.contains("many"),
        "{err}"
    );
    std::fs::write(&file, "listen = [\n").unwrap();
    let (ok, _, err) = run(&["config", "check", f]);
    assert!(!ok && err.contains("line 1"), "{err}");
}

/// docs/configuration.md holds the table `pushdetect config table` prints, as it is now.
#[test]
fn the_documented_settings_table_is_the_one_the_code_makes() {
    let (ok, table, err) = run(&["config", "table"]);
    assert!(ok, "{err}");
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .unwrap();
    assert!(
        doc.contains(&table),
        "docs/configuration.md is out of date: paste the output of `pushdetect config table`:\n{table}"
    );
}

/// The Debian package (scripts/package-deb.sh, named by PUSHDETECT_TEST_DEB): `dpkg -i`
/// makes the service's user, its 0700 data dir and a config only it can read, installs
/// the binary, completions, manual pages and a sandboxed unit that systemd-analyze
/// accepts without a warning; the service, started as systemd would, serves with files
/// of its own user only; `dpkg --purge` takes it all away but the data.
#[test]
fn the_debian_package_installs_a_sandboxed_service() {
    use std::os::unix::process::CommandExt;
    let deb = std::env::var("PUSHDETECT_TEST_DEB")
        .expect("PUSHDETECT_TEST_DEB names the package; scripts/test.sh builds it");
    let sh = |script: &str| {
        let out = Command::new("sh").args(["-c", script]).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, said) = sh(&format!("dpkg -i '{deb}'"));
    assert!(ok, "{said}");
    let cleanup = || {
        sh("dpkg --purge pushdetect; rm -rf /var/lib/pushdetect");
    };
    let checked = std::panic::catch_unwind(|| {
        let (ok, said) =
            sh("stat -c '%U:%G %a' /var/lib/pushdetect /etc/pushdetect/pushdetect.toml");
        assert!(ok, "{said}");
        assert_eq!(
            said.lines().collect::<Vec<_>>(),
            ["pushdetect:pushdetect 700", "root:pushdetect 640"]
        );
        for file in [
            "/usr/bin/pushdetect",
            "/usr/lib/systemd/system/pushdetect.service",
            "/usr/share/man/man1/pushdetect-serve.1.gz",
            "/usr/share/bash-completion/completions/pushdetect",
            "/usr/share/doc/pushdetect/operations.md",
        ] {
            assert!(Path::new(file).exists(), "{file}");
        }
        let unit = std::fs::read_to_string("/usr/lib/systemd/system/pushdetect.service").unwrap();
        for line in [
            "User=pushdetect",
            "ProtectSystem=strict",
            "NoNewPrivileges=yes",
            "PrivateTmp=yes",
        ] {
            assert!(unit.contains(line), "{line}");
        }
        let (ok, said) = sh("systemd-analyze verify /usr/lib/systemd/system/pushdetect.service");
        assert!(ok && said.trim().is_empty(), "{said}");
        let (ok, said) = sh("pushdetect config check /etc/pushdetect/pushdetect.toml");
        assert!(ok, "{said}");
        // The unit's command, as its user, on a free port (a flag wins over the file).
        let port = free_port();
        let id = |flag: &str| -> u32 {
            let (_, n) = sh(&format!("id {flag} pushdetect"));
            n.trim().parse().unwrap()
        };
        let mut child = Command::new("/usr/bin/pushdetect")
            .args([
                "serve",
                "--config",
                "/etc/pushdetect/pushdetect.toml",
                "--listen",
                &port,
            ])
            .uid(id("-u"))
            .gid(id("-g"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let listening = BufReader::new(child.stdout.take().unwrap())
            .lines()
            .any(|l| l.unwrap().starts_with("pushdetect listening on"));
        let _ = child.kill();
        let _ = child.wait();
        assert!(listening);
        let (_, said) = sh("stat -c '%U %a %n' /var/lib/pushdetect/pushdetect.db");
        assert!(said.starts_with("pushdetect 600"), "{said}");
    });
    let (ok, said) = sh("dpkg --purge pushdetect");
    cleanup();
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic);
    }
    assert!(ok, "{said}");
    assert!(!Path::new("/usr/bin/pushdetect").exists());
    let (known, _) = sh("getent passwd pushdetect");
    assert!(!known, "the service's user is removed on purge");
}

/// A database that cannot be reached is said once, not once per layer that wraps it.
#[test]
fn an_unreachable_database_is_reported_once() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("postgres://postgres@127.0.0.1:{port}/x");
    let (ok, _, err) = run(&["admin", "--database-url", &url, "account", "list"]);
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(err.matches("Connection refused").count(), 1, "{err}");
    assert!(
        err.contains(&format!("cannot open database {url}")),
        "{err}"
    );
}

/// A port already taken fails `serve` before it initialises a database: no credentials
/// are printed and lost, and the data dir is still new to `init`.
#[test]
fn a_taken_port_fails_serve_before_it_initialises_the_database() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh");
    let (ok, out, err) = run(&[
        "serve",
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        &port,
    ]);
    assert!(!ok);
    assert!(err.contains(&format!("cannot listen on {port}")), "{err}");
    assert!(
        !out.contains("password") && !out.contains("api_token"),
        "{out}"
    );
    let creds = init_json(&data);
    assert!(
        creds["password"].as_str().is_some_and(|p| !p.is_empty()),
        "{creds}"
    );
}

#[tokio::test]
async fn admin_manages_tenants_licenses_sensors_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    init_json(dir.path());
    let admin = |args: &[&str]| -> Value {
        let mut all = vec!["admin", "--data-dir", d, "--json"];
        all.extend_from_slice(args);
        let (ok, out, err) = run(&all);
        assert!(ok, "{args:?}: {err}");
        serde_json::from_str(out.trim()).unwrap()
    };
    let acme = admin(&["account", "add", "acme", "--admin", "alice"]);
    assert_eq!(acme["username"], "alice");
    let license = admin(&["license", "add", "--account", "acme", "--name", "edge"]);
    let key_id = license["key_id"].to_string();
    let sensor = admin(&["sensor", "add", "--license", &key_id, "--name", "dmz"]);
    let user = admin(&["user", "add", "bob", "--account", "acme"]);
    let accounts = admin(&["account", "list"]);
    assert_eq!(accounts.as_array().unwrap().len(), 2);
    let sensors = admin(&["sensor", "list", "--license", &key_id]);
    assert_eq!(sensors[0]["sensor_key"], sensor["sensor_key"]);
    assert_eq!(
        admin(&["user", "list", "--account", "acme"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let kept = admin(&["account", "retention", "acme", "30"]);
    assert!(kept["ok"].as_str().unwrap().contains("30 days"), "{kept}");
    let (ok, _, err) = run(&[
        "admin",
        "--data-dir",
        d,
        "account",
        "retention",
        "acme",
        "0",
    ]);
    assert!(!ok && err.contains("1 to 3650"), "{err}");
    admin(&["account", "retention", "acme", "off"]);
    let rotated = admin(&["license", "rotate-token", &key_id]);
    assert_ne!(rotated["api_token"], license["api_token"]);
    admin(&["user", "disable", "bob"]);
    let (ok, _, err) = run(&["admin", "--data-dir", d, "user", "disable", "nobody"]);
    assert!(!ok && err.contains("no user 'nobody'"), "{err}");
    let (ok, _, err) = run(&[
        "admin",
        "--data-dir",
        d,
        "account",
        "add",
        "acme",
        "--admin",
        "zed",
    ]);
    assert!(!ok && err.contains("already exists"), "{err}");

    let server = Served::start(dir.path());
    let base = server.base.as_str();
    let c = Client::new(base);
    c.login_license(
        license["access_key"].as_str().unwrap(),
        rotated["api_token"].as_str().unwrap(),
    )
    .await;
    assert_ok(
        &c.post(
            IOC,
            &pairs(&ioc_form(sensor["sensor_key"].as_str().unwrap())),
        )
        .await,
    );
    let v = Client::new(base)
        .post(
            "/papi/login",
            &[
                ("username", "bob"),
                ("password", user["password"].as_str().unwrap()),
            ],
        )
        .await;
    assert_error(&v, 3004, "login failed");
    let alice = Client::new(base);
    alice
        .login_user("alice", acme["password"].as_str().unwrap())
        .await;
    assert_eq!(
        alice.get_ok(LIST, &[]).await["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A forgotten password is recovered by the operator: a new one is printed once, the
    // old one and the sessions made with it end, while the server runs.
    let reset = admin(&["user", "reset-password", "alice"]);
    let new_password = reset["password"].as_str().unwrap();
    assert_eq!(reset["username"], "alice");
    assert_ne!(new_password, acme["password"].as_str().unwrap());
    // The server learns of a change made by another process within its lookup cache's
    // lifetime.
    let deadline = std::time::Instant::now() + pushdetect_store::LOOKUP_TTL * 5;
    while alice.get(LIST, &[]).await["success"] == 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the session outlived the reset"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_error(&alice.get(LIST, &[]).await, 3004, "log in again");
    let v = Client::new(base)
        .post(
            "/papi/login",
            &[
                ("username", "alice"),
                ("password", acme["password"].as_str().unwrap()),
            ],
        )
        .await;
    assert_error(&v, 3004, "login failed");
    alice.login_user("alice", new_password).await;
    // The operator makes a token for a service, lists it (never the secret) and revokes
    // it; the running server honours both.
    let made = admin(&[
        "token",
        "add",
        "alice",
        "--name",
        "splunk",
        "--expires-days",
        "7",
    ]);
    let token = made["token"].as_str().unwrap();
    assert_eq!(made["scope"], "read");
    let bearer = |t: &str| {
        reqwest::Client::new()
            .get(format!("{base}{LIST}"))
            .header("Authorization", format!("Bearer {t}"))
    };
    assert_eq!(json(bearer(token)).await["success"], 1);
    let listed = admin(&["token", "list", "--user", "alice"]);
    assert_eq!(listed[0]["name"], "splunk");
    assert!(!listed.to_string().contains(token));
    let id = made["token_id"].to_string();
    admin(&["token", "revoke", &id]);
    assert_eq!(json(bearer(token)).await["error_code"], 3004);
    let (ok, _, err) = run(&[
        "admin",
        "--data-dir",
        d,
        "token",
        "add",
        "alice",
        "--name",
        "x",
        "--scope",
        "root",
    ]);
    assert!(!ok && err.contains("read, write"), "{err}");
    let (ok, _, err) = run(&["admin", "--data-dir", d, "user", "reset-password", "nobody"]);
    assert!(!ok && err.contains("no user 'nobody'"), "{err}");
}

#[tokio::test]
async fn admin_registers_external_tasks_for_file_downloads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let creds = init_json(dir.path());
    let key_id = creds["key_id"].to_string();
    let (ok, out, err) = run(&[
        "admin",
        "--data-dir",
        d,
        "--json",
        "task",
        "add",
        "--license",
        &key_id,
    ]);
    assert!(ok, "{err}");
    let task: Value = serde_json::from_str(out.trim()).unwrap();
    let uuid = task["task_uuid"].as_str().unwrap().to_owned();
    assert_eq!(uuid.len(), 32);
    let (ok, _, err) = run(&[
        "admin",
        "--data-dir",
        d,
        "task",
        "add",
        "--license",
        &key_id,
        "--uuid",
        "xyz",
    ]);
    assert!(!ok && err.contains("32 hexadecimal"), "{err}");
    let (ok, _, err) = run(&["admin", "--data-dir", d, "rules", "reload"]);
    assert!(!ok && err.contains("no server is running"), "{err}");
    let server = Served::start(dir.path());
    let c = server.user_client(&creds).await;
    let form = with(
        &download_form(creds["sensor_key"].as_str().unwrap()),
        "task_uuid",
        Some(&uuid),
    );
    assert_ok(&c.post(FILE_DOWNLOAD, &pairs(&form)).await);
}

#[tokio::test]
async fn sighup_reloads_rules_and_a_broken_rule_keeps_the_previous_set() {
    let dir = tempfile::tempdir().unwrap();
    let rules = tempfile::tempdir().unwrap();
    let creds = init_json(dir.path());
    let server = Served::start_with(dir.path(), &["--rules", rules.path().to_str().unwrap()]);
    let c = reqwest::Client::new();
    let auth = [
        ("key", creds["access_key"].as_str().unwrap().to_owned()),
        ("api_token", creds["api_token"].as_str().unwrap().to_owned()),
    ];
    let score_of = |content: &'static [u8]| {
        let c = c.clone();
        let base = server.base.clone();
        let auth = auth.clone();
        async move {
            // The credentials come before the file, as the public client sends them.
            let mut form = reqwest::multipart::Form::new();
            for (k, v) in &auth {
                form = form.text(*k, v.clone());
            }
            let form = form
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(content).file_name("x"),
                )
                .text("bypass_cache", "1");
            let v: Value = c
                .post(format!("{base}/analysis/submit/file.json"))
                .multipart(form)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let uuid = v["data"]["task_uuid"].as_str().unwrap().to_owned();
            for _ in 0..200 {
                let mut q = auth.to_vec();
                q.push(("uuid", uuid.clone()));
                let r = c
                    .get(format!("{base}/analysis/get.json"))
                    .query(&q)
                    .send()
                    .await
                    .unwrap();
                if r.status() == 200 {
                    let v: Value = r.json().await.unwrap();
                    return v["data"]["score"].as_u64().unwrap();
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("no result");
        }
    };
    assert_eq!(score_of(b"ACME-CANARY-42").await, 0);
    std::fs::write(
        rules.path().join("canary.yar"),
        "rule acme_canary { meta: score = 55 description = \"ACME canary\" strings: $a = \"ACME-CANARY\" condition: $a }",
    )
    .unwrap();
    server.hangup();
    let mut score = 0;
    for _ in 0..50 {
        score = score_of(b"ACME-CANARY-42").await;
        if score == 55 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(score, 55, "the new rule is in force after SIGHUP");
    let (ok, out, _) = run(&[
        "admin",
        "rules",
        "check",
        "--rules",
        rules.path().to_str().unwrap(),
    ]);
    assert!(ok && out.contains("rules compile"), "{out}");
    std::fs::write(
        rules.path().join("broken.yar"),
        "rule broken { condition: $nope }",
    )
    .unwrap();
    server.hangup();
    // Wait (bounded) until the server has tried the reload and counted it as failed.
    let failed = "pushdetect_reloads_total{what=\"rules\",result=\"failed\"} 1";
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = reqwest::get(format!("{}/metrics", server.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains(failed) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(metrics.contains(failed), "{metrics}");
    assert!(
        metrics.contains("pushdetect_reloads_total{what=\"rules\",result=\"ok\"} 1"),
        "{metrics}"
    );
    assert_eq!(score_of(b"ACME-CANARY-42").await, 55, "previous set stays");
}

/// A PostgreSQL database of its own on the test server (`PUSHDETECT_TEST_POSTGRES`, which
/// `./scripts/test.sh` sets), dropped when the test ends.
struct PgDatabase {
    url: String,
    name: String,
}

impl PgDatabase {
    fn admin_url() -> String {
        std::env::var("PUSHDETECT_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
    }

    fn new() -> PgDatabase {
        let admin = Self::admin_url();
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "pushdetect_nodes_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        // A run killed before its cleanup may have left this name (the process id reused).
        Self::drop_database(name.clone());
        PgDatabase {
            url: format!("{base}/{name}"),
            name,
        }
    }

    fn drop_database(name: String) {
        let _ = std::thread::spawn(move || {
            use sqlx::Connection;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut c) = sqlx::PgConnection::connect(&PgDatabase::admin_url()).await {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(&drop).execute(&mut c).await;
                }
            });
        })
        .join();
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        Self::drop_database(self.name.clone());
    }
}

/// `init --json` of a data dir on the PostgreSQL database `db`: the first credentials.
fn init_postgres(dir: &Path, db: &PgDatabase) -> Value {
    run_json(&[
        "init",
        "--data-dir",
        dir.to_str().unwrap(),
        "--database-url",
        &db.url,
        "--json",
    ])
}

#[tokio::test]
async fn two_nodes_on_one_postgres_database_share_sessions_events_and_analyses() {
    let db = PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let creds = init_postgres(dir.path(), &db);
    let flags = ["--database-url", db.url.as_str()];
    // Both nodes see the same data dir, where analysed content lives.
    let a = Served::start_with(dir.path(), &flags);
    let b = Served::start_with(dir.path(), &flags);
    assert!(
        !b.printed.contains("initialised") && !a.printed.contains("initialised"),
        "nodes join the initialised database: {}",
        b.printed
    );

    // One login, on node A; the session works on node B (cookies are per host, not port).
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let login: Value = json(http.post(format!("{}/papi/login.json", a.base)).form(&[
        ("username", creds["username"].as_str().unwrap()),
        ("password", creds["password"].as_str().unwrap()),
    ]))
    .await;
    assert_eq!(login["success"], 1, "{login}");
    let key = creds["sensor_key"].as_str().unwrap();
    for (i, node) in [&a, &b, &a, &b].iter().enumerate() {
        let confidence = (50 + i).to_string();
        let form = with(&ioc_form(key), "match_confidence", Some(&confidence));
        let v: Value = json(http.post(format!("{}{IOC}", node.base)).form(&pairs(&form))).await;
        assert_ok(&v);
        // The same push resent to the other node is recognised there.
        let other = if i % 2 == 0 { &b } else { &a };
        let again: Value = json(
            http.post(format!("{}{IOC}", other.base))
                .form(&pairs(&form)),
        )
        .await;
        assert_ok(&again);
    }
    for node in [&a, &b] {
        let list: Value = json(http.get(format!("{}{LIST}", node.base))).await;
        assert_eq!(
            list["data"]["events"].as_array().unwrap().len(),
            4,
            "{list}"
        );
        let incidents: Value = json(http.get(format!(
            "{}/papi/push_detection/incident/list.json?host=10.0.0.9",
            node.base
        )))
        .await;
        assert_eq!(
            incidents["data"]["incidents"][0]["event_count"], 4,
            "{incidents}"
        );
    }

    // A file submitted on A is scored by either node and read on B.
    let (_, result) = analysed(&a.base, &b.base, &creds).await;
    assert_eq!(result["score"], 100, "scored and read on B: {result}");
    a.kill9();
    b.kill9();
}

/// The incident workflow across two nodes of one PostgreSQL database: a change on one is
/// seen on the other at once, and analysts closing the same incident on both nodes at the
/// same moment leave one history whose records follow each other (each one's "before" is
/// the previous one's "after") and end in the incident's state.
#[tokio::test]
async fn two_nodes_share_the_incident_workflow_and_concurrent_closes_stay_consistent() {
    const UPDATE: &str = "/papi/push_detection/incident/update.json";
    const HISTORY: &str = "/papi/push_detection/incident/history.json";
    const INCIDENT: &str = "/papi/push_detection/incident/get.json";
    let db = PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let creds = init_postgres(dir.path(), &db);
    let flags = ["--database-url", db.url.as_str()];
    let a = Served::start_with(dir.path(), &flags);
    let b = Served::start_with(dir.path(), &flags);
    let (on_a, on_b) = (a.user_client(&creds).await, b.user_client(&creds).await);
    let key = creds["sensor_key"].as_str().unwrap();
    assert_ok(&on_a.post(IOC, &pairs(&ioc_form(key))).await);
    let listed = on_b
        .get_ok("/papi/push_detection/incident/list.json", &[])
        .await;
    let id = listed["incidents"][0]["incident_id"]
        .as_i64()
        .unwrap()
        .to_string();

    // Acknowledged on A, seen so on B.
    let ack = on_a
        .post(UPDATE, &[("incident_id", &id), ("status", "acknowledged")])
        .await;
    assert_eq!(ack["success"], 1, "{ack}");
    let seen = on_b.get_ok(INCIDENT, &[("incident_id", &id)]).await;
    assert_eq!(seen["status"], "acknowledged");

    // Rounds of two closes at once, one per node, with different resolutions; then back.
    for round in 0..5 {
        let close = |c: &Client, resolution: &'static str| {
            let id = id.clone();
            let c = c.clone();
            async move {
                c.post(
                    UPDATE,
                    &[
                        ("incident_id", &id),
                        ("status", "closed"),
                        ("resolution", resolution),
                    ],
                )
                .await
            }
        };
        let (x, y) = tokio::join!(close(&on_a, "benign"), close(&on_b, "false_positive"));
        for answer in [&x, &y] {
            assert_eq!(answer["success"], 1, "round {round}: {answer}");
        }
        let back = on_b
            .post(UPDATE, &[("incident_id", &id), ("status", "acknowledged")])
            .await;
        assert_eq!(back["success"], 1, "{back}");
    }
    let history = on_a.get_ok(HISTORY, &[("incident_id", &id)]).await;
    let records: Vec<&Value> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "incident.status")
        .collect();
    assert_eq!(records.len(), 1 + 5 * 3, "{history}");
    for pair in records.windows(2) {
        assert_eq!(
            pair[1]["before"], pair[0]["after"],
            "each change starts where the previous one ended: {history}"
        );
    }
    let last = &records.last().unwrap()["after"];
    let now = on_b.get_ok(INCIDENT, &[("incident_id", &id)]).await;
    assert_eq!(now["status"], last["status"]);
    assert_eq!(now["status"], "acknowledged");
    a.kill9();
    b.kill9();
}

/// Submits EICAR to `base` with per-request license credentials and waits until `read`
/// (the same server or another node) answers its result.
async fn analysed(base: &str, read: &str, creds: &Value) -> (String, Value) {
    let http = reqwest::Client::new();
    let (key, token) = (
        creds["access_key"].as_str().unwrap(),
        creds["api_token"].as_str().unwrap(),
    );
    let eicar = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*".to_vec();
    let form = reqwest::multipart::Form::new()
        .text("key", key.to_owned())
        .text("api_token", token.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(eicar).file_name("eicar.com"),
        );
    let submitted = json(
        http.post(format!("{base}/analysis/submit/file.json"))
            .multipart(form),
    )
    .await;
    let uuid = submitted["data"]["task_uuid"].as_str().unwrap().to_owned();
    for _ in 0..200 {
        let v = json(http.post(format!("{read}/analysis/get.json")).form(&[
            ("key", key),
            ("api_token", token),
            ("uuid", uuid.as_str()),
        ]))
        .await;
        if v["success"] == 1 {
            return (uuid, v["data"].clone());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{uuid} was not scored, read on {read}");
}

#[tokio::test]
async fn migrate_copies_an_embedded_installation_into_postgres_without_loss() {
    let db = PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let creds = init_json(dir.path());
    let (before_events, before_incidents, task, result) = {
        let server = Served::start(dir.path());
        let c = server.user_client(&creds).await;
        let key = creds["sensor_key"].as_str().unwrap();
        let (task, result) = analysed(&server.base, &server.base, &creds).await;
        let download = with(&download_form(key), "task_uuid", Some(&task));
        assert_ok(&c.post(FILE_DOWNLOAD, &pairs(&download)).await);
        for (i, at) in [
            "2026-01-01 10:00:00",
            "2026-01-01 10:30:00",
            "2026-01-02 10:00:00",
        ]
        .iter()
        .enumerate()
        {
            let f = with(&ioc_form(key), "check_time_end", Some(at));
            let f = with(&f, "match_confidence", Some(&(60 + i).to_string()));
            assert_ok(&c.post(IOC, &pairs(&f)).await);
        }
        let events = c.get_ok(LIST, &[]).await;
        let incidents = c
            .get_ok("/papi/push_detection/incident/list.json", &[])
            .await;
        assert!(server.terminate());
        (events, incidents, task, result)
    };

    let data = dir.path().to_str().unwrap();
    let report = run_json(&[
        "migrate",
        "--from",
        data,
        "--database-url",
        &db.url,
        "--json",
    ]);
    assert_eq!(report["verified"], true);
    assert_eq!(report["tables"]["events"], 4, "{report}");
    assert_eq!(report["tables"]["tasks"], 1, "{report}");
    // Copying again would mix two installations: refused, naming the reason.
    let (ok, _, err) = run(&["migrate", "--from", data, "--database-url", &db.url]);
    assert!(!ok && err.contains("not empty"), "{err}");
    let (ok, _, err) = run(&[
        "migrate",
        "--from",
        "/nonexistent",
        "--database-url",
        &db.url,
    ]);
    assert!(!ok && err.contains("no pushdetect database"), "{err}");

    // The same credentials, events, incidents and analysis, now served from PostgreSQL.
    let server = Served::start_with(dir.path(), &["--database-url", db.url.as_str()]);
    assert!(
        !server.printed.contains("initialised"),
        "{}",
        server.printed
    );
    let c = server.user_client(&creds).await;
    assert_eq!(c.get_ok(LIST, &[]).await, before_events);
    assert_eq!(
        c.get_ok("/papi/push_detection/incident/list.json", &[])
            .await,
        before_incidents
    );
    let license = [
        ("key", creds["access_key"].as_str().unwrap()),
        ("api_token", creds["api_token"].as_str().unwrap()),
        ("uuid", task.as_str()),
    ];
    let got = json(
        reqwest::Client::new()
            .post(format!("{}/analysis/get.json", server.base))
            .form(&license),
    )
    .await;
    assert_eq!(got["data"], result);
    // New events continue after the copied ids.
    let key = creds["sensor_key"].as_str().unwrap();
    assert_ok(&c.post(IOC, &pairs(&ioc_form(key))).await);
    assert_eq!(
        c.get_ok(LIST, &[("limit", "1")]).await["events"][0]["event_id"],
        5
    );
    server.kill9();
}

/// Pushes from `clients` concurrent sessions until the server dies; the hostnames of the
/// pushes it acknowledged with "OK".
async fn push_until_killed(server: Served, creds: &Value, clients: usize) -> Vec<String> {
    let key = creds["sensor_key"].as_str().unwrap().to_owned();
    let mut workers = Vec::new();
    for w in 0..clients {
        let c = server.user_client(creds).await;
        let key = key.clone();
        workers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0.. {
                let host = format!("crash-{w}-{i}");
                let form = with(&ioc_form(&key), "hostname", Some(&host));
                let sent = c
                    .http
                    .post(format!("{}{IOC}", c.base()))
                    .form(&pairs(&form))
                    .timeout(std::time::Duration::from_secs(10))
                    .send()
                    .await;
                let Ok(response) = sent else { break };
                let Ok(v) = response.json::<Value>().await else {
                    break;
                };
                if v == serde_json::json!({"success": 1, "data": "OK"}) {
                    acknowledged.push(host);
                }
            }
            acknowledged
        }));
    }
    // Kill while pushes are in flight: after some have been acknowledged.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.kill9();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    all
}

/// `pushdetect backup` while 8 clients push: the snapshot, restored into a new data dir
/// and served, holds every push acknowledged before the backup began, once; the restored
/// server takes pushes again.
#[tokio::test]
async fn a_backup_under_push_load_restores_every_event_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let creds = init_json(&data);
    let server = Served::start(&data);
    let key = creds["sensor_key"].as_str().unwrap().to_owned();
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..8 {
        let c = server.user_client(&creds).await;
        let (key, acknowledged, stop) = (key.clone(), acknowledged.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let host = format!("backup-{w}-{i}");
                i += 1;
                let form = with(&ioc_form(&key), "hostname", Some(&host));
                assert_ok(&c.post(IOC, &pairs(&form)).await);
                acknowledged.lock().unwrap().push(host);
            }
        }));
    }
    // Some pushes in, then the backup while they go on.
    while acknowledged.lock().unwrap().len() < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let file = dir.path().join("snapshot.db");
    let d = data.to_str().unwrap();
    let f = file.to_str().unwrap();
    let snapshot = tokio::task::spawn_blocking({
        let (d, f) = (d.to_owned(), f.to_owned());
        move || run_json(&["backup", "--data-dir", &d, "--to", &f, "--json"])
    })
    .await
    .unwrap();
    let during = acknowledged.lock().unwrap().len();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    assert!(during > before.len(), "pushes went on during the backup");
    let events = snapshot["events"].as_i64().unwrap() as usize;
    assert!(events >= before.len(), "{snapshot}");
    // Never over a file, never into a data dir that has a database.
    let (ok, _, err) = run(&["backup", "--data-dir", d, "--to", f]);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = run(&["restore", "--from", f, "--data-dir", d]);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = run(&[
        "backup",
        "--database-url",
        "postgres://postgres@127.0.0.1/x",
        "--to",
        "/tmp/never",
    ]);
    assert!(!ok && err.contains("pg_dump"), "{err}");
    drop(server);

    let restored = dir.path().join("restored");
    let r = run_json(&[
        "restore",
        "--from",
        f,
        "--data-dir",
        restored.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(r["events"], snapshot["events"]);
    let server = Served::start(&restored);
    let c = server.user_client(&creds).await;
    let stored = stored_hosts(&c).await;
    for host in &before {
        assert_eq!(
            stored.get(host),
            Some(&1),
            "{host} acknowledged before the backup"
        );
    }
    assert_eq!(stored.len(), events);
    assert_ok(&c.post(IOC, &pairs(&ioc_form(&key))).await);
}

/// The PostgreSQL recipe of docs/operations.md, as written there: pg_dump in the custom
/// format, a new database, pg_restore; a server on the restored database has the events.
#[tokio::test]
async fn the_documented_pg_dump_recipe_restores_a_postgres_installation() {
    let dir = tempfile::tempdir().unwrap();
    let (db, restored_db) = (PgDatabase::new(), PgDatabase::new());
    let creds = init_postgres(dir.path(), &db);
    let server = Served::start_with(dir.path(), &["--database-url", &db.url]);
    let c = server.user_client(&creds).await;
    let key = creds["sensor_key"].as_str().unwrap();
    for i in 0..20 {
        let host = format!("pg-{i}");
        assert_ok(
            &c.post(IOC, &pairs(&with(&ioc_form(key), "hostname", Some(&host))))
                .await,
        );
    }
    let dump = dir.path().join("pushdetect.dump");
    let sh = |script: &str| {
        let out = Command::new("sh")
            .args(["-ec", script])
            .env("DATABASE_URL", &db.url)
            .env("RESTORED_URL", &restored_db.url)
            .env("ADMIN_URL", PgDatabase::admin_url())
            .env("DUMP", &dump)
            .env("RESTORED", &restored_db.name)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // While the server runs: pg_dump reads one consistent snapshot.
    sh(r#"pg_dump --format=custom --file="$DUMP" "$DATABASE_URL""#);
    drop(server);
    sh(r#"psql "$ADMIN_URL" -qc "CREATE DATABASE $RESTORED""#);
    sh(r#"pg_restore --no-owner --exit-on-error --dbname="$RESTORED_URL" "$DUMP""#);
    let server = Served::start_with(dir.path(), &["--database-url", &restored_db.url]);
    let c = server.user_client(&creds).await;
    let stored = stored_hosts(&c).await;
    assert_eq!(stored.len(), 20, "{stored:?}");
    assert_ok(&c.post(IOC, &pairs(&ioc_form(key))).await);
}

/// A database a newer pushdetect migrated is refused with what to do, and left as it was;
/// so is a snapshot of one.
#[tokio::test]
async fn a_database_of_a_newer_version_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_json(&data);
    let db = data.join("pushdetect.db");
    let mut conn =
        <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!("sqlite:{}", db.display()))
            .await
            .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99999, 'from the future', 1, x'00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    drop(conn);
    let (ok, _, err) = run(&[
        "admin",
        "--data-dir",
        data.to_str().unwrap(),
        "account",
        "list",
    ]);
    assert!(!ok, "{err}");
    assert!(
        err.contains("written by a newer pushdetect") && err.contains("99999"),
        "{err}"
    );
    let snapshot = dir.path().join("s.db");
    run_json(&[
        "backup",
        "--data-dir",
        data.to_str().unwrap(),
        "--to",
        snapshot.to_str().unwrap(),
        "--json",
    ]);
    let target = dir.path().join("other");
    let (ok, _, err) = run(&[
        "restore",
        "--from",
        snapshot.to_str().unwrap(),
        "--data-dir",
        target.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("newer pushdetect"), "{err}");
    assert!(!target.join("pushdetect.db").exists());
    // Not a database at all.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    let (ok, _, err) = run(&[
        "restore",
        "--from",
        junk.to_str().unwrap(),
        "--data-dir",
        target.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("not a usable pushdetect database"),
        "{err}"
    );
}

/// Every event of the account, following cursors: hostname → how often stored.
async fn stored_hosts(c: &Client) -> std::collections::BTreeMap<String, usize> {
    let mut seen = std::collections::BTreeMap::new();
    let mut cursor = String::new();
    loop {
        let page = c
            .get_ok(LIST, &[("limit", "1000"), ("cursor", cursor.as_str())])
            .await;
        for e in page["events"].as_array().unwrap() {
            let host = e["raw_parameters"]["hostname"].as_str().unwrap().to_owned();
            *seen.entry(host).or_insert(0) += 1;
        }
        if page["more_results_available"] == 0 {
            return seen;
        }
        cursor = page["next_cursor"].as_str().unwrap().to_owned();
    }
}

/// kill -9 under 16 concurrent pushers, restart: every acknowledged push is there, once.
async fn acknowledged_pushes_survive_kill_9(dir: &Path, flags: &[&str], creds: &Value) {
    for round in 0..2 {
        let server = Served::start_with(dir, flags);
        let acknowledged = push_until_killed(server, creds, 16).await;
        assert!(
            !acknowledged.is_empty(),
            "round {round}: nothing acknowledged"
        );
        let server = Served::start_with(dir, flags);
        let c = server.user_client(creds).await;
        let stored = stored_hosts(&c).await;
        for host in &acknowledged {
            assert_eq!(stored.get(host), Some(&1), "round {round}: {host}");
        }
        assert!(
            stored.values().all(|n| *n == 1),
            "round {round}: a push stored twice"
        );
        server.kill9();
    }
}

#[tokio::test]
async fn acknowledged_pushes_survive_kill_9_under_load_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let creds = init_json(dir.path());
    acknowledged_pushes_survive_kill_9(dir.path(), &[], &creds).await;
}

#[tokio::test]
async fn acknowledged_pushes_survive_kill_9_under_load_on_postgres() {
    let db = PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let creds = init_postgres(dir.path(), &db);
    acknowledged_pushes_survive_kill_9(dir.path(), &["--database-url", db.url.as_str()], &creds)
        .await;
}

/// A self-signed certificate for localhost and 127.0.0.1, written as `name.pem` and
/// `name.key`; the certificate's PEM.
fn write_certificate(dir: &Path, name: &str) -> String {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), cert.cert.pem()).unwrap();
    std::fs::write(
        dir.join(format!("{name}.key")),
        cert.key_pair.serialize_pem(),
    )
    .unwrap();
    cert.cert.pem()
}

fn trusting(pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .cookie_store(true)
        .build()
        .unwrap()
}

#[tokio::test]
async fn https_is_built_in_with_http2_hsts_secure_cookies_and_reload_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let creds = init_json(dir.path());
    let certs = tempfile::tempdir().unwrap();
    let first = write_certificate(certs.path(), "served");
    let cert = certs.path().join("served.pem");
    let key = certs.path().join("served.key");
    let server = Served::start_with(
        dir.path(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let http = trusting(&first);
    let health = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let login = http
        .post(format!("{}/papi/login.json", server.base))
        .form(&[
            ("username", creds["username"].as_str().unwrap()),
            ("password", creds["password"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
    // Plain HTTP on the HTTPS port gets nothing.
    let plain = server.base.replace("https://", "http://");
    assert!(reqwest::get(format!("{plain}/healthz")).await.is_err());

    // curl, trusting the certificate, speaks HTTP/2 (ALPN) and HTTP/1.1.
    for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_version} %{http_code}",
            ])
            .args(["--cacert", cert.to_str().unwrap(), flag])
            .arg(format!("{}/healthz", server.base))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{version} 200")
        );
    }

    // A renewed certificate is served after SIGHUP, without a restart.
    let renewed = write_certificate(certs.path(), "served");
    server.hangup();
    let mut served_renewed = false;
    for _ in 0..100 {
        if trusting(&renewed)
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .is_ok()
        {
            served_renewed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(served_renewed, "the renewed certificate was not served");
    assert!(trusting(&first)
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .is_err());
    // A broken file on SIGHUP keeps the certificate in use.
    std::fs::write(&cert, "not a certificate").unwrap();
    server.hangup();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let health = trusting(&renewed)
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(server.terminate());
}

/// 2,000 events pushed, their webhook deliveries under way to a slow receiver, the server
/// killed with SIGKILL twice and restarted: the receiver ends with every event, and what
/// it got twice came with a delivery id it had already seen.
#[tokio::test]
async fn every_delivery_arrives_after_kill_9_twice_and_repeats_keep_their_id() {
    use crate::forwarding::{create, signed_by, Receiver};
    use std::collections::{HashMap, HashSet};
    const EVENTS: usize = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let creds = init_json(dir.path());
    let flags = ["--node-name", "crash-test"];
    let hook = Receiver::start(std::time::Duration::from_millis(4)).await;
    let server = Served::start_with(dir.path(), &flags);
    let admin = server.user_client(&creds).await;
    let created = create(&admin, &[("name", "siem"), ("target", &hook.url)]).await;
    let key = created["signing_key"].as_str().unwrap().to_owned();
    let sensor = creds["sensor_key"].as_str().unwrap();
    for batch in 0..EVENTS / 100 {
        let items: Vec<Value> = (0..100)
            .map(|i| batch_item("push_result", &ioc_numbered(sensor, batch * 100 + i)))
            .collect();
        let answer = admin
            .http
            .post(format!(
                "{}/papi/push_detection/batch/push_events.json",
                server.base
            ))
            .header("Content-Type", "application/json")
            .body(Value::from(items).to_string())
            .send()
            .await
            .unwrap();
        let answer: Value = answer.json().await.unwrap();
        assert_eq!(answer["success"], 1, "{answer}");
    }
    // Killed while delivering, twice, each time restarted under the same node name.
    hook.wait_for_within(300, std::time::Duration::from_secs(60))
        .await;
    server.kill9();
    let server = Served::start_with(dir.path(), &flags);
    hook.wait_for_within(1_000, std::time::Duration::from_secs(60))
        .await;
    server.kill9();
    let server = Served::start_with(dir.path(), &flags);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let events = |got: &[crate::forwarding::Received]| -> HashSet<i64> {
        got.iter()
            .map(|r| r.body["event"]["event_id"].as_i64().unwrap())
            .collect()
    };
    while events(&hook.received()).len() < EVENTS {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {EVENTS} events arrived",
            events(&hook.received()).len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let got = hook.received();
    let admin = server.user_client(&creds).await;
    let stored: HashSet<i64> = admin.get_ok(LIST, &[("limit", "1000")]).await["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_i64().unwrap())
        .collect();
    assert!(stored.is_subset(&events(&got)));
    assert_eq!(events(&got).len(), EVENTS, "each stored event, none other");
    // A repeat is the same delivery, with the same event, signed again.
    let mut seen: HashMap<String, i64> = HashMap::new();
    let mut repeats = 0;
    for r in &got {
        assert!(signed_by(r, &key));
        let event = r.body["event"]["event_id"].as_i64().unwrap();
        if let Some(before) = seen.insert(r.delivery.clone(), event) {
            assert_eq!(before, event, "delivery {} carried one event", r.delivery);
            repeats += 1;
        }
    }
    assert_eq!(seen.len(), EVENTS, "one delivery id per event");
    assert_eq!(got.len(), EVENTS + repeats);
    server.kill9();
}

/// `pushdetect admin destination`: add (the key printed once), list, test, disable,
/// remove; refusals name the flag's parameter. (The receiver answers on another thread
/// while a command blocks this one.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_manages_destinations_and_sends_a_test_message() {
    use crate::forwarding::{signed_by, Receiver};
    let dir = tempfile::tempdir().unwrap();
    init_json(dir.path());
    let d = dir.path().to_str().unwrap();
    let hook = Receiver::start(std::time::Duration::ZERO).await;
    let admin = |args: &[&str]| {
        let mut all = vec!["admin", "--data-dir", d, "--json", "destination"];
        all.extend_from_slice(args);
        run(&all)
    };
    let (ok, out, err) = admin(&[
        "add",
        "1",
        "chat",
        &hook.url,
        "--types",
        "ioc",
        "--min-impact",
        "50",
    ]);
    assert!(ok, "{err}");
    let added: Value = serde_json::from_str(out.trim()).unwrap();
    let key = added["signing_key"].as_str().unwrap().to_owned();
    assert_eq!(added["filter"]["types"], serde_json::json!(["ioc"]));
    let (_, listed, _) = admin(&["list", "1"]);
    assert!(
        listed.contains("\"chat\"") && !listed.contains(&key),
        "{listed}"
    );
    let (ok, out, err) = admin(&["test", "1", "chat"]);
    assert!(ok, "{out}{err}");
    let got = hook.wait_for(1).await;
    assert!(signed_by(&got[0], &key));
    assert_eq!(got[0].body["event"]["tool_name"], "destination test");

    let (ok, _, err) = admin(&["add", "1", "x", &hook.url, "--format", "cef"]);
    assert!(!ok && err.contains("'format'"), "{err}");
    let (ok, _, err) = admin(&[
        "add",
        "1",
        "x",
        "tls://siem.example",
        "--ca-file",
        "/nonexistent.pem",
    ]);
    assert!(!ok && err.contains("/nonexistent.pem"), "{err}");
    let (ok, _, err) = admin(&["test", "1", "nothing"]);
    assert!(!ok && err.contains("no destination 'nothing'"), "{err}");
    let (ok, _, err) = admin(&["add", "1", "down", "tcp://127.0.0.1:9"]);
    assert!(ok, "{err}");
    let (ok, _, err) = admin(&["test", "1", "down"]);
    assert!(!ok && err.contains("not delivered"), "{err}");
    for step in [
        &["disable", "1", "chat"][..],
        &["enable", "1", "chat"],
        &["remove", "1", "chat"],
        &["remove", "1", "down"],
    ] {
        let (ok, _, err) = admin(step);
        assert!(ok, "{step:?}: {err}");
    }
    let (_, listed, _) = admin(&["list", "1"]);
    assert_eq!(listed.trim(), "[]");
}

/// Two nodes on one PostgreSQL database share a destination's outbox: events pushed to
/// both arrive once each, never sent by both nodes (one holds the destination's lease).
#[tokio::test]
async fn two_nodes_share_the_outbox_and_send_each_delivery_once() {
    use crate::forwarding::{create, Receiver};
    use std::collections::HashSet;
    const EVENTS: usize = 400;
    let db = PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let creds = init_postgres(dir.path(), &db);
    let hook = Receiver::start(std::time::Duration::from_millis(1)).await;
    let a = Served::start_with(
        dir.path(),
        &["--database-url", db.url.as_str(), "--node-name", "a"],
    );
    let b = Served::start_with(
        dir.path(),
        &["--database-url", db.url.as_str(), "--node-name", "b"],
    );
    let on_a = a.user_client(&creds).await;
    let on_b = b.user_client(&creds).await;
    create(&on_a, &[("name", "siem"), ("target", &hook.url)]).await;
    let key = creds["sensor_key"].as_str().unwrap();
    let pushes = (0..EVENTS).map(|i| {
        let node = if i % 2 == 0 { &on_a } else { &on_b };
        async move { assert_ok(&node.post(IOC, &pairs(&ioc_numbered(key, i))).await) }
    });
    futures::future::join_all(pushes).await;
    hook.wait_for_within(EVENTS, std::time::Duration::from_secs(60))
        .await;
    // Time for a second sending of anything, were two nodes sending.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let got = hook.received();
    let ids: HashSet<&str> = got.iter().map(|r| r.delivery.as_str()).collect();
    assert_eq!(got.len(), EVENTS, "each delivery once");
    assert_eq!(ids.len(), EVENTS);
    let listed = on_b.get_ok(crate::forwarding::DESTINATIONS, &[]).await;
    assert_eq!(listed["destinations"][0]["pending"], 0, "{listed}");
    a.kill9();
    b.kill9();
}
