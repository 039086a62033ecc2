//! Syslog: RFC 5424 messages, sent over TCP with octet-counting framing (RFC 6587), over
//! TLS (RFC 5425, framed the same way) or one per UDP datagram (RFC 5426).
//!
//! Each message carries its delivery id (and the event or incident id) in a structured
//! data element `[pushdetect@32473 delivery="…" event="…"]`, so that a receiver can drop
//! the repeats that at-least-once delivery allows. Plain syslog has no acknowledgement: a
//! message written to a TCP connection the receiver then drops may be lost; the sender
//! checks that the connection is still open before each batch, and docs/forwarding.md
//! says which transport to choose.

use crate::destination::Prepared;
use crate::payload::Built;
use crate::SendError;
use pushdetect_model::forwarding::{SyslogTransport, Target};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The longest wait to connect or to write a batch.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest UDP message sent; longer ones are cut (receivers cut them anyway: rsyslog's
/// default is 8 KiB). Choose TCP or TLS for mails with large fields.
pub const MAX_UDP_BYTES: usize = 65_000;
/// The private enterprise number of the structured data id (RFC 5612's example number:
/// pushdetect has none of its own).
pub const SD_ID: &str = "pushdetect@32473";

/// The syslog severity of an impact: 2 (critical) from 80, 3 (error) from 60, 4 (warning)
/// from 40, 5 (notice) below or unknown.
pub fn severity(impact: Option<i64>) -> u8 {
    match impact {
        Some(i) if i >= 80 => 2,
        Some(i) if i >= 60 => 3,
        Some(i) if i >= 40 => 4,
        _ => 5,
    }
}

/// A structured data parameter value: `"`, `\` and `]` escaped (RFC 5424 6.3.3).
fn param(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(']', "\\]")
}

/// The host name field: printable ASCII without spaces, at most 255, else "-".
fn header_word(value: &str, max: usize) -> String {
    let v: String = value
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v
    }
}

/// The RFC 5424 message of a delivery, sent at `now_ms` by `hostname`.
pub fn message(b: &Built, facility: u8, hostname: &str, now_ms: i64) -> String {
    let pri = u16::from(facility.min(23)) * 8 + u16::from(severity(b.impact));
    let time = chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ");
    let msgid = if b.event_id.is_some() {
        "event"
    } else {
        "incident"
    };
    let mut sd = format!(
        "[{SD_ID} delivery=\"{}\" change=\"{}\"",
        b.delivery_id,
        param(&b.change)
    );
    if let Some(e) = b.event_id {
        sd.push_str(&format!(" event=\"{e}\""));
    }
    if let Some(i) = b.incident_id {
        sd.push_str(&format!(" incident=\"{i}\""));
    }
    sd.push(']');
    format!(
        "<{pri}>1 {time} {} pushdetect - {msgid} {sd} {}",
        header_word(hostname, 255),
        b.text
    )
}

/// A message framed by octet counting: its length in bytes, a space, the message.
pub fn octet_counted(message: &str) -> Vec<u8> {
    let mut out = format!("{} ", message.len()).into_bytes();
    out.extend_from_slice(message.as_bytes());
    out
}

/// An open connection to a syslog server.
enum Connection {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Udp(UdpSocket),
}

/// Sends a destination's messages, keeping its connection open between batches.
pub struct SyslogSender {
    transport: SyslogTransport,
    host: String,
    port: u16,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    connection: Option<Connection>,
}

