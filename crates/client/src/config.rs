//! Client configuration: `papi_client.ini` files as Lastline's clients read them, an
//! `[analysis]` section for the Analyst API, and environment variables over both.
//!
//! ```ini
//! [papi]
//! url = https://HOST/papi
//! auth_method = account          # or: license
//! username = analyst@example.com
//! password = ...
//! api_key = ...                  # with auth_method = license
//! api_token = ...
//! verify_ssl = True
//! timeout = 60
//! key = ACCESS_KEY:SUBKEY        # optional: the sensor key used for pushes
//! ca_bundle = /etc/ssl/corp.pem  # optional
//! proxy = http://proxy:3128      # optional: HTTPS proxy
//!
//! [analysis]
//! url = https://HOST
//! key = ...
//! api_token = ...
//! ```
//!
//! Text after whitespace and `#` or `;` is a comment, as in the example above. Environment
//! variables `PAPI_<NAME>` override the PAPI section (`PAPI_URL`, `PAPI_PASSWORD`, ...) and
//! `ANALYSIS_<NAME>` the analysis section.

use crate::error::ClientError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// How the client logs in to the PAPI.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// auth_method = account: a user of the account.
    Account {
        /// The username.
        username: String,
        /// The password.
        password: String,
    },
    /// auth_method = license: a license's access key and API token.
    License {
        /// The license's access key.
        api_key: String,
        /// The license's API token.
        api_token: String,
    },
}

impl std::fmt::Debug for Auth {
    /// Secrets are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Account { username, .. } => write!(f, "Account({username}, password ***)"),
            Auth::License { api_key, .. } => write!(f, "License({api_key}, api_token ***)"),
        }
    }
}

/// Connection settings shared by both APIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transport {
    /// Verify the server's TLS certificate (on unless `verify_ssl = False`).
    pub verify_ssl: bool,
    /// Extra CA certificates (PEM) to trust, e.g. a company CA.
    pub ca_bundle: Option<PathBuf>,
    /// Proxy for HTTPS (and HTTP) requests.
    pub proxy: Option<String>,
    /// Time limit of one request.
    pub timeout: Duration,
}

impl Default for Transport {
    fn default() -> Self {
        Transport {
            verify_ssl: true,
            ca_bundle: None,
            proxy: None,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Where and how to reach the PAPI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PapiConfig {
    /// Base URL, ending in `/papi`.
    pub url: Url,
    /// Login method and credentials.
    pub auth: Auth,
    /// The sensor key pushes use when no other is given.
    pub key: Option<String>,
    /// Connection settings.
    pub transport: Transport,
}

/// Where and how to reach the Analyst API.
#[derive(Clone, PartialEq, Eq)]
pub struct AnalysisConfig {
    /// Base URL (without `/papi`).
    pub url: Url,
    /// A license's access key.
    pub key: String,
    /// The license's API token.
    pub api_token: String,
    /// Connection settings.
    pub transport: Transport,
}

impl std::fmt::Debug for AnalysisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AnalysisConfig({}, key {}, api_token ***)",
            self.url, self.key
        )
    }
}

/// Everything the commands need; either API may be unconfigured.
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    /// The PAPI, when configured.
    pub papi: Option<PapiConfig>,
    /// The Analyst API, when configured (or derived from a license login to the PAPI).
    pub analysis: Option<AnalysisConfig>,
    /// Why there is no PAPI url, when a file was read: what it holds instead.
    pub no_papi_because: Option<String>,
}

/// Raw settings of one section, after environment overrides.
type Section = BTreeMap<String, String>;

fn strip_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for i in 1..bytes.len() {
        if (bytes[i] == b'#' || bytes[i] == b';') && bytes[i - 1].is_ascii_whitespace() {
            return value[..i].trim_end();
        }
    }
    value.trim()
}

