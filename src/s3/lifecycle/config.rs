//! The `LifecycleConfiguration` document: parsed and validated as S3 validates it
//! (PutBucketLifecycleConfiguration, LifecycleRule, LifecycleRuleFilter), bounded in rules,
//! tags and XML size/depth, and written back in the form GetBucketLifecycleConfiguration
//! answers.

use std::collections::HashSet;
use std::time::SystemTime;

use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::tagging::{self, TagSet};
use crate::s3::xml::{self, XmlWriter};

/// The most rules a configuration may hold (as S3).
pub const MAX_RULES: usize = 1000;
/// The longest rule ID, in characters (as S3).
pub const MAX_ID_LEN: usize = 255;
/// The most tags one filter may name (an object carries at most 10, so more never match;
/// bounded so that the duplicate check stays small).
pub const MAX_FILTER_TAGS: usize = tagging::MAX_BUCKET_TAGS;
/// The most noncurrent versions a rule may keep (as S3).
pub const MAX_NEWER_NONCURRENT: u32 = 100;
/// Storage classes a transition may name. This server has one storage class, STANDARD:
/// transitions are kept and answered back, never carried out.
pub const TRANSITION_CLASSES: &[&str] = &[
    "GLACIER",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lifecycle {
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub enabled: bool,
    pub filter: Filter,
    pub expiration: Option<Expiration>,
    pub noncurrent_expiration: Option<NoncurrentExpiration>,
    /// AbortIncompleteMultipartUpload's DaysAfterInitiation.
    pub abort_after_days: Option<u32>,
    pub transitions: Vec<Transition>,
    pub noncurrent_transitions: Vec<NoncurrentTransition>,
}

/// Which objects a rule applies to, in the form it was given (answered back the same way).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// The legacy top-level `<Prefix>` of a rule.
    Legacy(String),
    /// An empty `<Filter/>`: every object.
    All,
    Prefix(String),
    Tag(String, String),
    SizeGreaterThan(u64),
    SizeLessThan(u64),
    And(AndFilter),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AndFilter {
    pub prefix: Option<String>,
    pub tags: TagSet,
    pub greater_than: Option<u64>,
    pub less_than: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expiration {
    Days(u32),
    /// Midnight UTC.
    Date(SystemTime),
    ExpiredObjectDeleteMarker(bool),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoncurrentExpiration {
    pub noncurrent_days: u32,
    pub newer_noncurrent_versions: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum When {
    Days(u32),
    Date(SystemTime),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub when: When,
    pub storage_class: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoncurrentTransition {
    pub noncurrent_days: u32,
    pub newer_noncurrent_versions: Option<u32>,
    pub storage_class: String,
}

impl Rule {
    /// Expiration by Days or Date: the rule expires current objects.
    pub fn expires_current(&self) -> bool {
        matches!(
            self.expiration,
            Some(Expiration::Days(_) | Expiration::Date(_))
        )
    }

    /// NoncurrentVersionExpiration or ExpiredObjectDeleteMarker: the rule removes versions
    /// in a bucket that keeps them.
    pub fn expires_versions(&self) -> bool {
        self.noncurrent_expiration.is_some()
            || self.expiration == Some(Expiration::ExpiredObjectDeleteMarker(true))
    }

    /// Whether the worker has anything to do for this rule, in a bucket that keeps versions
    /// (Enabled or Suspended) or not.
    pub fn acts(&self, versioned: bool) -> bool {
        self.expires_current()
            || self.abort_after_days.is_some()
            || (versioned && self.expires_versions())
    }
}

impl Filter {
    /// The key prefix every matching object has ("" for none).
    pub fn prefix(&self) -> &str {
        match self {
            Filter::Legacy(p) | Filter::Prefix(p) => p,
            Filter::And(and) => and.prefix.as_deref().unwrap_or(""),
            _ => "",
        }
    }

    pub fn has_tags(&self) -> bool {
        match self {
            Filter::Tag(..) => true,
            Filter::And(and) => !and.tags.is_empty(),
            _ => false,
        }
    }

    fn has_size(&self) -> bool {
        match self {
            Filter::SizeGreaterThan(_) | Filter::SizeLessThan(_) => true,
            Filter::And(and) => and.greater_than.is_some() || and.less_than.is_some(),
            _ => false,
        }
    }

    /// Whether an object with this key, size (as listed) and tags is one the rule applies to.
    pub fn matches(&self, key: &str, size: u64, tags: &TagSet) -> bool {
        let has_tag = |k: &str, v: &str| tags.iter().any(|(tk, tv)| tk == k && tv == v);
        match self {
            Filter::Legacy(prefix) | Filter::Prefix(prefix) => key.starts_with(prefix.as_str()),
            Filter::All => true,
            Filter::Tag(k, v) => has_tag(k, v),
            Filter::SizeGreaterThan(n) => size > *n,
            Filter::SizeLessThan(n) => size < *n,
            Filter::And(and) => {
                key.starts_with(and.prefix.as_deref().unwrap_or(""))
                    && and.tags.iter().all(|(k, v)| has_tag(k, v))
                    && and.greater_than.is_none_or(|n| size > n)
                    && and.less_than.is_none_or(|n| size < n)
            }
        }
    }
}

fn invalid_argument(message: impl Into<std::borrow::Cow<'static, str>>) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, message)
}

fn invalid_request(message: impl Into<std::borrow::Cow<'static, str>>) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidRequest, message)
}

type Node<'a, 'i> = roxmltree::Node<'a, 'i>;

/// Refuses child elements other than `allowed`, and any of `single` given twice (the schema
/// S3 validates against).
fn check_children(node: Node, allowed: &[&str], single: &[&str]) -> Result<(), S3Error> {
    let mut seen: Vec<&str> = Vec::new();
    for child in node.children().filter(|c| c.is_element()) {
        let name = child.tag_name().name();
        if !allowed.contains(&name) {
            return Err(xml::malformed(&format!(
                "unexpected {name} in {}",
                node.tag_name().name()
            )));
        }
        if single.contains(&name) {
            if seen.contains(&name) {
                return Err(xml::malformed(&format!("{name} given twice")));
            }
            seen.push(name);
        }
    }
    Ok(())
}

fn element<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> Option<Node<'a, 'i>> {
    xml::children(node, name).next()
}

fn text<'a>(node: Node<'a, '_>, name: &'static str) -> Option<&'a str> {
    xml::child_text(node, name)
}

fn number<T: std::str::FromStr>(node: Node, name: &'static str) -> Result<Option<T>, S3Error> {
    match text(node, name) {
        None => Ok(None),
        Some(t) => t
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| xml::malformed(&format!("{name} is not a number"))),
    }
}

/// A count of days that must be positive: `what` names it as S3's message does.
fn positive_days(node: Node, name: &'static str, what: &str) -> Result<Option<u32>, S3Error> {
    match number::<i64>(node, name)? {
        None => Ok(None),
        Some(n) if n > 0 => u32::try_from(n)
            .map(Some)
            .map_err(|_| invalid_argument(format!("'{name}' for {what} is too large"))),
        Some(_) => Err(invalid_argument(format!(
            "'{name}' for {what} must be a positive integer"
        ))),
    }
}

fn midnight_date(node: Node) -> Result<Option<SystemTime>, S3Error> {
    let Some(value) = text(node, "Date") else {
        return Ok(None);
    };
    let date = crate::time::parse_iso8601(value.trim())
        .ok_or_else(|| invalid_argument("Invalid date format in 'Date'"))?;
    let secs = date
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| invalid_argument("'Date' must be after 1970"))?;
    if secs.subsec_nanos() != 0 || secs.as_secs() % 86_400 != 0 {
        return Err(invalid_argument("'Date' must be at midnight GMT"));
    }
    Ok(Some(date))
}

fn newer_noncurrent(node: Node) -> Result<Option<u32>, S3Error> {
    match number::<i64>(node, "NewerNoncurrentVersions")? {
        None => Ok(None),
        Some(n) if (1..=i64::from(MAX_NEWER_NONCURRENT)).contains(&n) => Ok(Some(n as u32)),
        Some(_) => Err(invalid_argument(format!(
            "'NewerNoncurrentVersions' must be between 1 and {MAX_NEWER_NONCURRENT}"
        ))),
    }
}

fn storage_class(node: Node) -> Result<String, S3Error> {
    let class = text(node, "StorageClass")
        .ok_or_else(|| xml::malformed("a transition names a StorageClass"))?
        .trim();
    if !TRANSITION_CLASSES.contains(&class) {
        return Err(xml::malformed(&format!("unknown StorageClass {class}")));
    }
    Ok(class.to_string())
}

fn parse_tag(node: Node) -> Result<(String, String), S3Error> {
    check_children(node, &["Key", "Value"], &["Key", "Value"])?;
    let key = text(node, "Key").ok_or_else(|| xml::malformed("Tag has a Key"))?;
    let value = text(node, "Value").unwrap_or("");
    let tag = (key.to_string(), value.to_string());
    tagging::validate(&vec![tag.clone()], 1)?;
    Ok(tag)
}

fn size(node: Node, name: &'static str) -> Result<Option<u64>, S3Error> {
    number::<u64>(node, name)
}

fn parse_and(node: Node) -> Result<AndFilter, S3Error> {
    const SINGLE: [&str; 3] = ["Prefix", "ObjectSizeGreaterThan", "ObjectSizeLessThan"];
    check_children(
        node,
        &[
            "Prefix",
            "Tag",
            "ObjectSizeGreaterThan",
            "ObjectSizeLessThan",
        ],
        &SINGLE,
    )?;
    let mut tags = Vec::new();
    let mut keys = HashSet::new();
    for tag in xml::children(node, "Tag") {
        if tags.len() == MAX_FILTER_TAGS {
            return Err(invalid_argument(format!(
                "A filter may name at most {MAX_FILTER_TAGS} tags"
            )));
        }
        let (key, value) = parse_tag(tag)?;
        if !keys.insert(key.clone()) {
            return Err(invalid_request("Duplicate Tag Keys are not allowed."));
        }
        tags.push((key, value));
    }
    let and = AndFilter {
        prefix: text(node, "Prefix").map(str::to_string),
        tags,
        greater_than: size(node, "ObjectSizeGreaterThan")?,
        less_than: size(node, "ObjectSizeLessThan")?,
    };
    if and.prefix.is_none()
        && and.tags.is_empty()
        && and.greater_than.is_none()
        && and.less_than.is_none()
    {
        return Err(xml::malformed("And names no predicate"));
    }
    if let (Some(greater), Some(less)) = (and.greater_than, and.less_than) {
        if less <= greater {
            return Err(invalid_argument(
                "ObjectSizeLessThan must be greater than ObjectSizeGreaterThan",
            ));
        }
    }
    Ok(and)
}

fn parse_filter(node: Node) -> Result<Filter, S3Error> {
    const ONE_OF: [&str; 5] = [
        "Prefix",
        "Tag",
        "ObjectSizeGreaterThan",
        "ObjectSizeLessThan",
        "And",
    ];
    check_children(node, &ONE_OF, &ONE_OF)?;
    let mut given = node.children().filter(|c| c.is_element());
    let Some(only) = given.next() else {
        return Ok(Filter::All);
    };
    if given.next().is_some() {
        return Err(xml::malformed(
            "Filter has exactly one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan, And",
        ));
    }
    Ok(match only.tag_name().name() {
        "Prefix" => Filter::Prefix(only.text().unwrap_or("").to_string()),
        "Tag" => {
            let (key, value) = parse_tag(only)?;
            Filter::Tag(key, value)
        }
        "ObjectSizeGreaterThan" => {
            Filter::SizeGreaterThan(size(node, "ObjectSizeGreaterThan")?.unwrap_or(0))
        }
        "ObjectSizeLessThan" => {
            Filter::SizeLessThan(size(node, "ObjectSizeLessThan")?.unwrap_or(0))
        }
        _ => Filter::And(parse_and(only)?),
    })
}

fn parse_expiration(node: Node, filter: &Filter) -> Result<Expiration, S3Error> {
    const PARTS: [&str; 3] = ["Days", "Date", "ExpiredObjectDeleteMarker"];
    check_children(node, &PARTS, &PARTS)?;
    let days = positive_days(node, "Days", "Expiration action")?;
    let date = midnight_date(node)?;
    let marker = match text(node, "ExpiredObjectDeleteMarker").map(str::trim) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(xml::malformed("ExpiredObjectDeleteMarker is true or false")),
    };
    match (days, date, marker) {
        (Some(days), None, None) => Ok(Expiration::Days(days)),
        (None, Some(date), None) => Ok(Expiration::Date(date)),
        (None, None, Some(marker)) => {
            if filter.has_tags() {
                return Err(invalid_argument(
                    "ExpiredObjectDeleteMarker cannot be specified with object tags",
                ));
            }
            // MalformedXML, as the review of this branch reports AWS answering.
            if filter.has_size() {
                return Err(xml::malformed(
                    "ExpiredObjectDeleteMarker cannot be specified with an object size filter",
                ));
            }
            Ok(Expiration::ExpiredObjectDeleteMarker(marker))
        }
        (None, None, None) => Err(xml::malformed(
            "Expiration has one of Days, Date, ExpiredObjectDeleteMarker",
        )),
        _ => Err(xml::malformed(
            "Expiration has only one of Days, Date, ExpiredObjectDeleteMarker",
        )),
    }
}

