//! A pushed event of any of the three kinds, and the push request that carries it.

use crate::error::ApiError;
use crate::file_download::FileDownload;
use crate::ioc::IocResult;
use crate::mail::MailCaptured;
use crate::method::{MethodSpec, PUSH_FILE_DOWNLOAD, PUSH_IOC_RESULT, PUSH_MAIL};
use crate::network::NetworkSelection;
use crate::params::{FormParams, ParamReader};
use crate::reporter::Reporter;
use crate::values::{TaskUuid, Timestamp};
use serde::Serialize;
use std::fmt;

/// The kind of an event, as named by the read API's `type` filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A file download (`push_file_download`).
    FileDownload,
    /// An IOC check result (`push_result`).
    Ioc,
    /// A captured mail (`push_mail`).
    Mail,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 3] = [EventKind::FileDownload, EventKind::Ioc, EventKind::Mail];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::FileDownload => "file_download",
            EventKind::Ioc => "ioc",
            EventKind::Mail => "mail",
        }
    }

    /// Every kind's name, in order: what a `type` filter accepts and a form offers.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|k| k.as_str()).collect()
    }

    /// What a refused `type` is told is expected: "one of file_download, ioc, mail".
    pub fn expected() -> String {
        format!("one of {}", Self::names().join(", "))
    }

    /// Reads a stored or requested name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The push method that creates events of this kind.
    pub fn method(self) -> &'static MethodSpec {
        match self {
            EventKind::FileDownload => &PUSH_FILE_DOWNLOAD,
            EventKind::Ioc => &PUSH_IOC_RESULT,
            EventKind::Mail => &PUSH_MAIL,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A detection pushed by a third-party tool.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Event {
    /// A file download.
    FileDownload(FileDownload),
    /// An IOC check result.
    Ioc(IocResult),
    /// A captured mail.
    Mail(MailCaptured),
}

impl Event {
    /// Its kind.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::FileDownload(_) => EventKind::FileDownload,
            Event::Ioc(_) => EventKind::Ioc,
            Event::Mail(_) => EventKind::Mail,
        }
    }

    /// The tool that reported it.
    pub fn reporter(&self) -> &Reporter {
        match self {
            Event::FileDownload(e) => &e.reporter,
            Event::Ioc(e) => &e.reporter,
            Event::Mail(e) => &e.reporter,
        }
    }

    /// When it happened according to the tool, if the tool said.
    pub fn occurred_at(&self) -> Option<Timestamp> {
        match self {
            Event::FileDownload(e) => e.download_time,
            Event::Ioc(e) => e.check_time_end.or(e.check_time_start),
            Event::Mail(e) => Some(e.message.received_timestamp),
        }
    }

    /// The hosts of the protected network it is about: addresses and names, normalised
    /// (IP addresses in canonical form, names in lower case). Mail recipients count as hosts.
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts = Vec::new();
        match self {
            Event::FileDownload(e) => {
                hosts.push(e.src_ip.to_string());
                hosts.extend(e.src_hostname.iter().map(|h| h.as_str().to_owned()));
            }
            Event::Ioc(e) => {
                hosts.extend(e.main_ipv4.iter().map(|a| a.to_string()));
                hosts.extend(e.main_ipv6.iter().map(|a| a.to_string()));
                hosts.push(e.hostname.as_str().to_owned());
                hosts.extend(
                    e.netbios_name
                        .iter()
                        .map(|n| n.as_str().to_ascii_lowercase()),
                );
            }
            Event::Mail(e) => {
                hosts.extend(
                    e.message
                        .recipients
                        .iter()
                        .map(|r| r.as_str().to_ascii_lowercase()),
                );
            }
        }
        hosts.sort();
        hosts.dedup();
        hosts
    }

    /// Reads the event of a push of this kind; `now` is the receive time, the default of
    /// a mail's received_timestamp.
    pub fn read(kind: EventKind, reader: &ParamReader, now: Timestamp) -> Result<Self, ApiError> {
        Ok(match kind {
            EventKind::FileDownload => Event::FileDownload(FileDownload::read(reader)?),
            EventKind::Ioc => Event::Ioc(IocResult::read(reader)?),
            EventKind::Mail => Event::Mail(MailCaptured::read(reader, now)?),
        })
    }

    /// Rebuilds a stored event from the parameters it was pushed with (the store keeps them
    /// exactly as received) and its receive time, with the parser that accepted it: a stored
    /// event is as valid as a pushed one. It fails only for an event that an older version
    /// accepted and this one refuses; readers then show the raw parameters alone.
    pub fn from_stored(
        kind: EventKind,
        raw_params: &serde_json::Value,
        received_at: Timestamp,
    ) -> Result<Self, ApiError> {
        let params = FormParams::from_json(raw_params);
        let reader = ParamReader::new(kind.method(), &params)?;
        Self::read(kind, &reader, received_at)
    }

    /// One line saying what the event is about, for event lists and exports (the action
    /// and impact have their own columns).
    pub fn summary(&self) -> String {
        match self {
            Event::FileDownload(e) => {
                let from = match (&e.destination.dst_hostname, e.destination.dst_ip) {
                    (Some(name), _) => name.as_str().to_owned(),
                    (None, Some(ip)) => ip.to_string(),
                    (None, None) => "?".to_owned(),
                };
                format!("{} from {from}", e.filename.as_str())
            }
            Event::Ioc(e) => format!(
                "IOC {} from {}: {}",
                e.ioc_uuid.as_str(),
                e.ioc_source.as_str(),
                if e.ioc_matched {
                    "matched"
                } else {
                    "not matched"
                }
            ),
            Event::Mail(e) => format!("{} from {}", e.message.subject, e.message.sender.as_str()),
        }
    }

    /// The analysis tasks it refers to.
    pub fn task_uuids(&self) -> Vec<&TaskUuid> {
        match self {
            Event::FileDownload(e) => vec![&e.task_uuid],
            Event::Ioc(_) => Vec::new(),
            Event::Mail(e) => e
                .attachments
                .iter()
                .filter_map(|a| a.task_uuid.as_ref())
                .chain(e.urls.iter().filter_map(|u| u.task_uuid.as_ref()))
                .collect(),
        }
    }
}

/// A push: the event and the sensor it is recorded against.
#[derive(Debug, Clone, PartialEq)]
pub struct PushRequest {
    /// The sensor named by `key` or `key_id` + `subkey_id`.
    pub network: NetworkSelection,
    /// The event.
    pub event: Event,
}

impl PushRequest {
    /// Parses the form parameters of a push of the given kind. `now` is the receive time,
    /// the default of a mail's received_timestamp.
    pub fn parse(kind: EventKind, params: &FormParams, now: Timestamp) -> Result<Self, ApiError> {
        let reader = ParamReader::new(kind.method(), params)?;
        let event = Event::read(kind, &reader, now)?;
        let network = NetworkSelection::read(&reader)?;
        Ok(PushRequest { network, event })
    }
}
