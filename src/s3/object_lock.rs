//! S3 Object Lock: a bucket's lock configuration (the bucket document `object-lock`), and
//! each version's retention and legal hold, stored with the version as the response headers
//! GetObject and HeadObject give back (`x-amz-object-lock-*`).
//!
//! A backend only keeps these documents; what they forbid is decided here: a version under
//! a legal hold, or retained until a date still to come, is not deleted (COMPLIANCE: by no
//! one; GOVERNANCE: only by a request that asks to bypass it and may).

use std::time::{Duration, SystemTime};

use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::xml::{self, XmlWriter};
use crate::store::ObjectMeta;
use crate::time::{iso8601, parse_iso8601};

/// The bucket document holding the lock configuration, present once lock is enabled.
pub const DOC_OBJECT_LOCK: &str = "object-lock";
/// The stored headers of a version's lock, as GetObject answers them.
pub const MODE_HEADER: &str = "x-amz-object-lock-mode";
pub const UNTIL_HEADER: &str = "x-amz-object-lock-retain-until-date";
pub const LEGAL_HOLD_HEADER: &str = "x-amz-object-lock-legal-hold";
/// A default retention longer than this is refused (AWS: at most 100 years).
const MAX_DEFAULT_DAYS: u64 = 36_500;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Governance,
    Compliance,
}

impl Mode {
    fn parse(text: &str) -> Option<Mode> {
        match text.trim() {
            "GOVERNANCE" => Some(Mode::Governance),
            "COMPLIANCE" => Some(Mode::Compliance),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Governance => "GOVERNANCE",
            Mode::Compliance => "COMPLIANCE",
        }
    }
}

/// How long new versions are retained when their write names no retention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultRetention {
    pub mode: Mode,
    pub period: Period,
}

impl DefaultRetention {
    /// The retention of a version created at `now`.
    pub fn from(self, now: SystemTime) -> Retention {
        Retention {
            mode: self.mode,
            until: now + Duration::from_secs(self.period.days() * 86_400),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Days(u64),
    Years(u64),
}

impl Period {
    fn days(self) -> u64 {
        match self {
            Period::Days(days) => days,
            Period::Years(years) => years.saturating_mul(365),
        }
    }
}

/// A bucket's `ObjectLockConfiguration`: lock is enabled once it exists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockConfig {
    pub default: Option<DefaultRetention>,
}

fn invalid_argument(message: &'static str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, message)
}

/// Parses a PutObjectLockConfiguration body (also the stored document).
pub fn parse_config(body: &[u8]) -> Result<LockConfig, S3Error> {
    let doc = xml::parse(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "ObjectLockConfiguration" {
        return Err(xml::malformed("expected ObjectLockConfiguration"));
    }
    match xml::child_text(root, "ObjectLockEnabled").map(str::trim) {
        Some("Enabled") => {}
        _ => return Err(xml::malformed("ObjectLockEnabled must be Enabled")),
    }
    let Some(rule) = xml::children(root, "Rule").next() else {
        return Ok(LockConfig::default());
    };
    let Some(retention) = xml::children(rule, "DefaultRetention").next() else {
        return Err(xml::malformed("a Rule needs a DefaultRetention"));
    };
    let mode = xml::child_text(retention, "Mode")
        .and_then(Mode::parse)
        .ok_or_else(|| xml::malformed("Mode is GOVERNANCE or COMPLIANCE"))?;
    let number = |name: &'static str| -> Result<Option<u64>, S3Error> {
        xml::child_text(retention, name)
            .map(|text| match text.trim().parse::<u64>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(invalid_argument(
                    "Default retention period must be a positive integer value",
                )),
            })
            .transpose()
    };
    let period = match (number("Days")?, number("Years")?) {
        (Some(days), None) => Period::Days(days),
        (None, Some(years)) => Period::Years(years),
        _ => {
            return Err(xml::malformed(
                "a DefaultRetention has either Days or Years",
            ))
        }
    };
    if period.days() > MAX_DEFAULT_DAYS {
        return Err(invalid_argument(
            "Default retention period is too large (at most 100 years)",
        ));
    }
    Ok(LockConfig {
        default: Some(DefaultRetention { mode, period }),
    })
}

pub fn config_to_xml(config: &LockConfig) -> String {
    let mut w = XmlWriter::new();
    w.open_root("ObjectLockConfiguration");
    w.elem("ObjectLockEnabled", "Enabled");
    if let Some(default) = config.default {
        w.open("Rule");
        w.open("DefaultRetention");
        w.elem("Mode", default.mode.as_str());
        match default.period {
            Period::Days(days) => w.elem("Days", &days.to_string()),
            Period::Years(years) => w.elem("Years", &years.to_string()),
        }
        w.close("DefaultRetention");
        w.close("Rule");
    }
    w.close("ObjectLockConfiguration");
    w.finish()
}

