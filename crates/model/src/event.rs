//! A pushed event of any of the three kinds, what every kind says about itself
//! ([`Detection`]), and the push request that carries it.

use crate::error::ApiError;
use crate::file_download::FileDownload;
use crate::grouping::GroupBy;
use crate::ioc::IocResult;
use crate::mail::MailCaptured;
use crate::method::MethodSpec;
use crate::network::NetworkSelection;
use crate::params::{FormParams, ParamReader};
use crate::reporter::Reporter;
use crate::values::{ItemAction, TaskUuid, Timestamp};
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
            EventKind::FileDownload => FileDownload::METHOD,
            EventKind::Ioc => IocResult::METHOD,
            EventKind::Mail => MailCaptured::METHOD,
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

/// What each kind of event says about itself. Each kind's type implements it in its own
/// file (`file_download.rs`, `ioc.rs`, `mail.rs`), and [`Event`] hands every question to
/// it: adding a kind is one file, one variant of [`EventKind`] and of [`Event`], and one
/// arm in each `match` over them, which the compiler lists.
pub trait Detection: Sized {
    /// Its kind.
    const KIND: EventKind;
    /// The push method that carries it.
    const METHOD: &'static MethodSpec;

    /// Reads it from the parameters of a push, already checked by `reader`; `now` is the
    /// receive time.
    fn read(reader: &ParamReader, now: Timestamp) -> Result<Self, ApiError>;
    /// The tool that reported it.
    fn reporter(&self) -> &Reporter;
    /// When it happened according to the tool, if the tool said.
    fn occurred_at(&self) -> Option<Timestamp>;
    /// The machines of the protected network it is about, each named by every identifier
    /// the event gives it (see [`Event::machines`]), normalised, in any order.
    fn machines(&self) -> Vec<Vec<String>>;

    /// One line saying what it is about, for event lists and exports.
    fn summary(&self) -> String;
    /// The analysis tasks it refers to.
    fn task_uuids(&self) -> Vec<&TaskUuid>;
    /// The strongest action the reporting tool took, for tools that report actions.
    fn action(&self) -> Option<ItemAction> {
        None
    }
    /// The impact known from the event alone, before any analysis score (see
    /// [`crate::triage`]).
    fn base_impact(&self) -> Option<u8>;
}

/// Evaluates `$body` with `$e` bound to the event inside `$event`, whichever its kind.
macro_rules! each_kind {
    ($event:expr, $e:ident => $body:expr) => {
        match $event {
            Event::FileDownload($e) => $body,
            Event::Ioc($e) => $body,
            Event::Mail($e) => $body,
        }
    };
}

impl Event {
    /// Its kind.
    pub fn kind(&self) -> EventKind {
        fn kind_of<D: Detection>(_: &D) -> EventKind {
            D::KIND
        }
        each_kind!(self, e => kind_of(e))
    }

    /// The tool that reported it.
    pub fn reporter(&self) -> &Reporter {
        each_kind!(self, e => e.reporter())
    }

    /// When it happened according to the tool, if the tool said.
    pub fn occurred_at(&self) -> Option<Timestamp> {
        each_kind!(self, e => e.occurred_at())
    }

    /// The hosts of the protected network it is about: addresses and names, normalised
    /// (IP addresses in canonical form, names in lower case), sorted, each once. Mail
    /// recipients count as hosts.
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self.machines().into_iter().flatten().collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }

    /// The machines it is about, each with every identifier the event names it by (an IOC
    /// check's addresses, host name and NetBIOS name are one machine; each mail recipient
    /// is a mailbox of its own): sorted, each identifier once per machine, each machine
    /// once. Incidents group events by machine (see `crate::grouping`).
    pub fn machines(&self) -> Vec<Vec<String>> {
        let mut machines: Vec<Vec<String>> = each_kind!(self, e => e.machines())
            .into_iter()
            .map(|mut ids| {
                ids.sort();
                ids.dedup();
                ids
            })
            .filter(|ids| !ids.is_empty())
            .collect();
        machines.sort();
        machines.dedup();
        machines
    }

    /// The keys an account's grouping rules may group it by instead of by machine: a
    /// mail's sender, an IOC's uuid (lower case). A task's SHA-256 is known to the store.
    pub fn group_keys(&self) -> Vec<(GroupBy, String)> {
        match self {
            Event::Mail(m) => vec![(
                GroupBy::MailSender,
                m.message.sender.as_str().to_ascii_lowercase(),
            )],
            Event::Ioc(i) => vec![(GroupBy::IocUuid, i.ioc_uuid.as_str().to_ascii_lowercase())],
            Event::FileDownload(_) => Vec::new(),
        }
    }

    /// One line saying what the event is about, for event lists and exports (the action
    /// and impact have their own columns).
    pub fn summary(&self) -> String {
        each_kind!(self, e => e.summary())
    }

    /// The analysis tasks it refers to.
    pub fn task_uuids(&self) -> Vec<&TaskUuid> {
        each_kind!(self, e => e.task_uuids())
    }

    /// The strongest action the reporting tool took (see [`crate::triage`]).
    pub fn action(&self) -> Option<ItemAction> {
        each_kind!(self, e => e.action())
    }

    /// The impact known from the event alone, before any analysis score (see
    /// [`crate::triage`]).
    pub fn base_impact(&self) -> Option<u8> {
        each_kind!(self, e => e.base_impact())
    }

    /// Reads the event of a push of this kind; `now` is the receive time, the default of
    /// a mail's received_timestamp.
    pub fn read(kind: EventKind, reader: &ParamReader, now: Timestamp) -> Result<Self, ApiError> {
        Ok(match kind {
            EventKind::FileDownload => Event::FileDownload(Detection::read(reader, now)?),
            EventKind::Ioc => Event::Ioc(Detection::read(reader, now)?),
            EventKind::Mail => Event::Mail(Detection::read(reader, now)?),
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