fn parse_noncurrent_expiration(node: Node) -> Result<NoncurrentExpiration, S3Error> {
    const PARTS: [&str; 2] = ["NoncurrentDays", "NewerNoncurrentVersions"];
    check_children(node, &PARTS, &PARTS)?;
    let days = positive_days(node, "NoncurrentDays", "NoncurrentVersionExpiration action")?
        .ok_or_else(|| xml::malformed("NoncurrentVersionExpiration has NoncurrentDays"))?;
    Ok(NoncurrentExpiration {
        noncurrent_days: days,
        newer_noncurrent_versions: newer_noncurrent(node)?,
    })
}

fn parse_transition(node: Node) -> Result<Transition, S3Error> {
    const PARTS: [&str; 3] = ["Days", "Date", "StorageClass"];
    check_children(node, &PARTS, &PARTS)?;
    let class = storage_class(node)?;
    let days = match number::<i64>(node, "Days")? {
        Some(n) if n < 0 => {
            return Err(invalid_argument(
                "'Days' in Transition action must be nonnegative",
            ))
        }
        Some(n) => Some(u32::try_from(n).map_err(|_| invalid_argument("'Days' is too large"))?),
        None => None,
    };
    let when = match (days, midnight_date(node)?) {
        (Some(days), None) => {
            if days < 30 && matches!(class.as_str(), "STANDARD_IA" | "ONEZONE_IA") {
                return Err(invalid_argument(format!(
                    "'Days' in Transition action must be greater than or equal to 30 for storageClass '{class}'"
                )));
            }
            When::Days(days)
        }
        (None, Some(date)) => When::Date(date),
        _ => return Err(xml::malformed("Transition has one of Days and Date")),
    };
    Ok(Transition {
        when,
        storage_class: class,
    })
}

