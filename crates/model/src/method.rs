//! The parameter tables of every Push Detection API method: names, whether required, the
//! protocol group they belong to, their type and their documentation.
//!
//! One table serves the request parser (unknown names are refused), the OpenAPI document
//! and the interactive help, so the three can never disagree.

/// What a parameter holds, for documentation and the OpenAPI schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Free text.
    Text,
    /// An IPv4 or IPv6 address.
    Ip,
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// A host name.
    Hostname,
    /// A TCP/UDP port, 0-65535.
    Port,
    /// A point in time: epoch seconds, "YYYY-MM-DD HH:MM:SS" (UTC) or RFC 3339.
    Time,
    /// True/False (also true/false, 1/0, yes/no, on/off).
    Bool,
    /// A non-negative integer.
    Integer,
    /// A number from 0 to 100.
    Percent,
    /// A 32-hex-character analysis task uuid.
    TaskUuid,
    /// A UUID (hyphenated or 32 hex characters).
    Uuid,
    /// One of a fixed set of values (see `allowed`).
    Enum,
    /// A sensor key "access_key:subkey".
    SensorKey,
    /// A JSON document.
    Json,
    /// Text of several lines (comments, reasons): line breaks kept.
    Note,
}

impl ParamKind {
    /// A short description of the expected value, as used in error messages.
    pub fn expected(self) -> &'static str {
        match self {
            ParamKind::Text => "a non-empty text",
            ParamKind::Ip => "an IPv4 or IPv6 address",
            ParamKind::Ipv4 => "an IPv4 address such as 192.0.2.10",
            ParamKind::Ipv6 => "an IPv6 address such as 2001:db8::10",
            ParamKind::Hostname => "a host name such as host.example.com",
            ParamKind::Port => "a port number from 0 to 65535",
            ParamKind::Time => "a time as epoch seconds, 'YYYY-MM-DD HH:MM:SS' (UTC) or RFC 3339",
            ParamKind::Bool => "True or False",
            ParamKind::Integer => "a non-negative integer",
            ParamKind::Percent => "a number from 0 to 100",
            ParamKind::TaskUuid => "a task uuid of 32 hexadecimal characters",
            ParamKind::Uuid => "a UUID",
            ParamKind::Enum => "one of the allowed values",
            ParamKind::SensorKey => "a sensor key 'access_key:subkey'",
            ParamKind::Json => "a JSON document",
            ParamKind::Note => "a non-empty text (line breaks allowed)",
        }
    }
}

/// When a parameter must be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Always.
    Required,
    /// Exactly one side of the named one-of pair is required.
    OneOf(&'static str),
    /// Never.
    Optional,
}

/// One parameter of a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    /// The form field name.
    pub name: &'static str,
    /// Its value type.
    pub kind: ParamKind,
    /// When it must be given.
    pub requirement: Requirement,
    /// The protocol group it belongs to (only allowed with that protocol), if any.
    pub group: Option<&'static str>,
    /// Allowed values of an enum parameter.
    pub allowed: &'static [&'static str],
    /// What it means, from the spec.
    pub doc: &'static str,
}

/// One method: its name as in the spec, URL path under `/papi`, and parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodSpec {
    /// The dotted name, e.g. `push_detection.file_capture.push_file_download`.
    pub name: &'static str,
    /// Path below `/papi`, without the format suffix.
    pub path: &'static str,
    /// HTTP method.
    pub http_method: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// The parameters.
    pub params: &'static [ParamSpec],
}

impl MethodSpec {
    /// Looks a parameter up by name.
    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
}

pub(crate) const fn p(
    name: &'static str,
    kind: ParamKind,
    requirement: Requirement,
    doc: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind,
        requirement,
        group: None,
        allowed: &[],
        doc,
    }
}

pub(crate) const fn e(
    name: &'static str,
    allowed: &'static [&'static str],
    requirement: Requirement,
    doc: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Enum,
        requirement,
        group: None,
        allowed,
        doc,
    }
}

