//! The "file downloaded" event of `push_file_download`.

use crate::error::ApiError;
use crate::event::{Detection, EventKind};
use crate::method::{MethodSpec, PUSH_FILE_DOWNLOAD};
use crate::params::{FormParams, ParamReader};
use crate::reporter::Reporter;
use crate::values::{
    parse_ip, parse_port, ApplicationProtocol, FtpDirection, FtpMode, Hostname, SmbDirection,
    TaskUuid, Text, Timestamp, TransportProtocol,
};
use serde::Serialize;
use std::net::IpAddr;

/// Where the file came from: an address, a name, or both.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Destination {
    /// `dst_ip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_ip: Option<IpAddr>,
    /// `dst_hostname`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_hostname: Option<Hostname>,
}

/// Parameters that only exist for one application protocol.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ProtocolDetails {
    /// HTTP and HTTPS.
    Http {
        /// `http_user_agent`.
        #[serde(skip_serializing_if = "Option::is_none")]
        http_user_agent: Option<Text>,
        /// `http_referer`.
        #[serde(skip_serializing_if = "Option::is_none")]
        http_referer: Option<Text>,
        /// `http_content_disposition_filename`.
        #[serde(skip_serializing_if = "Option::is_none")]
        http_content_disposition_filename: Option<Text>,
    },
    /// FTP.
    Ftp {
        /// `ftp_mode`.
        #[serde(skip_serializing_if = "Option::is_none")]
        ftp_mode: Option<FtpMode>,
        /// `ftp_direction`.
        #[serde(skip_serializing_if = "Option::is_none")]
        ftp_direction: Option<FtpDirection>,
    },
    /// SMB.
    Smb {
        /// `smb_direction`.
        #[serde(skip_serializing_if = "Option::is_none")]
        smb_direction: Option<SmbDirection>,
        /// `smb_mount_point`.
        #[serde(skip_serializing_if = "Option::is_none")]
        smb_mount_point: Option<Text>,
    },
    /// "other": no protocol-specific parameters.
    None {},
}

/// A file that a host of the protected network downloaded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileDownload {
    /// The analysis task that analysed the file.
    pub task_uuid: TaskUuid,
    /// The downloading host.
    pub src_ip: IpAddr,
    /// The downloading host's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_hostname: Option<Hostname>,
    /// The source of the file.
    #[serde(flatten)]
    pub destination: Destination,
    /// HTTP, HTTPS, FTP, SMB or other.
    pub application_protocol: ApplicationProtocol,
    /// Full path of the file.
    pub filename: Text,
    /// When it was downloaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_time: Option<Timestamp>,
    /// TCP or UDP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport_protocol: Option<TransportProtocol>,
    /// Port on the downloading host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    /// Port on the remote host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_port: Option<u16>,
    /// Protocol-specific parameters.
    #[serde(flatten)]
    pub details: ProtocolDetails,
    /// Who reported it.
    #[serde(flatten)]
    pub reporter: Reporter,
}

const GROUPS: [(&str, &[&str]); 3] = [
    (
        "HTTP or HTTPS",
        &[
            "http_user_agent",
            "http_referer",
            "http_content_disposition_filename",
        ],
    ),
    ("FTP", &["ftp_mode", "ftp_direction"]),
    ("SMB", &["smb_direction", "smb_mount_point"]),
];

impl FileDownload {
    /// Parses the event from the parameters already checked by `reader`.
    pub fn read(r: &ParamReader<'_>) -> Result<Self, ApiError> {
        let task_uuid = r.parse_req(
            "task_uuid",
            "the uuid of the analysis task",
            TaskUuid::parse,
        )?;
        let src_ip = r.parse_req("src_ip", "the IP address of the downloading host", parse_ip)?;
        let destination = Destination {
            dst_ip: r.parse_opt("dst_ip", parse_ip)?,
            dst_hostname: r.parse_opt("dst_hostname", Hostname::parse)?,
        };
        if destination.dst_ip.is_none() && destination.dst_hostname.is_none() {
            return Err(ApiError::missing(
                "dst_ip",
                "the IP address (dst_ip) or host name (dst_hostname) the file was downloaded from",
            ));
        }
        let application_protocol = r.parse_req(
            "application_protocol",
            "one of HTTP, HTTPS, FTP, SMB, other",
            ApplicationProtocol::parse,
        )?;
        let details = read_details(r, application_protocol)?;
        Ok(FileDownload {
            task_uuid,
            src_ip,
            src_hostname: r.parse_opt("src_hostname", Hostname::parse)?,
            destination,
            application_protocol,
            filename: r.parse_req(
                "filename",
                "the full path of the downloaded file",
                Text::parse,
            )?,
            download_time: r.parse_opt("download_time", Timestamp::parse)?,
            transport_protocol: r.parse_opt("transport_protocol", TransportProtocol::parse)?,
            src_port: r.parse_opt("src_port", parse_port)?,
            dst_port: r.parse_opt("dst_port", parse_port)?,
            details,
            reporter: Reporter::read(r)?,
        })
    }