fn read_sections(path: &Path) -> Result<BTreeMap<String, Section>, ClientError> {
    let options = ini::ParseOption {
        enabled_quote: false,
        enabled_escape: false,
        ..ini::ParseOption::default()
    };
    let parsed = ini::Ini::load_from_file_opt(path, options).map_err(|e| {
        ClientError::Config(match e {
            ini::Error::Parse(p) => format!(
                "cannot read {}: line {}, column {}: {} (lines are `name = value` under a \
                 `[papi]` header)",
                path.display(),
                p.line,
                p.col,
                p.msg
            ),
            ini::Error::Io(e) => format!("cannot read {}: {e}", path.display()),
        })
    })?;
    let mut sections = BTreeMap::new();
    for (name, props) in parsed.iter() {
        let section: Section = props
            .iter()
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), strip_comment(v).to_owned()))
            .collect();
        sections.insert(name.unwrap_or_default().to_owned(), section);
    }
    Ok(sections)
}

/// Why `path` gave no PAPI url in `[section]`, from what it holds instead (the sections
/// left after the PAPI's and the analysis's were taken out): the usual slips are keys
/// above any section header and a header spelled in another case.
fn missing_url(path: &Path, section: &str, rest: &BTreeMap<String, Section>) -> String {
    let file = path.display();
    let near = rest
        .iter()
        .find(|(name, keys)| name.eq_ignore_ascii_case(section) && keys.contains_key("url"));
    if let Some((name, _)) = near {
        return format!(
            "{file} has no url in [{section}]: its section is spelled [{name}], and section \
             names are case-sensitive (as for Lastline's client)"
        );
    }
    if rest.get("").is_some_and(|keys| keys.contains_key("url")) {
        return format!(
            "{file} has no url in [{section}]: url and the lines with it come before any \
             section header; put a line [{section}] above them"
        );
    }
    let sections: Vec<String> = rest
        .keys()
        .filter(|n| !n.is_empty())
        .map(|n| format!("[{n}]"))
        .collect();
    format!(
        "{file} has no url in [{section}] (the file has {}); add `url = https://HOST/papi` \
         there, or set PAPI_URL",
        if sections.is_empty() {
            "no other section".to_owned()
        } else {
            format!("the sections {}", sections.join(", "))
        }
    )
}

fn overlay(mut section: Section, prefix: &str, env: &dyn Fn(&str) -> Option<String>) -> Section {
    for name in [
        "url",
        "auth_method",
        "username",
        "password",
        "api_key",
        "api_token",
        "key",
        "verify_ssl",
        "timeout",
        "ca_bundle",
        "proxy",
    ] {
        if let Some(v) = env(&format!("{prefix}_{}", name.to_ascii_uppercase())) {
            section.insert(name.to_owned(), v);
        }
    }
    section.retain(|_, v| !v.is_empty());
    section
}

/// Python's boolean spellings, as configparser's getboolean accepts them.
fn parse_bool(name: &str, v: &str) -> Result<bool, ClientError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Ok(true),
        "0" | "no" | "false" | "off" => Ok(false),
        _ => Err(ClientError::Config(format!(
            "'{name}' must be True or False, not '{v}'"
        ))),
    }
}

fn transport(section: &Section) -> Result<Transport, ClientError> {
    let mut t = Transport::default();
    if let Some(v) = section.get("verify_ssl") {
        t.verify_ssl = parse_bool("verify_ssl", v)?;
    }
    if let Some(v) = section.get("timeout") {
        let secs: f64 = v.parse().ok().filter(|s: &f64| *s > 0.0).ok_or_else(|| {
            ClientError::Config(format!("'timeout' must be a number of seconds, not '{v}'"))
        })?;
        t.timeout = Duration::from_secs_f64(secs);
    }
    t.ca_bundle = section.get("ca_bundle").map(PathBuf::from);
    t.proxy = section.get("proxy").cloned();
    Ok(t)
}

fn need<'a>(section: &'a Section, name: &str, what: &str) -> Result<&'a str, ClientError> {
    section
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| ClientError::Config(format!("'{name}' is missing: {what}")))
}