/// The TLS client configuration of a destination: its CA bundle (or the public web
/// roots), and its client certificate with the secret as key.
fn tls_connector(d: &Prepared) -> Result<TlsConnector, SendError> {
    let mut roots = rustls::RootCertStore::empty();
    match &d.options.ca_pem {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| SendError::Settings(format!("CA bundle: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| SendError::Settings(format!("CA bundle: {e}")))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SendError::Settings(e.to_string()))?
        .with_root_certificates(roots);
    let config = match (&d.options.client_cert_pem, &d.secret) {
        (Some(chain), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(chain.as_bytes())
                    .collect::<Result<_, _>>()
                    .map_err(|e| SendError::Settings(format!("client certificate: {e}")))?;
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                .map_err(|e| SendError::Settings(format!("client key: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| SendError::Settings(format!("client certificate: {e}")))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

impl SyslogSender {
    /// A sender for a syslog destination; Settings if it is not one or its TLS settings
    /// are unusable.
    pub fn new(d: &Prepared) -> Result<Self, SendError> {
        let Target::Syslog {
            transport,
            host,
            port,
        } = &d.target
        else {
            return Err(SendError::Settings("not a syslog destination".into()));
        };
        let tls = match transport {
            SyslogTransport::Tls => {
                let name = d
                    .options
                    .server_name
                    .clone()
                    .unwrap_or_else(|| host.clone());
                let name = ServerName::try_from(name)
                    .map_err(|e| SendError::Settings(format!("server name: {e}")))?;
                Some((tls_connector(d)?, name))
            }
            _ => None,
        };
        Ok(SyslogSender {
            transport: *transport,
            host: host.clone(),
            port: *port,
            tls,
            connection: None,
        })
    }

    async fn connect(&self) -> Result<Connection, SendError> {
        let addr = (self.host.as_str(), self.port);
        let failed = |e: std::io::Error| {
            SendError::retry(format!("connect to {}:{}: {e}", self.host, self.port))
        };
        let timed =
            |what: &str| SendError::retry(format!("{what} {}:{} timed out", self.host, self.port));
        match self.transport {
            SyslogTransport::Udp => {
                let bind = if self.host.contains(':') {
                    "[::]:0"
                } else {
                    "0.0.0.0:0"
                };
                let socket = UdpSocket::bind(bind).await.map_err(failed)?;
                socket.connect(addr).await.map_err(failed)?;
                Ok(Connection::Udp(socket))
            }
            SyslogTransport::Tcp | SyslogTransport::Tls => {
                let tcp = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(addr))
                    .await
                    .map_err(|_| timed("connect to"))?
                    .map_err(failed)?;
                let _ = tcp.set_nodelay(true);
                match &self.tls {
                    None => Ok(Connection::Tcp(tcp)),
                    Some((connector, name)) => {
                        let tls =
                            tokio::time::timeout(IO_TIMEOUT, connector.connect(name.clone(), tcp))
                                .await
                                .map_err(|_| timed("TLS handshake with"))?
                                .map_err(|e| {
                                    SendError::retry(format!(
                                        "TLS handshake with {}:{}: {e}",
                                        self.host, self.port
                                    ))
                                })?;
                        Ok(Connection::Tls(Box::new(tls)))
                    }
                }
            }
        }
    }

    /// Whether a kept TCP connection was closed by the server (it sent end of stream).
    fn closed_by_peer(connection: &Connection) -> bool {
        match connection {
            Connection::Tcp(tcp) => {
                let mut probe = [0u8; 1];
                match tcp.try_read(&mut probe) {
                    Ok(0) => true,
                    Ok(_) => false,
                    Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                }
            }
            _ => false,
        }
    }

    /// Sends messages in order; on failure the connection is dropped (the next batch
    /// connects again) and nothing of the batch counts as sent.
    pub async fn send(&mut self, messages: &[String]) -> Result<(), SendError> {
        if self.connection.as_ref().is_some_and(Self::closed_by_peer) {
            self.connection = None;
        }
        if self.connection.is_none() {
            self.connection = Some(self.connect().await?);
        }
        let result = match self.connection.as_mut() {
            Some(Connection::Udp(socket)) => {
                let mut r = Ok(());
                for m in messages {
                    let bytes = &m.as_bytes()[..m.len().min(MAX_UDP_BYTES)];
                    if let Err(e) = socket.send(bytes).await {
                        r = Err(e);
                        break;
                    }
                }
                r
            }
            Some(Connection::Tcp(tcp)) => write_framed(tcp, messages).await,
            Some(Connection::Tls(tls)) => write_framed(tls.as_mut(), messages).await,
            None => Ok(()),
        };
        result.map_err(|e| {
            self.connection = None;
            SendError::retry(format!("send to {}:{}: {e}", self.host, self.port))
        })
    }
}

/// Writes octet-counted messages and flushes, within [`IO_TIMEOUT`].
async fn write_framed<W: tokio::io::AsyncWrite + Unpin>(
    w: &mut W,
    messages: &[String],
) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    for m in messages {
        bytes.extend(octet_counted(m));
    }
    tokio::time::timeout(IO_TIMEOUT, async {
        w.write_all(&bytes).await?;
        w.flush().await
    })
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "write timed out"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(text: &str) -> Built {
        Built {
            delivery_id: 7,
            change: "event".into(),
            event_id: Some(42),
            incident_id: None,
            impact: Some(81),
            text: text.into(),
        }
    }

    #[test]
    fn a_message_has_the_5424_header_and_its_delivery_in_structured_data() {
        let m = message(&built("CEF:0|x"), 1, "node 1", 1_700_000_000_123);
        assert_eq!(
            m,
            "<10>1 2023-11-14T22:13:20.123Z node1 pushdetect - event \
             [pushdetect@32473 delivery=\"7\" change=\"event\" event=\"42\"] CEF:0|x"
        );
        let mut incident = built("{}");
        incident.event_id = None;
        incident.incident_id = Some(3);
        incident.change = "new".into();
        incident.impact = None;
        let m = message(&incident, 16, "", 0);
        assert!(m.starts_with("<133>1 1970-01-01T00:00:00.000Z - pushdetect - incident [pushdetect@32473 delivery=\"7\" change=\"new\" incident=\"3\"] {}"), "{m}");
    }

    #[test]
    fn framing_counts_bytes_not_characters() {
        assert_eq!(octet_counted("é"), b"2 \xc3\xa9".to_vec());
        assert_eq!(param("a\"b\\c]"), "a\\\"b\\\\c\\]");
        assert_eq!(severity(Some(80)), 2);
        assert_eq!(severity(Some(79)), 3);
        assert_eq!(severity(Some(60)), 3);
        assert_eq!(severity(Some(40)), 4);
        assert_eq!(severity(Some(39)), 5);
        assert_eq!(severity(None), 5);
    }
}
