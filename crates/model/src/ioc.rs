//! The IOC result event of `push_result`.

use crate::error::ApiError;
use crate::event::{Detection, EventKind};
use crate::method::{MethodSpec, PUSH_IOC_RESULT};
use crate::params::{FormParams, ParamReader};
use crate::reporter::Reporter;
use crate::values::{
    parse_bool, parse_ipv4, parse_ipv6, parse_percent, Hostname, IocUuid, NetbiosName, TaskUuid,
    Text, Timestamp,
};
use serde::Serialize;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The result of checking one IOC on one host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IocResult {
    /// `ioc_uuid`.
    pub ioc_uuid: IocUuid,
    /// `ioc_source`.
    pub ioc_source: Text,
    /// `main_ipv4` (this or main_ipv6 is present).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_ipv4: Option<Ipv4Addr>,
    /// `main_ipv6`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_ipv6: Option<Ipv6Addr>,
    /// `ioc_matched`.
    pub ioc_matched: bool,
    /// `match_confidence`, 0 to 100.
    pub match_confidence: f64,
    /// `hostname`.
    pub hostname: Hostname,
    /// `check_time_start`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_time_start: Option<Timestamp>,
    /// `check_time_end`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_time_end: Option<Timestamp>,
    /// `ad_domain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ad_domain: Option<Text>,
    /// `workgroup`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workgroup: Option<Text>,
    /// `netbios_name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netbios_name: Option<NetbiosName>,
    /// Who reported it.
    #[serde(flatten)]
    pub reporter: Reporter,
}

impl IocResult {
    /// Parses the event from the parameters already checked by `reader`.
    pub fn read(r: &ParamReader<'_>) -> Result<Self, ApiError> {
        let main_ipv4 = r.parse_opt("main_ipv4", parse_ipv4)?;
        let main_ipv6 = r.parse_opt("main_ipv6", parse_ipv6)?;
        if main_ipv4.is_none() && main_ipv6.is_none() {
            return Err(ApiError::missing(
                "main_ipv4",
                "the main IPv4 address (main_ipv4) or IPv6 address (main_ipv6) of the checked host",
            ));
        }
        let check_time_start = r.parse_opt("check_time_start", Timestamp::parse)?;
        let check_time_end = r.parse_opt("check_time_end", Timestamp::parse)?;
        if let (Some(start), Some(end)) = (check_time_start, check_time_end) {
            if end < start {
                return Err(ApiError::invalid(
                    "check_time_end",
                    "a time not before check_time_start",
                ));
            }
        }
        Ok(IocResult {
            ioc_uuid: r.parse_req("ioc_uuid", "the UUID of the IOC", IocUuid::parse)?,
            ioc_source: r.parse_req("ioc_source", "the source of the IOC", Text::parse)?,
            main_ipv4,
            main_ipv6,
            ioc_matched: r.parse_req("ioc_matched", "True or False", parse_bool)?,
            match_confidence: r.parse_req(
                "match_confidence",
                "a number from 0 to 100",
                parse_percent,
            )?,
            hostname: r.parse_req("hostname", "the name of the checked host", Hostname::parse)?,
            check_time_start,
            check_time_end,
            ad_domain: r.parse_opt("ad_domain", Text::parse)?,
            workgroup: r.parse_opt("workgroup", Text::parse)?,
            netbios_name: r.parse_opt("netbios_name", NetbiosName::parse)?,
            reporter: Reporter::read(r)?,
        })
    }

    /// Parses a complete request.
    pub fn parse(params: &FormParams) -> Result<Self, ApiError> {
        Self::read(&ParamReader::new(&PUSH_IOC_RESULT, params)?)
    }
}

impl Detection for IocResult {
    const KIND: EventKind = EventKind::Ioc;
    const METHOD: &'static MethodSpec = &PUSH_IOC_RESULT;

    fn read(reader: &ParamReader, _now: Timestamp) -> Result<Self, ApiError> {
        IocResult::read(reader)
    }

    fn reporter(&self) -> &Reporter {
        &self.reporter
    }

    /// The end of the check, else its start.
    fn occurred_at(&self) -> Option<Timestamp> {
        self.check_time_end.or(self.check_time_start)
    }

    /// The checked machine: its addresses, its name and its NetBIOS name.
    fn machines(&self) -> Vec<Vec<String>> {
        let mut ids: Vec<String> = self.main_ipv4.iter().map(|a| a.to_string()).collect();
        ids.extend(self.main_ipv6.iter().map(|a| a.to_string()));
        ids.push(self.hostname.as_str().to_owned());
        ids.extend(
            self.netbios_name
                .iter()
                .map(|n| n.as_str().to_ascii_lowercase()),
        );
        vec![ids]
    }

    /// "IOC <uuid> from <source>: matched".
    fn summary(&self) -> String {
        let verdict = if self.ioc_matched {
            "matched"
        } else {
            "not matched"
        };
        format!(
            "IOC {} from {}: {verdict}",
            self.ioc_uuid.as_str(),
            self.ioc_source.as_str()
        )
    }

    fn task_uuids(&self) -> Vec<&TaskUuid> {
        Vec::new()
    }

    /// The match confidence of a match, 0 when the IOC did not match.
    fn base_impact(&self) -> Option<u8> {
        Some(if self.ioc_matched {
            self.match_confidence.round().clamp(0.0, 100.0) as u8
        } else {
            0
        })
    }
}