fn parse_noncurrent_transition(node: Node) -> Result<NoncurrentTransition, S3Error> {
    const PARTS: [&str; 3] = ["NoncurrentDays", "NewerNoncurrentVersions", "StorageClass"];
    check_children(node, &PARTS, &PARTS)?;
    let days = match number::<i64>(node, "NoncurrentDays")? {
        Some(n) if n >= 0 => {
            u32::try_from(n).map_err(|_| invalid_argument("'NoncurrentDays' is too large"))?
        }
        Some(_) => {
            return Err(invalid_argument(
                "'NoncurrentDays' in NoncurrentVersionTransition action must be nonnegative",
            ))
        }
        None => {
            return Err(xml::malformed(
                "NoncurrentVersionTransition has NoncurrentDays",
            ))
        }
    };
    Ok(NoncurrentTransition {
        noncurrent_days: days,
        newer_noncurrent_versions: newer_noncurrent(node)?,
        storage_class: storage_class(node)?,
    })
}

fn generated_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 24];
    // A failing system generator leaves zeros: the ID only has to be unique in its document,
    // which the caller checks.
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    crate::encoding::hex(&bytes)
}

fn parse_rule(node: Node) -> Result<Rule, S3Error> {
    const SINGLE: [&str; 7] = [
        "ID",
        "Status",
        "Filter",
        "Prefix",
        "Expiration",
        "NoncurrentVersionExpiration",
        "AbortIncompleteMultipartUpload",
    ];
    let mut allowed = SINGLE.to_vec();
    allowed.extend(["Transition", "NoncurrentVersionTransition"]);
    check_children(node, &allowed, &SINGLE)?;
    let id = match text(node, "ID") {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => generated_id(),
    };
    if id.chars().count() > MAX_ID_LEN {
        return Err(invalid_argument(format!(
            "ID length should not exceed allowed limit of {MAX_ID_LEN}"
        )));
    }
    let enabled = match text(node, "Status") {
        Some("Enabled") => true,
        Some("Disabled") => false,
        _ => return Err(xml::malformed("Status is Enabled or Disabled")),
    };
    let filter = match (element(node, "Filter"), text(node, "Prefix")) {
        (Some(filter), None) => parse_filter(filter)?,
        (None, Some(prefix)) => Filter::Legacy(prefix.to_string()),
        (Some(_), Some(_)) => {
            return Err(xml::malformed("a rule has a Filter or a Prefix, not both"))
        }
        (None, None) => return Err(xml::malformed("a rule has a Filter or a Prefix")),
    };
    let expiration = element(node, "Expiration")
        .map(|e| parse_expiration(e, &filter))
        .transpose()?;
    let noncurrent_expiration = element(node, "NoncurrentVersionExpiration")
        .map(parse_noncurrent_expiration)
        .transpose()?;
    let abort_after_days = match element(node, "AbortIncompleteMultipartUpload") {
        None => None,
        Some(abort) => {
            check_children(abort, &["DaysAfterInitiation"], &["DaysAfterInitiation"])?;
            if filter.has_tags() {
                return Err(invalid_request(
                    "AbortIncompleteMultipartUpload cannot be specified with Tags.",
                ));
            }
            if filter.has_size() {
                return Err(invalid_request(
                    "AbortIncompleteMultipartUpload cannot be specified with an object size filter.",
                ));
            }
            Some(
                positive_days(
                    abort,
                    "DaysAfterInitiation",
                    "AbortIncompleteMultipartUpload action",
                )?
                .ok_or_else(|| {
                    xml::malformed("AbortIncompleteMultipartUpload has DaysAfterInitiation")
                })?,
            )
        }
    };
    let transitions = xml::children(node, "Transition")
        .map(parse_transition)
        .collect::<Result<Vec<_>, _>>()?;
    let noncurrent_transitions = xml::children(node, "NoncurrentVersionTransition")
        .map(parse_noncurrent_transition)
        .collect::<Result<Vec<_>, _>>()?;
    let rule = Rule {
        id,
        enabled,
        filter,
        expiration,
        noncurrent_expiration,
        abort_after_days,
        transitions,
        noncurrent_transitions,
    };
    if rule.expiration.is_none()
        && rule.noncurrent_expiration.is_none()
        && rule.abort_after_days.is_none()
        && rule.transitions.is_empty()
        && rule.noncurrent_transitions.is_empty()
    {
        return Err(invalid_request(
            "At least one action needs to be specified in a rule",
        ));
    }
    Ok(rule)
}

