//! The address a request comes from, seen through trusted reverse proxies.
//!
//! Behind a reverse proxy every connection comes from the proxy; the client's address is in
//! `X-Forwarded-For`, which anyone can also send. It is believed only from the proxies the
//! operator lists (`serve --trusted-proxy`), and read from the right: each trusted proxy
//! appends the address it saw, so the first address from the right that is not itself a
//! trusted proxy is the client. Anything unreadable falls back to the peer.

use crate::listener::PeerAddr;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};

/// Entries of `X-Forwarded-For` read at most (a longer chain is not believed further).
const MAX_HOPS: usize = 16;

/// The client's address, for throttling and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The client address of a request from `peer` carrying `headers`.
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |a: &IpAddr| trusted.iter().any(|net| net.contains(&canonical(*a)));
    if !is_trusted(&peer) {
        return canonical(peer);
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = canonical(peer);
    for hop in hops.iter().rev().take(MAX_HOPS) {
        let Some(addr) = parse_hop(hop) else { break };
        client = canonical(addr);
        if !is_trusted(&client) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, possibly with a port or in brackets.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(a) = hop.parse() {
        return Some(a);
    }
    if let Ok(sa) = hop.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse().ok())
}

/// IPv4 addresses mapped into IPv6 (a dual-stack listener's view) as plain IPv4.
fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

impl ClientAddr {
    /// The client address of a request with these extensions and headers.
    pub fn of(extensions: &Extensions, headers: &HeaderMap, app: &AppState) -> ClientAddr {
        let peer = extensions
            .get::<ConnectInfo<PeerAddr>>()
            .map(|ConnectInfo(PeerAddr(a))| a.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        ClientAddr(client_addr(peer, headers, &app.config.trusted_proxies))
    }
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Infallible> {
        Ok(ClientAddr::of(&parts.extensions, &parts.headers, app))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let h = headers(&["198.51.100.7, 10.1.1.1"]);
        // Not from a proxy: the header is ignored.
        assert_eq!(
            client_addr(ip("203.0.113.9"), &h, &trusted),
            ip("203.0.113.9")
        );
        // From a proxy: the first untrusted address from the right.
        assert_eq!(
            client_addr(ip("10.0.0.2"), &h, &trusted),
            ip("198.51.100.7")
        );
        // A client cannot hide behind an address it made up on the left.
        let h = headers(&["1.2.3.4", "198.51.100.7"]);
        assert_eq!(
            client_addr(ip("10.0.0.2"), &h, &trusted),
            ip("198.51.100.7")
        );
        // Ports, brackets and mapped IPv4 are read; garbage stops the walk at the proxy.
        let h = headers(&["[2001:db8::1]:443"]);
        assert_eq!(client_addr(ip("::1"), &h, &trusted), ip("2001:db8::1"));
        let h = headers(&["198.51.100.7:5000"]);
        assert_eq!(
            client_addr(ip("::ffff:10.0.0.2"), &h, &trusted),
            ip("198.51.100.7")
        );
        let h = headers(&["not-an-address"]);
        assert_eq!(client_addr(ip("10.0.0.2"), &h, &trusted), ip("10.0.0.2"));
        assert_eq!(
            client_addr(ip("10.0.0.2"), &HeaderMap::new(), &[]),
            ip("10.0.0.2")
        );
    }
}