const fn grouped(group: &'static str, spec: ParamSpec) -> ParamSpec {
    ParamSpec {
        group: Some(group),
        ..spec
    }
}

use ParamKind as K;
use Requirement::{OneOf, Optional as Opt, Required as Req};

/// Group name of the network selection pair.
pub const NETWORK: &str = "network selection";

const KEY: ParamSpec = p(
    "key",
    K::SensorKey,
    OneOf(NETWORK),
    "Push the event as if detected by this sensor: a full sensor license key \
     'access_key:subkey'.",
);
const KEY_ID: ParamSpec = p(
    "key_id",
    K::Integer,
    OneOf(NETWORK),
    "Id of the license key; with subkey_id an alternative to key.",
);
const SUBKEY_ID: ParamSpec = p(
    "subkey_id",
    K::Integer,
    OneOf(NETWORK),
    "Id of the sensor subkey; with key_id an alternative to key.",
);
const VENDOR: ParamSpec = p(
    "vendor_name",
    K::Text,
    Req,
    "Vendor's name of the reporting tool.",
);
const TOOL: ParamSpec = p("tool_name", K::Text, Req, "Name of the reporting tool.");
const TOOL_VERSION: ParamSpec = p(
    "tool_version",
    K::Text,
    Opt,
    "Version of the reporting tool.",
);

/// Allowed application protocols.
pub const APPLICATION_PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "FTP", "SMB", "other"];

/// `push_detection.file_capture.push_file_download`.
pub const PUSH_FILE_DOWNLOAD: MethodSpec = MethodSpec {
    name: "push_detection.file_capture.push_file_download",
    path: "push_detection/file_capture/push_file_download",
    http_method: "POST",
    summary: "Push an event \"file downloaded\"",
    params: &[
        p("task_uuid", K::TaskUuid, Req, "UUID of the analysis task that analysed the downloaded file; it must have been submitted with the same license as the sensor key."),
        p("src_ip", K::Ip, Req, "IP of the host in the protected network that downloaded the file."),
        p("dst_ip", K::Ip, OneOf("destination"), "IP of the host the file has been downloaded from; one of dst_ip, dst_hostname is required."),
        p("dst_hostname", K::Hostname, OneOf("destination"), "Name of the host the file has been downloaded from; one of dst_ip, dst_hostname is required."),
        e("application_protocol", APPLICATION_PROTOCOLS, Req, "Protocol used to download the file."),
        p("filename", K::Text, Req, "Full path of the downloaded file."),
        VENDOR,
        TOOL,
        KEY,
        KEY_ID,
        SUBKEY_ID,
        p("download_time", K::Time, Opt, "Time of the download."),
        e("transport_protocol", &["TCP", "UDP"], Opt, "Transport protocol used to download."),
        p("src_port", K::Port, Opt, "Port used on the host in the protected network during transfer."),
        p("dst_port", K::Port, Opt, "Port used on the host the file has been downloaded from during transfer."),
        p("src_hostname", K::Hostname, Opt, "Name of the host in the protected network that downloaded the file."),
        TOOL_VERSION,
        grouped("HTTP", p("http_user_agent", K::Text, Opt, "User agent used for the download (HTTP and HTTPS only).")),
        grouped("HTTP", p("http_referer", K::Text, Opt, "Referer of the download (HTTP and HTTPS only).")),
        grouped("HTTP", p("http_content_disposition_filename", K::Text, Opt, "Filename suggested by the remote server (HTTP and HTTPS only).")),
        grouped("FTP", e("ftp_mode", &["active", "passive"], Opt, "FTP mode used during transfer (FTP only).")),
        grouped("FTP", e("ftp_direction", &["upload", "download"], Opt, "Direction of transfer (FTP only).")),
        grouped("SMB", e("smb_direction", &["read", "write"], Opt, "Direction of transfer (SMB only).")),
        grouped("SMB", p("smb_mount_point", K::Text, Opt, "Mount point of the SMB share (SMB only).")),
    ],
};

