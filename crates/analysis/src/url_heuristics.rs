//! URL heuristics and the operator's blocklist, scored and explained like file rules.

use crate::Finding;
use std::collections::HashSet;
use url::{Host, Url};

/// Why a URL cannot be analysed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid URL: {0}")]
pub struct InvalidUrl(pub String);

/// Parses a submitted URL: absolute, http, https or ftp, with a host.
pub fn parse_url(text: &str) -> Result<Url, InvalidUrl> {
    let url = Url::parse(text.trim()).map_err(|e| InvalidUrl(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https" | "ftp") {
        return Err(InvalidUrl(format!(
            "scheme '{}' is not http, https or ftp",
            url.scheme()
        )));
    }
    if url.host().is_none() {
        return Err(InvalidUrl("no host".into()));
    }
    Ok(url)
}

/// File extensions of executables and scripts that run when opened.
const EXECUTABLE_EXTENSIONS: &[&str] = &[
    "exe", "scr", "com", "pif", "msi", "bat", "cmd", "ps1", "hta", "js", "jse", "vbs", "vbe",
    "wsf", "jar", "apk", "dll", "cpl", "lnk", "iso",
];

/// Ports on which web content is ordinarily served.
const USUAL_PORTS: &[u16] = &[80, 443, 8080, 8443, 21];

/// Hosts (and their subdomains) and URL prefixes the operator blocks.
#[derive(Debug, Clone, Default)]
pub struct UrlBlocklist {
    hosts: HashSet<String>,
    prefixes: Vec<String>,
}

impl UrlBlocklist {
    /// Parses one entry a line: a host name (blocks it and its subdomains) or a URL prefix
    /// (with scheme). Blank lines and `#` comments are skipped.
    pub fn parse(text: &str) -> UrlBlocklist {
        let mut list = UrlBlocklist::default();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.contains("://") {
                list.prefixes.push(line.to_ascii_lowercase());
            } else {
                list.hosts
                    .insert(line.trim_end_matches('.').to_ascii_lowercase());
            }
        }
        list
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.hosts.len() + self.prefixes.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn blocks(&self, url: &Url) -> Option<String> {
        let host = url.host_str()?.to_ascii_lowercase();
        let mut candidate = host.as_str();
        loop {
            if self.hosts.contains(candidate) {
                return Some(candidate.to_owned());
            }
            match candidate.split_once('.') {
                Some((_, parent)) => candidate = parent,
                None => break,
            }
        }
        let full = url.as_str().to_ascii_lowercase();
        self.prefixes
            .iter()
            .find(|p| full.starts_with(p.as_str()))
            .cloned()
    }
}

fn finding(rule: &str, score: u8, description: String) -> Finding {
    Finding {
        source: "url".into(),
        rule: rule.into(),
        score,
        description,
        path: None,
    }
}

/// The heuristic findings for a URL.
pub fn assess(url: &Url, blocklist: &UrlBlocklist) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(entry) = blocklist.blocks(url) {
        out.push(finding(
            "url_blocklisted",
            100,
            format!("URL is on the operator's blocklist ({entry})"),
        ));
    }
    match url.host() {
        Some(Host::Ipv4(_)) | Some(Host::Ipv6(_)) => out.push(finding(
            "url_ip_literal_host",
            40,
            "URL names its host by IP address instead of a domain name".into(),
        )),
        Some(Host::Domain(d)) if d.split('.').any(|l| l.starts_with("xn--")) => out.push(finding(
            "url_punycode_host",
            50,
            format!("URL host uses punycode ({d}), a way to imitate a known name"),
        )),
        _ => {}
    }
    if !url.username().is_empty() || url.password().is_some() {
        out.push(finding(
            "url_embedded_credentials",
            50,
            "URL carries credentials before the host (user@host), a way to disguise the real host"
                .into(),
        ));
    }
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    if let Some((_, ext)) = last.rsplit_once('.') {
        let ext = ext.to_ascii_lowercase();
        if EXECUTABLE_EXTENSIONS.contains(&ext.as_str()) {
            out.push(finding(
                "url_direct_executable",
                60,
                format!("URL downloads an executable file directly ({last})"),
            ));
        }
    }
    if let Some(port) = url.port() {
        if !USUAL_PORTS.contains(&port) {
            out.push(finding(
                "url_unusual_port",
                30,
                format!("URL uses the unusual port {port}"),
            ));
        }
    }
    out
}