/// A version's retention: no delete before `until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub mode: Mode,
    pub until: SystemTime,
}

/// Parses a PutObjectRetention body; None: the retention is removed (an empty `Retention`).
pub fn parse_retention(body: &[u8]) -> Result<Option<Retention>, S3Error> {
    let doc = xml::parse(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "Retention" {
        return Err(xml::malformed("expected Retention"));
    }
    let mode = xml::child_text(root, "Mode");
    let until = xml::child_text(root, "RetainUntilDate");
    match (mode, until) {
        (None, None) => Ok(None),
        (Some(mode), Some(until)) => Ok(Some(Retention {
            mode: Mode::parse(mode)
                .ok_or_else(|| xml::malformed("Mode is GOVERNANCE or COMPLIANCE"))?,
            until: parse_iso8601(until.trim())
                .ok_or_else(|| xml::malformed("RetainUntilDate is an ISO 8601 date"))?,
        })),
        _ => Err(xml::malformed(
            "a Retention has both Mode and RetainUntilDate",
        )),
    }
}

pub fn retention_to_xml(retention: &Retention) -> String {
    let mut w = XmlWriter::new();
    w.open_root("Retention");
    w.elem("Mode", retention.mode.as_str());
    w.elem("RetainUntilDate", &iso8601(retention.until));
    w.close("Retention");
    w.finish()
}

/// Parses a PutObjectLegalHold body: whether the hold is on.
pub fn parse_legal_hold(body: &[u8]) -> Result<bool, S3Error> {
    let doc = xml::parse(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "LegalHold" {
        return Err(xml::malformed("expected LegalHold"));
    }
    parse_status(xml::child_text(root, "Status").unwrap_or(""))
        .ok_or_else(|| xml::malformed("Status is ON or OFF"))
}

fn parse_status(text: &str) -> Option<bool> {
    match text.trim() {
        "ON" => Some(true),
        "OFF" => Some(false),
        _ => None,
    }
}

pub fn legal_hold_to_xml(on: bool) -> String {
    let mut w = XmlWriter::new();
    w.open_root("LegalHold");
    w.elem("Status", if on { "ON" } else { "OFF" });
    w.close("LegalHold");
    w.finish()
}

/// What protects one version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VersionLock {
    pub retention: Option<Retention>,
    /// None: never set on this version (GetObjectLegalHold has nothing to answer).
    pub legal_hold: Option<bool>,
}

impl VersionLock {
    /// As stored with a version (written only by [`VersionLock::store`]: a stored value that
    /// does not parse counts as no retention, and is logged).
    pub fn of(meta: &ObjectMeta) -> VersionLock {
        let header = |name: &str| {
            meta.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let retention = match (header(MODE_HEADER), header(UNTIL_HEADER)) {
            (Some(mode), Some(until)) => match (Mode::parse(mode), parse_iso8601(until)) {
                (Some(mode), Some(until)) => Some(Retention { mode, until }),
                _ => {
                    log::error!("stored object lock retention {mode:?} {until:?} does not parse");
                    None
                }
            },
            _ => None,
        };
        VersionLock {
            retention,
            legal_hold: header(LEGAL_HOLD_HEADER).map(|status| status == "ON"),
        }
    }

    /// Writes this lock into a version's stored headers, replacing what was there.
    pub fn store(&self, headers: &mut Vec<(String, String)>) {
        headers.retain(|(name, _)| {
            name != MODE_HEADER && name != UNTIL_HEADER && name != LEGAL_HOLD_HEADER
        });
        if let Some(retention) = self.retention {
            headers.push((MODE_HEADER.into(), retention.mode.as_str().into()));
            headers.push((UNTIL_HEADER.into(), iso8601(retention.until)));
        }
        if let Some(on) = self.legal_hold {
            let status = if on { "ON" } else { "OFF" };
            headers.push((LEGAL_HOLD_HEADER.into(), status.into()));
        }
    }

    /// The retention still in force at `now`, if any.
    fn retained(&self, now: SystemTime) -> Option<Retention> {
        self.retention.filter(|r| r.until > now)
    }

    /// Whether the version may be deleted for good at `now`; `bypass`: the request asks to
    /// bypass GOVERNANCE retention and is allowed to.
    pub fn check_delete(&self, now: SystemTime, bypass: bool) -> Result<(), S3Error> {
        let protected = self.legal_hold == Some(true)
            || match self.retained(now) {
                Some(r) => r.mode == Mode::Compliance || !bypass,
                None => false,
            };
        if protected {
            return Err(S3Error::new(
                S3ErrorCode::AccessDenied,
                "Access Denied because object protected by object lock.",
            ));
        }
        Ok(())
    }

    /// Whether `new` may replace this retention at `now`: lengthening is always allowed;
    /// shortening or removing it needs GOVERNANCE mode and `bypass`.
    pub fn check_retention_change(
        &self,
        new: Option<&Retention>,
        now: SystemTime,
        bypass: bool,
    ) -> Result<(), S3Error> {
        let Some(current) = self.retained(now) else {
            return Ok(());
        };
        let keeps = new.is_some_and(|new| {
            new.until >= current.until
                && (current.mode == Mode::Governance || new.mode == Mode::Compliance)
        });
        if keeps || (current.mode == Mode::Governance && bypass) {
            return Ok(());
        }
        Err(S3Error::new(S3ErrorCode::AccessDenied, "Access Denied"))
    }
}

/// The lock a write asks for with `x-amz-object-lock-*` (PutObject, CreateMultipartUpload,
/// CopyObject, POST Object), or the bucket's default retention from `now` when it names none.
/// `header` reads one of the write's options; `config` is the bucket's, None when lock is
/// not enabled on it.
pub fn lock_for_write<'a>(
    header: impl Fn(&str) -> Option<&'a str>,
    config: Option<&LockConfig>,
    now: SystemTime,
) -> Result<Option<VersionLock>, S3Error> {
    let mode = header(MODE_HEADER);
    let until = header(UNTIL_HEADER);
    let hold = header(LEGAL_HOLD_HEADER);
    let asked = mode.is_some() || until.is_some() || hold.is_some();
    let Some(config) = config else {
        if asked {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "Bucket is missing Object Lock Configuration",
            ));
        }
        return Ok(None);
    };
    let retention = match (mode, until) {
        (Some(mode), Some(until)) => {
            let mode =
                Mode::parse(mode).ok_or_else(|| invalid_argument("Unknown wormMode directive."))?;
            let until = parse_iso8601(until.trim()).ok_or_else(|| {
                invalid_argument("The retain until date must be provided in ISO 8601 format")
            })?;
            if until <= now {
                return Err(invalid_argument(
                    "The retain until date must be in the future!",
                ));
            }
            Some(Retention { mode, until })
        }
        (None, None) => config.default.map(|default| default.from(now)),
        _ => return Err(invalid_argument(
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
        )),
    };
    let legal_hold = hold
        .map(|text| {
            parse_status(text)
                .ok_or_else(|| invalid_argument("Legal Hold must be either of 'ON' or 'OFF'"))
        })
        .transpose()?;
    Ok(Some(VersionLock {
        retention,
        legal_hold,
    }))
}