/// `push_detection.ioc.push_result`.
pub const PUSH_IOC_RESULT: MethodSpec = MethodSpec {
    name: "push_detection.ioc.push_result",
    path: "push_detection/ioc/push_result",
    http_method: "POST",
    summary: "Push an IOC result",
    params: &[
        VENDOR,
        TOOL,
        p(
            "ioc_uuid",
            K::Uuid,
            Req,
            "UUID of the IOC (also urn:uuid:…, {…}, or a STIX id such as indicator--…).",
        ),
        p("ioc_source", K::Text, Req, "Source of the IOC."),
        p("main_ipv4", K::Ipv4, OneOf("main address"), "Main IPv4 address of the host on which the IOC has been checked (required if main_ipv6 is not given)."),
        p("main_ipv6", K::Ipv6, OneOf("main address"), "Main IPv6 address of the host on which the IOC has been checked (required if main_ipv4 is not given)."),
        p("ioc_matched", K::Bool, Req, "True if the IOC matched."),
        p("match_confidence", K::Percent, Req, "Confidence in the IOC match, from 0 to 100."),
        p("hostname", K::Hostname, Req, "Name of the host on which the IOC has been checked."),
        KEY,
        KEY_ID,
        SUBKEY_ID,
        TOOL_VERSION,
        p("check_time_start", K::Time, Opt, "When the check was started (epoch seconds; the other time formats are accepted too)."),
        p("check_time_end", K::Time, Opt, "When the check was finished (epoch seconds; the other time formats are accepted too)."),
        p("ad_domain", K::Text, Opt, "Name of the Active Directory domain the tested host belongs to."),
        p("workgroup", K::Text, Opt, "Name of the Windows workgroup the tested host belongs to."),
        p("netbios_name", K::Text, Opt, "NetBIOS name of the tested host (at most 15 characters)."),
    ],
};

/// The same IOC method at the URL the spec prints, `/papi/push_detection/push_result`.
pub const PUSH_IOC_RESULT_SPEC_URL: MethodSpec = MethodSpec {
    path: "push_detection/push_result",
    ..PUSH_IOC_RESULT
};

/// `push_detection.mail_capture.push_mail`.
pub const PUSH_MAIL: MethodSpec = MethodSpec {
    name: "push_detection.mail_capture.push_mail",
    path: "push_detection/mail_capture/push_mail",
    http_method: "POST",
    summary: "Push a \"mail_captured\" event",
    params: &[
        p("mail_json_str", K::Json, Req, "JSON string representing the mail object (message, attachments, urls, action); see docs/api.md."),
        VENDOR,
        TOOL,
        KEY,
        KEY_ID,
        SUBKEY_ID,
        TOOL_VERSION,
    ],
};

/// Event types accepted by the `type` filter of the read API.
pub const EVENT_TYPES: &[&str] = &["file_download", "ioc", "mail"];

/// `push_detection.event.list`: the caller's events, newest first.
pub const EVENT_LIST: MethodSpec = MethodSpec {
    name: "push_detection.event.list",
    path: "push_detection/event/list",
    http_method: "GET",
    summary: "List the account's pushed events, newest first",
    params: &[
        e("type", EVENT_TYPES, Opt, "Only events of this type."),
        p("after", K::Time, Opt, "Only events that occurred at or after this time."),
        p("before", K::Time, Opt, "Only events that occurred before this time."),
        p("host", K::Text, Opt, "Only events about this host of the protected network: an IP address or a host name (src_ip, src_hostname, main_ipv4, main_ipv6, hostname, netbios_name, or a mail recipient), or any other identifier of the same machine."),
        p("vendor_name", K::Text, Opt, "Only events reported by this vendor."),
        p("tool_name", K::Text, Opt, "Only events reported by this tool."),
        p("sensor", K::Text, Opt, "Only events pushed for this sensor: 'access_key:subkey' or its subkey_id."),
        e("action", ACTIONS, Opt, "Only events whose strongest reported action is this one (mail gateways report actions)."),
        p("min_impact", K::Percent, Opt, "Only events of at least this impact (0-100: the highest of their tasks' analysis scores, the IOC match confidence, and 80 for a blocked / 50 for a warned mail). Events whose impact is not known yet never match."),
        p("max_impact", K::Percent, Opt, "Only events of at most this impact."),
        p("q", K::Text, Opt, "Only events containing this text (case-insensitive) in their fields, raw parameters, vendor or tool name."),
        p("incident_id", K::Integer, Opt, "Only the events of this incident."),
        e("order", EVENT_ORDERS, Opt, "newest (default), oldest, or impact (highest first, unknown last)."),
        p("limit", K::Integer, Opt, "Page size, 1 to 1000 (default 100)."),
        p("cursor", K::Text, Opt, "The next_cursor of the previous page (with the same filters and order)."),
    ],
};