    /// Parses a complete request (used by clients to check a push before sending it).
    pub fn parse(params: &FormParams) -> Result<Self, ApiError> {
        Self::read(&ParamReader::new(&PUSH_FILE_DOWNLOAD, params)?)
    }
}

fn read_details(
    r: &ParamReader<'_>,
    protocol: ApplicationProtocol,
) -> Result<ProtocolDetails, ApiError> {
    let own = match protocol {
        ApplicationProtocol::Http | ApplicationProtocol::Https => Some(0),
        ApplicationProtocol::Ftp => Some(1),
        ApplicationProtocol::Smb => Some(2),
        ApplicationProtocol::Other => None,
    };
    for (i, (group, names)) in GROUPS.iter().enumerate() {
        if Some(i) == own {
            continue;
        }
        if let Some(name) = names.iter().find(|n| r.has(n)) {
            return Err(ApiError::conflict(format!(
                "parameter '{name}' is only allowed with application_protocol {group}, \
                 not with {protocol}"
            )));
        }
    }
    Ok(match protocol {
        ApplicationProtocol::Http | ApplicationProtocol::Https => ProtocolDetails::Http {
            http_user_agent: r.parse_opt("http_user_agent", Text::parse)?,
            http_referer: r.parse_opt("http_referer", Text::parse)?,
            http_content_disposition_filename: r
                .parse_opt("http_content_disposition_filename", Text::parse)?,
        },
        ApplicationProtocol::Ftp => ProtocolDetails::Ftp {
            ftp_mode: r.parse_opt("ftp_mode", FtpMode::parse)?,
            ftp_direction: r.parse_opt("ftp_direction", FtpDirection::parse)?,
        },
        ApplicationProtocol::Smb => ProtocolDetails::Smb {
            smb_direction: r.parse_opt("smb_direction", SmbDirection::parse)?,
            smb_mount_point: r.parse_opt("smb_mount_point", Text::parse)?,
        },
        ApplicationProtocol::Other => ProtocolDetails::None {},
    })
}

impl Detection for FileDownload {
    const KIND: EventKind = EventKind::FileDownload;
    const METHOD: &'static MethodSpec = &PUSH_FILE_DOWNLOAD;

    fn read(reader: &ParamReader, _now: Timestamp) -> Result<Self, ApiError> {
        FileDownload::read(reader)
    }

    fn reporter(&self) -> &Reporter {
        &self.reporter
    }

    fn occurred_at(&self) -> Option<Timestamp> {
        self.download_time
    }

    /// The downloading machine: its address and, when reported, its name.
    fn machines(&self) -> Vec<Vec<String>> {
        let mut ids = vec![self.src_ip.to_string()];
        ids.extend(self.src_hostname.iter().map(|h| h.as_str().to_owned()));
        vec![ids]
    }

    /// "invoice.exe from files.example.com".
    fn summary(&self) -> String {
        let from = match (&self.destination.dst_hostname, self.destination.dst_ip) {
            (Some(name), _) => name.as_str().to_owned(),
            (None, Some(ip)) => ip.to_string(),
            (None, None) => "?".to_owned(),
        };
        format!("{} from {from}", self.filename.as_str())
    }

    fn task_uuids(&self) -> Vec<&TaskUuid> {
        vec![&self.task_uuid]
    }

    /// Unknown until its task is scored.
    fn base_impact(&self) -> Option<u8> {
        None
    }
}