fn parse_url(name: &str, v: &str) -> Result<Url, ClientError> {
    Url::parse(v.trim_end_matches('/'))
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| ClientError::Config(format!("'{name}' must be an http(s) URL, not '{v}'")))
}

fn papi(section: &Section) -> Result<Option<PapiConfig>, ClientError> {
    let Some(url) = section.get("url") else {
        return Ok(None);
    };
    let url = parse_url("url", url)?;
    let method = section
        .get("auth_method")
        .map(|m| m.to_ascii_lowercase())
        .unwrap_or_else(|| "account".into());
    let auth = match method.as_str() {
        "account" => Auth::Account {
            username: need(
                section,
                "username",
                "the account user (auth_method = account)",
            )?
            .into(),
            password: need(section, "password", "the user's password")?.into(),
        },
        "license" => Auth::License {
            api_key: need(
                section,
                "api_key",
                "the license's access key (auth_method = license)",
            )?
            .into(),
            api_token: need(section, "api_token", "the license's API token")?.into(),
        },
        other => {
            return Err(ClientError::Config(format!(
                "'auth_method' must be account or license, not '{other}'"
            )))
        }
    };
    Ok(Some(PapiConfig {
        url,
        auth,
        key: section.get("key").cloned(),
        transport: transport(section)?,
    }))
}

fn analysis(
    section: &Section,
    papi: Option<&PapiConfig>,
) -> Result<Option<AnalysisConfig>, ClientError> {
    if let Some(url) = section.get("url") {
        return Ok(Some(AnalysisConfig {
            url: parse_url("analysis url", url)?,
            key: need(
                section,
                "key",
                "the license's access key for the Analyst API",
            )?
            .into(),
            api_token: need(section, "api_token", "the license's API token")?.into(),
            transport: transport(section)?,
        }));
    }
    // A license login to the PAPI also reaches the Analyst API of the same server.
    Ok(papi.and_then(|p| match &p.auth {
        Auth::License { api_key, api_token } => {
            let mut url = p.url.clone();
            let path = url
                .path()
                .trim_end_matches('/')
                .trim_end_matches("/papi")
                .to_owned();
            url.set_path(&path);
            Some(AnalysisConfig {
                url,
                key: api_key.clone(),
                api_token: api_token.clone(),
                transport: p.transport.clone(),
            })
        }
        Auth::Account { .. } => None,
    }))
}

impl ClientConfig {
    /// The default file: `./papi_client.ini` if present, else
    /// `$HOME/.config/pushdetect/papi_client.ini` if present.
    pub fn default_file() -> Option<PathBuf> {
        let local = PathBuf::from("papi_client.ini");
        if local.is_file() {
            return Some(local);
        }
        let home = std::env::var_os("HOME").map(PathBuf::from)?;
        Some(home.join(".config/pushdetect/papi_client.ini")).filter(|p| p.is_file())
    }

