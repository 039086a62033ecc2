//! The read API's forwarding methods (admin users only): create, list, enable or disable,
//! remove and test destinations; list and re-send dead-lettered deliveries. Their
//! parameters are declared here, beside the rules that parse them
//! ([`crate::forwarding`]); the CLI's flags and the console's form take the same names.

use crate::method::{p, MethodSpec, ParamKind as K, Requirement::*};

/// The most dead-lettered deliveries re-sent by id in one call (all of a destination's
/// may be re-sent by giving none).
pub const MAX_RESEND_IDS: usize = 1000;

/// `forwarding.destination.create`.
pub const DESTINATION_CREATE: MethodSpec = MethodSpec {
    name: "forwarding.destination.create",
    path: "forwarding/destination/create",
    http_method: "POST",
    summary: "Create a forwarding destination: a syslog server or a webhook (admin users only)",
    params: &[
        p("name", K::Text, Required, "Its name in the account: 1 to 64 letters, digits, '.', '_', '-'."),
        p("target", K::Text, Required, "tcp://HOST[:PORT], tls://HOST[:PORT], udp://HOST[:PORT] (syslog) or an https:// URL (webhook)."),
        p("format", K::Text, Optional, "cef, leef, json or ocsf; a webhook json or ocsf (default cef for syslog, json for a webhook)."),
        p("sends", K::Text, Optional, "events, incidents, or both separated by a comma; or incident changes by name: new, impact_raised, status_changed (default events)."),
        p("types", K::Text, Optional, "Event types sent, separated by commas: file_download, ioc, mail (default every type)."),
        p("min_impact", K::Integer, Optional, "The least impact (0-100) of an event or incident change sent; an event whose impact is not known yet is not sent (default none)."),
        p("actions", K::Text, Optional, "Tool actions of the events sent, separated by commas: LOG, WARN, BLOCK (default any)."),
        p("sensors", K::Text, Optional, "Sensor ids (subkey_id) whose events are sent, separated by commas (default every sensor)."),
        p("dead_after", K::Integer, Optional, "Seconds a delivery is retried before it is dead-lettered, 1 to 2592000 (default 86400)."),
        p("ca_pem", K::Text, Optional, "PEM CA certificates the server's certificate must chain to (tls://, https://; default the public web roots)."),
        p("server_name", K::Text, Optional, "The name the server's certificate must carry, when not the target's host (tls://)."),
        p("client_cert_pem", K::Text, Optional, "PEM certificate chain to present (tls://), with client_key_pem."),
        p("client_key_pem", K::Text, Optional, "The PEM private key of client_cert_pem: kept secret, never shown again."),
        p("signing_key", K::Text, Optional, "A webhook's HMAC-SHA256 key, 16 to 256 characters (default: generated and answered once as signing_key)."),
        p("vendor", K::Text, Optional, "The CEF/LEEF device vendor (default pushdetect)."),
        p("product", K::Text, Optional, "The CEF/LEEF device product (default pushdetect)."),
        p("facility", K::Integer, Optional, "The syslog facility, 0-23 (default 1, user)."),
    ],
};

/// `forwarding.destination.list`.
pub const DESTINATION_LIST: MethodSpec = MethodSpec {
    name: "forwarding.destination.list",
    path: "forwarding/destination/list",
    http_method: "GET",
    summary: "The account's forwarding destinations with their outbox (admin users only)",
    params: &[],
};

/// `forwarding.destination.update`.
pub const DESTINATION_UPDATE: MethodSpec = MethodSpec {
    name: "forwarding.destination.update",
    path: "forwarding/destination/update",
    http_method: "POST",
    summary: "Enable or disable a forwarding destination (admin users only)",
    params: &[
        p("destination", K::Text, Required, "The destination's name."),
        p(
            "disabled",
            K::Bool,
            Required,
            "True: it is sent nothing and gets no new deliveries; False: it is sent again.",
        ),
    ],
};

/// `forwarding.destination.remove`.
pub const DESTINATION_REMOVE: MethodSpec = MethodSpec {
    name: "forwarding.destination.remove",
    path: "forwarding/destination/remove",
    http_method: "POST",
    summary: "Remove a forwarding destination and its outbox (admin users only)",
    params: &[p(
        "destination",
        K::Text,
        Required,
        "The destination's name.",
    )],
};

/// `forwarding.destination.test`.
pub const DESTINATION_TEST: MethodSpec = MethodSpec {
    name: "forwarding.destination.test",
    path: "forwarding/destination/test",
    http_method: "POST",
    summary: "Send a test message to a forwarding destination now (admin users only)",
    params: &[p(
        "destination",
        K::Text,
        Required,
        "The destination's name.",
    )],
};

/// `forwarding.delivery.dead_list`.
pub const DELIVERY_DEAD_LIST: MethodSpec = MethodSpec {
    name: "forwarding.delivery.dead_list",
    path: "forwarding/delivery/dead_list",
    http_method: "GET",
    summary: "A destination's dead-lettered deliveries, newest first (admin users only)",
    params: &[
        p("destination", K::Text, Required, "The destination's name."),
        p(
            "limit",
            K::Integer,
            Optional,
            "Page size, 1 to 1000 (default 100).",
        ),
    ],
};

/// `forwarding.delivery.resend`.
pub const DELIVERY_RESEND: MethodSpec = MethodSpec {
    name: "forwarding.delivery.resend",
    path: "forwarding/delivery/resend",
    http_method: "POST",
    summary: "Send dead-lettered deliveries again (admin users only)",
    params: &[
        p("destination", K::Text, Required, "The destination's name."),
        p("delivery_ids", K::Text, Optional, "Ids separated by commas (at most 1000); default every dead-lettered delivery of the destination."),
    ],
};

/// Every forwarding method, in the order the router and the documents list them.
pub const FORWARDING_METHODS: [&MethodSpec; 7] = [
    &DESTINATION_CREATE,
    &DESTINATION_LIST,
    &DESTINATION_UPDATE,
    &DESTINATION_REMOVE,
    &DESTINATION_TEST,
    &DELIVERY_DEAD_LIST,
    &DELIVERY_RESEND,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_method_has_its_own_path_under_forwarding() {
        let mut paths: Vec<&str> = FORWARDING_METHODS.iter().map(|m| m.path).collect();
        assert!(paths.iter().all(|p| p.starts_with("forwarding/")));
        assert!(FORWARDING_METHODS
            .iter()
            .all(|m| m.name.replace('.', "/") == m.path));
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), FORWARDING_METHODS.len());
        assert_eq!(MAX_RESEND_IDS, 1000);
    }
}