/// Parses and validates a PutBucketLifecycleConfiguration body (already capped in size;
/// `xml::parse` bounds its depth and nodes, and at most [`MAX_RULES`] rules are read).
pub fn parse_xml(body: &[u8]) -> Result<Lifecycle, S3Error> {
    let doc = xml::parse(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "LifecycleConfiguration" {
        return Err(xml::malformed("expected LifecycleConfiguration"));
    }
    check_children(root, &["Rule"], &[])?;
    let mut rules = Vec::new();
    let mut ids = HashSet::new();
    for node in xml::children(root, "Rule") {
        if rules.len() == MAX_RULES {
            return Err(invalid_argument(format!(
                "Lifecycle configuration cannot have more than {MAX_RULES} rules"
            )));
        }
        let rule = parse_rule(node)?;
        if !ids.insert(rule.id.clone()) {
            return Err(invalid_argument(
                "Rule ID must be unique. Found same ID for more than one rule",
            ));
        }
        rules.push(rule);
    }
    if rules.is_empty() {
        return Err(xml::malformed(
            "LifecycleConfiguration has at least one Rule",
        ));
    }
    Ok(Lifecycle { rules })
}

fn write_tag(w: &mut XmlWriter, key: &str, value: &str) {
    w.open("Tag");
    w.elem("Key", key);
    w.elem("Value", value);
    w.close("Tag");
}

fn write_filter(w: &mut XmlWriter, filter: &Filter) {
    if let Filter::Legacy(prefix) = filter {
        w.elem("Prefix", prefix);
        return;
    }
    w.open("Filter");
    match filter {
        Filter::Legacy(_) | Filter::All => {}
        Filter::Prefix(prefix) => w.elem("Prefix", prefix),
        Filter::Tag(key, value) => write_tag(w, key, value),
        Filter::SizeGreaterThan(n) => w.elem("ObjectSizeGreaterThan", &n.to_string()),
        Filter::SizeLessThan(n) => w.elem("ObjectSizeLessThan", &n.to_string()),
        Filter::And(and) => {
            w.open("And");
            w.elem_opt("Prefix", and.prefix.as_deref());
            for (key, value) in &and.tags {
                write_tag(w, key, value);
            }
            w.elem_opt(
                "ObjectSizeGreaterThan",
                and.greater_than.map(|n| n.to_string()).as_deref(),
            );
            w.elem_opt(
                "ObjectSizeLessThan",
                and.less_than.map(|n| n.to_string()).as_deref(),
            );
            w.close("And");
        }
    }
    w.close("Filter");
}

fn write_when(w: &mut XmlWriter, when: &When) {
    match when {
        When::Days(days) => w.elem("Days", &days.to_string()),
        When::Date(date) => w.elem("Date", &crate::time::iso8601(*date)),
    }
}

/// The document GetBucketLifecycleConfiguration answers (and the form it is stored in).
pub fn to_xml(lifecycle: &Lifecycle) -> String {
    let mut w = XmlWriter::new();
    w.open_root("LifecycleConfiguration");
    for rule in &lifecycle.rules {
        w.open("Rule");
        w.elem("ID", &rule.id);
        write_filter(&mut w, &rule.filter);
        w.elem("Status", if rule.enabled { "Enabled" } else { "Disabled" });
        for transition in &rule.transitions {
            w.open("Transition");
            write_when(&mut w, &transition.when);
            w.elem("StorageClass", &transition.storage_class);
            w.close("Transition");
        }
        if let Some(expiration) = &rule.expiration {
            w.open("Expiration");
            match expiration {
                Expiration::Days(days) => write_when(&mut w, &When::Days(*days)),
                Expiration::Date(date) => write_when(&mut w, &When::Date(*date)),
                Expiration::ExpiredObjectDeleteMarker(on) => w.elem(
                    "ExpiredObjectDeleteMarker",
                    if *on { "true" } else { "false" },
                ),
            }
            w.close("Expiration");
        }
        for transition in &rule.noncurrent_transitions {
            w.open("NoncurrentVersionTransition");
            w.elem("NoncurrentDays", &transition.noncurrent_days.to_string());
            w.elem_opt(
                "NewerNoncurrentVersions",
                transition
                    .newer_noncurrent_versions
                    .map(|n| n.to_string())
                    .as_deref(),
            );
            w.elem("StorageClass", &transition.storage_class);
            w.close("NoncurrentVersionTransition");
        }
        if let Some(noncurrent) = &rule.noncurrent_expiration {
            w.open("NoncurrentVersionExpiration");
            w.elem("NoncurrentDays", &noncurrent.noncurrent_days.to_string());
            w.elem_opt(
                "NewerNoncurrentVersions",
                noncurrent
                    .newer_noncurrent_versions
                    .map(|n| n.to_string())
                    .as_deref(),
            );
            w.close("NoncurrentVersionExpiration");
        }
        if let Some(days) = rule.abort_after_days {
            w.open("AbortIncompleteMultipartUpload");
            w.elem("DaysAfterInitiation", &days.to_string());
            w.close("AbortIncompleteMultipartUpload");
        }
        w.close("Rule");
    }
    w.close("LifecycleConfiguration");
    w.finish()
}

#[cfg(test)]
mod tests;