    /// Reads `file` (if any), section `section` for the PAPI and `[analysis]` for the
    /// Analyst API, with the environment (`env`) over both.
    pub fn load(
        file: Option<&Path>,
        section: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ClientConfig, ClientError> {
        let mut sections = match file {
            Some(path) => read_sections(path)?,
            None => BTreeMap::new(),
        };
        if let Some(path) = file {
            if section != "papi" && !sections.contains_key(section) {
                return Err(ClientError::Config(format!(
                    "{} has no section [{section}]",
                    path.display()
                )));
            }
        }
        let papi_section = overlay(sections.remove(section).unwrap_or_default(), "PAPI", env);
        let analysis_section = overlay(
            sections.remove("analysis").unwrap_or_default(),
            "ANALYSIS",
            env,
        );
        let papi = papi(&papi_section)?;
        let analysis = analysis(&analysis_section, papi.as_ref())?;
        let no_papi_because = match (file, &papi) {
            (Some(path), None) => Some(missing_url(path, section, &sections)),
            _ => None,
        };
        Ok(ClientConfig {
            papi,
            analysis,
            no_papi_because,
        })
    }

    /// The PAPI settings, or an error saying how to provide them.
    pub fn require_papi(&self) -> Result<&PapiConfig, ClientError> {
        self.papi.as_ref().ok_or_else(|| {
            ClientError::Config(self.no_papi_because.clone().unwrap_or_else(|| {
                "no PAPI url: give --config FILE (papi_client.ini) or set PAPI_URL".into()
            }))
        })
    }

    /// The Analyst API settings, or an error saying how to provide them.
    pub fn require_analysis(&self) -> Result<&AnalysisConfig, ClientError> {
        self.analysis.as_ref().ok_or_else(|| {
            ClientError::Config(
                "no Analyst API: add an [analysis] section (url, key, api_token), set \
                 ANALYSIS_URL, ANALYSIS_KEY and ANALYSIS_API_TOKEN, or log in to the PAPI \
                 with auth_method = license"
                    .into(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<ClientConfig, ClientError> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ClientConfig::load(Some(f.path()), "papi", &|k| env.get(k).cloned())
    }

    /// The message of a file that gives no PAPI url.
    fn no_papi(text: &str) -> String {
        match load(text, &[]).and_then(|c| c.require_papi().cloned()) {
            Err(ClientError::Config(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_file_without_a_papi_url_says_what_it_holds_instead() {
        let m = no_papi("url = https://h.example/papi\nusername = u\npassword = p\n");
        assert!(
            m.contains("before any section header") && m.contains("[papi]"),
            "{m}"
        );
        let m = no_papi("[PAPI]\nurl = https://h.example/papi\n");
        assert!(
            m.contains("spelled [PAPI]") && m.contains("case-sensitive"),
            "{m}"
        );
        let m = no_papi("[server]\nhost = x\n");
        assert!(
            m.contains("the sections [server]") && m.contains("url = https://HOST/papi"),
            "{m}"
        );
        // A line that is no `name = value` is refused with its line.
        match load("[papi]\nurl https://h.example/papi\n[x\n", &[]) {
            Err(ClientError::Config(m)) => {
                assert!(m.contains("line ") && m.contains("column "), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_documented_file_reads_with_its_inline_comments() {
        let c = load(
            "[papi]\nurl = https://h.example/papi\nauth_method = account          # or: license\n\
             username = analyst@example.com\npassword = p#ss;word\nverify_ssl = False\ntimeout = 5\n",
            &[],
        )
        .unwrap();
        let p = c.papi.unwrap();
        assert_eq!(p.url.as_str(), "https://h.example/papi");
        assert_eq!(
            p.auth,
            Auth::Account {
                username: "analyst@example.com".into(),
                password: "p#ss;word".into()
            }
        );
        assert!(!p.transport.verify_ssl);
        assert_eq!(p.transport.timeout, Duration::from_secs(5));
        assert!(c.analysis.is_none(), "account login gives no Analyst API");
    }

    #[test]
    fn license_login_also_configures_the_analyst_api_and_env_overrides() {
        let c = load(
            "[papi]\nurl = http://h:8080/papi/\nauth_method = license\napi_key = K\napi_token = T\n",
            &[("PAPI_API_TOKEN", "T2")],
        )
        .unwrap();
        let a = c.analysis.unwrap();
        assert_eq!(a.url.as_str(), "http://h:8080/");
        assert_eq!((a.key.as_str(), a.api_token.as_str()), ("K", "T2"));
    }

    #[test]
    fn errors_name_the_setting() {
        let e = load("[papi]\nurl = h\n", &[]).unwrap_err().to_string();
        assert!(e.contains("'url'"), "{e}");
        let e = load("[papi]\nurl = http://h/papi\nauth_method = sso\n", &[]).unwrap_err();
        assert!(e.to_string().contains("auth_method"), "{e}");
        let e = load("[papi]\nurl = http://h/papi\nusername = u\n", &[]).unwrap_err();
        assert!(e.to_string().contains("'password'"), "{e}");
        let e = load(
            "[papi]\nurl = http://h/papi\nusername = u\npassword = p\nverify_ssl = maybe\n",
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("verify_ssl"), "{e}");
    }
}
