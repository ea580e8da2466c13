//! The forms a value may take (booleans, sizes, durations, ports, run-as…), parsed once for
//! the whole crate.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::keys::Kind;
use crate::credentials::SecretKey;

pub fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Some(true),
        "no" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// The words that turn a listener off.
fn is_off(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "off" | "no" | "none" | ""
    )
}

/// `None` for off, `Some(port)` otherwise.
pub fn parse_port_or_off(value: &str) -> Option<Option<u16>> {
    if is_off(value) {
        return Some(None);
    }
    value.parse().ok().map(Some)
}

pub fn parse_addr_or_off(value: &str) -> Option<Option<SocketAddr>> {
    if is_off(value) {
        return Some(None);
    }
    value.parse().ok().map(Some)
}

pub fn parse_size(value: &str) -> Option<u64> {
    let value = value.trim();
    let shift = match value.as_bytes().last().map(u8::to_ascii_uppercase) {
        Some(b'K') => 10,
        Some(b'M') => 20,
        Some(b'G') => 30,
        Some(b'T') => 40,
        _ => 0,
    };
    let digits = if shift == 0 {
        value
    } else {
        &value[..value.len() - 1]
    };
    let n: u64 = digits.trim().parse().ok()?;
    n.checked_mul(1u64 << shift)
}

pub fn parse_seconds(value: &str) -> Option<Duration> {
    let value = value.trim();
    let (digits, unit) = match value.as_bytes().last() {
        Some(b's') => (&value[..value.len() - 1], 1),
        Some(b'm') => (&value[..value.len() - 1], 60),
        Some(b'h') => (&value[..value.len() - 1], 3600),
        _ => (value, 1),
    };
    let n: u64 = digits.trim().parse().ok()?;
    n.checked_mul(unit).map(Duration::from_secs)
}

pub fn parse_level(value: &str) -> Option<log::LevelFilter> {
    value.parse().ok()
}

/// `USER:PASSWORD`, with a user name that HTTP Basic can carry (no colon, not empty).
pub fn parse_admin_auth(value: &str) -> Option<SecretKey> {
    let (user, password) = value.split_once(':')?;
    (!user.is_empty() && !password.is_empty() && !value.chars().any(char::is_control))
        .then(|| SecretKey::new(value.to_string()))
}

/// The user (and group) to run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub user: String,
    pub group: Option<String>,
}

pub fn parse_run_as(value: &str) -> Option<RunAs> {
    let (user, group) = match value.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (value, None),
    };
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'$'))
    };
    if !name_ok(user) || group.is_some_and(|g| !name_ok(g)) {
        return None;
    }
    Some(RunAs {
        user: user.to_string(),
        group: group.map(str::to_string),
    })
}

/// Whether `value` has the form `kind` asks for.
pub(crate) fn check_value(kind: Kind, value: &str) -> bool {
    match kind {
        Kind::Text | Kind::Sx => true,
        Kind::Path => !value.is_empty(),
        Kind::Bool => parse_bool(value).is_some(),
        Kind::PortOrOff => parse_port_or_off(value).is_some(),
        Kind::Ip => value.parse::<IpAddr>().is_ok(),
        Kind::AddrOrOff => parse_addr_or_off(value).is_some(),
        Kind::Count => value.parse::<u64>().is_ok(),
        Kind::Size => parse_size(value).is_some(),
        Kind::Seconds => parse_seconds(value).is_some(),
        Kind::OneOf(words) => words.contains(&value),
        Kind::RunAs => parse_run_as(value).is_some(),
        Kind::PublicAccessFlags => super::PublicAccessBlock::parse_setting(value).is_some(),
    }
}