/// Whether a write names a lock (AWS then requires Content-MD5 or a checksum).
pub fn write_names_lock<'a>(header: impl Fn(&str) -> Option<&'a str>) -> bool {
    [MODE_HEADER, UNTIL_HEADER, LEGAL_HOLD_HEADER]
        .iter()
        .any(|name| header(name).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn configurations_round_trip_and_refuse_what_aws_refuses() {
        let body = b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>\
            <Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>3</Days></DefaultRetention></Rule>\
            </ObjectLockConfiguration>";
        let config = parse_config(body).unwrap();
        assert_eq!(
            config.default,
            Some(DefaultRetention {
                mode: Mode::Compliance,
                period: Period::Days(3)
            })
        );
        assert_eq!(
            parse_config(config_to_xml(&config).as_bytes()).unwrap(),
            config
        );
        let bare = b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>";
        assert_eq!(parse_config(bare).unwrap(), LockConfig::default());
        for (bad, code) in [
            ("<ObjectLockConfiguration/>", "MalformedXML"),
            ("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>", "MalformedXML"),
            ("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>0</Days></DefaultRetention></Rule></ObjectLockConfiguration>", "InvalidArgument"),
            ("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>SOFT</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>", "MalformedXML"),
            ("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Years>101</Years></DefaultRetention></Rule></ObjectLockConfiguration>", "InvalidArgument"),
        ] {
            let e = parse_config(bad.as_bytes()).unwrap_err();
            assert_eq!(e.code.as_str(), code, "{bad}");
        }
    }

    #[test]
    fn retention_and_legal_hold_documents() {
        let r = parse_retention(
            b"<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-02T03:04:05.000Z</RetainUntilDate></Retention>",
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.mode, Mode::Governance);
        assert_eq!(
            parse_retention(retention_to_xml(&r).as_bytes()).unwrap(),
            Some(r)
        );
        assert_eq!(parse_retention(b"<Retention/>").unwrap(), None);
        assert!(parse_retention(b"<Retention><Mode>GOVERNANCE</Mode></Retention>").is_err());
        assert!(parse_legal_hold(legal_hold_to_xml(true).as_bytes()).unwrap());
        assert!(!parse_legal_hold(b"<LegalHold><Status>OFF</Status></LegalHold>").unwrap());
        assert!(parse_legal_hold(b"<LegalHold><Status>on</Status></LegalHold>").is_err());
    }

    #[test]
    fn a_lock_survives_its_stored_form() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000);
        let lock = VersionLock {
            retention: Some(Retention {
                mode: Mode::Compliance,
                until: now + DAY,
            }),
            legal_hold: Some(true),
        };
        let mut headers = vec![
            ("content-type".to_string(), "text/plain".to_string()),
            (LEGAL_HOLD_HEADER.to_string(), "OFF".to_string()),
        ];
        lock.store(&mut headers);
        let meta = ObjectMeta {
            headers,
            ..ObjectMeta::default()
        };
        assert_eq!(VersionLock::of(&meta), lock);
        let mut headers = meta.headers.clone();
        VersionLock::default().store(&mut headers);
        assert_eq!(headers, vec![("content-type".into(), "text/plain".into())]);
    }

    #[test]
    fn what_a_lock_forbids() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000);
        let lock = |mode, until, hold: bool| VersionLock {
            retention: Some(Retention { mode, until }),
            legal_hold: Some(hold),
        };
        let governance = lock(Mode::Governance, now + DAY, false);
        let compliance = lock(Mode::Compliance, now + DAY, false);
        assert!(governance.check_delete(now, false).is_err());
        assert!(governance.check_delete(now, true).is_ok());
        assert!(compliance.check_delete(now, true).is_err());
        assert!(compliance.check_delete(now + DAY, false).is_ok(), "expired");
        assert!(lock(Mode::Governance, now - DAY, true)
            .check_delete(now, true)
            .is_err());
        assert!(VersionLock::default().check_delete(now, false).is_ok());

        let longer = Retention {
            mode: Mode::Compliance,
            until: now + 2 * DAY,
        };
        let shorter = Retention {
            mode: Mode::Governance,
            until: now + DAY / 2,
        };
        assert!(compliance
            .check_retention_change(Some(&longer), now, false)
            .is_ok());
        assert!(compliance
            .check_retention_change(Some(&shorter), now, true)
            .is_err());
        assert!(compliance.check_retention_change(None, now, true).is_err());
        let to_governance = Retention {
            mode: Mode::Governance,
            ..longer
        };
        assert!(compliance
            .check_retention_change(Some(&to_governance), now, true)
            .is_err());
        assert!(governance
            .check_retention_change(Some(&longer), now, false)
            .is_ok());
        assert!(governance
            .check_retention_change(Some(&shorter), now, false)
            .is_err());
        assert!(governance.check_retention_change(None, now, true).is_ok());
    }

    #[test]
    fn writes_ask_for_a_lock_or_get_the_default() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000);
        let none = |_: &str| None;
        assert_eq!(lock_for_write(none, None, now).unwrap(), None);
        let config = LockConfig {
            default: Some(DefaultRetention {
                mode: Mode::Governance,
                period: Period::Days(2),
            }),
        };
        let got = lock_for_write(none, Some(&config), now).unwrap().unwrap();
        assert_eq!(got.retention.unwrap().until, now + 2 * DAY);
        let asked = |name: &str| match name {
            MODE_HEADER => Some("COMPLIANCE"),
            UNTIL_HEADER => Some("2031-01-01T00:00:00Z"),
            LEGAL_HOLD_HEADER => Some("ON"),
            _ => None,
        };
        let got = lock_for_write(asked, Some(&config), now).unwrap().unwrap();
        assert_eq!(got.retention.unwrap().mode, Mode::Compliance);
        assert_eq!(got.legal_hold, Some(true));
        let e = lock_for_write(asked, None, now).unwrap_err();
        assert_eq!(e.code.as_str(), "InvalidRequest");
        let past = |name: &str| match name {
            MODE_HEADER => Some("COMPLIANCE"),
            UNTIL_HEADER => Some("2001-01-01T00:00:00Z"),
            _ => None,
        };
        assert!(lock_for_write(past, Some(&config), now).is_err());
        let half = |name: &str| (name == MODE_HEADER).then_some("COMPLIANCE");
        assert!(lock_for_write(half, Some(&config), now).is_err());
        assert!(write_names_lock(half));
        assert!(!write_names_lock(none));
    }
}