/// The actions tools report, as the event filter takes them.
pub const ACTIONS: &[&str] = &["LOG", "WARN", "BLOCK"];

/// The orders of the event list.
pub const EVENT_ORDERS: &[&str] = &["newest", "oldest", "impact"];

/// `push_detection.incident.list`: the account's incidents, latest activity first.
pub const INCIDENT_LIST: MethodSpec = MethodSpec {
    name: "push_detection.incident.list",
    path: "push_detection/incident/list",
    http_method: "GET",
    summary: "List incidents (events about one machine, or by the account's grouping rules, close in time), latest activity first",
    params: &[
        p(
            "host",
            K::Text,
            Opt,
            "Only incidents about this machine: any of its IP addresses or names, or a mail recipient.",
        ),
        p(
            "after",
            K::Time,
            Opt,
            "Only incidents active at or after this time (last event at or after).",
        ),
        p(
            "before",
            K::Time,
            Opt,
            "Only incidents active before this time (first event before).",
        ),
        p(
            "min_impact",
            K::Percent,
            Opt,
            "Only incidents of at least this impact (the highest impact of their events).",
        ),
        e(
            "status",
            crate::workflow::Status::ALLOWED,
            Opt,
            "Only incidents in this status: new, acknowledged or closed.",
        ),
        e(
            "resolution",
            crate::workflow::Resolution::ALLOWED,
            Opt,
            "Only incidents closed with this resolution.",
        ),
        p(
            "assignee",
            K::Text,
            Opt,
            "Only incidents assigned to this user name; 'me' for the caller, 'nobody' for unassigned ones.",
        ),
        p(
            "unread",
            K::Bool,
            Opt,
            "True: only incidents the calling user has not read (not opened since their latest event).",
        ),
        p(
            "limit",
            K::Integer,
            Opt,
            "Page size, 1 to 1000 (default 100).",
        ),
        p(
            "cursor",
            K::Text,
            Opt,
            "The next_cursor of the previous page.",
        ),
    ],
};

/// `push_detection.incident.get`: one incident with its events.
pub const INCIDENT_GET: MethodSpec = MethodSpec {
    name: "push_detection.incident.get",
    path: "push_detection/incident/get",
    http_method: "GET",
    summary: "Get one incident with its events (oldest first, up to 1000)",
    params: &[p(
        "incident_id",
        K::Integer,
        Req,
        "Id of the incident, as listed.",
    )],
};

/// `push_detection.event.get`: one event with every stored field.
pub const EVENT_GET: MethodSpec = MethodSpec {
    name: "push_detection.event.get",
    path: "push_detection/event/get",
    http_method: "GET",
    summary: "Get one pushed event with every stored field",
    params: &[p(
        "event_id",
        K::Integer,
        Req,
        "Id of the event, as listed.",
    )],
};

/// The three push methods.
pub const PUSH_METHODS: [&MethodSpec; 3] = [&PUSH_FILE_DOWNLOAD, &PUSH_IOC_RESULT, &PUSH_MAIL];
