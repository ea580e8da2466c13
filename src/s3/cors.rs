//! CORS: the `CORSConfiguration` document, rule matching for preflight (OPTIONS) and actual
//! requests, and the response headers a matching rule gives.

use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::policy::wildcard_match;
use crate::s3::xml::{self, XmlWriter};

/// The most rules one configuration may hold (as S3).
pub const MAX_RULES: usize = 100;
const METHODS: &[&str] = &["GET", "PUT", "HEAD", "POST", "DELETE"];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorsRule {
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<u64>,
}

fn invalid(why: String) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidRequest, why)
}

/// Parses and validates a `CORSConfiguration` body.
pub fn parse_xml(body: &[u8]) -> Result<Vec<CorsRule>, S3Error> {
    let doc = xml::parse(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "CORSConfiguration" {
        return Err(xml::malformed("expected CORSConfiguration"));
    }
    let mut rules = Vec::new();
    for node in xml::children(root, "CORSRule") {
        let texts = |name: &'static str| -> Vec<String> {
            xml::children(node, name)
                .map(|c| c.text().unwrap_or("").trim().to_string())
                .collect()
        };
        let rule = CorsRule {
            id: xml::child_text(node, "ID").map(|s| s.trim().to_string()),
            allowed_origins: texts("AllowedOrigin"),
            allowed_methods: texts("AllowedMethod"),
            allowed_headers: texts("AllowedHeader"),
            expose_headers: texts("ExposeHeader"),
            max_age_seconds: match xml::child_text(node, "MaxAgeSeconds") {
                None => None,
                Some(text) => Some(
                    text.trim()
                        .parse()
                        .map_err(|_| xml::malformed("MaxAgeSeconds is a number"))?,
                ),
            },
        };
        if rule.allowed_origins.is_empty() || rule.allowed_methods.is_empty() {
            return Err(xml::malformed(
                "every CORSRule has an AllowedOrigin and an AllowedMethod",
            ));
        }
        for method in &rule.allowed_methods {
            if !METHODS.contains(&method.as_str()) {
                return Err(invalid(format!(
                    "Found unsupported HTTP method in CORS config. Unsupported method is {method}"
                )));
            }
        }
        for origin in &rule.allowed_origins {
            if origin.matches('*').count() > 1 {
                return Err(invalid(format!(
                    "AllowedOrigin \"{origin}\" can not have more than one wildcard."
                )));
            }
        }
        for header in &rule.allowed_headers {
            if header.matches('*').count() > 1 {
                return Err(invalid(format!(
                    "AllowedHeader \"{header}\" can not have more than one wildcard."
                )));
            }
        }
        rules.push(rule);
    }
    if rules.is_empty() || rules.len() > MAX_RULES {
        return Err(xml::malformed("a CORSConfiguration has 1 to 100 CORSRule"));
    }
    Ok(rules)
}

/// The `CORSConfiguration` document (also the stored form).
pub fn to_xml(rules: &[CorsRule]) -> String {
    let mut w = XmlWriter::new();
    w.open_root("CORSConfiguration");
    for rule in rules {
        w.open("CORSRule");
        w.elem_opt("ID", rule.id.as_deref());
        for (name, list) in [
            ("AllowedHeader", &rule.allowed_headers),
            ("AllowedMethod", &rule.allowed_methods),
            ("AllowedOrigin", &rule.allowed_origins),
            ("ExposeHeader", &rule.expose_headers),
        ] {
            for value in list {
                w.elem(name, value);
            }
        }
        if let Some(age) = rule.max_age_seconds {
            w.elem("MaxAgeSeconds", &age.to_string());
        }
        w.close("CORSRule");
    }
    w.close("CORSConfiguration");
    w.finish()
}

impl CorsRule {
    fn origin_matches(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|allowed| {
            wildcard_match(&allowed.to_ascii_lowercase(), &origin.to_ascii_lowercase())
        })
    }

    fn header_allowed(&self, header: &str) -> bool {
        let header = header.to_ascii_lowercase();
        self.allowed_headers
            .iter()
            .any(|allowed| wildcard_match(&allowed.to_ascii_lowercase(), &header))
    }

    /// True when the rule's only origin pattern that matters is `*`: answer with `*`.
    fn any_origin(&self) -> bool {
        self.allowed_origins.iter().any(|o| o == "*")
    }
}

/// The first rule allowing `origin` to use `method` with `request_headers` (lower case).
pub fn find<'r>(
    rules: &'r [CorsRule],
    origin: &str,
    method: &str,
    request_headers: &[String],
) -> Option<&'r CorsRule> {
    rules.iter().find(|rule| {
        rule.origin_matches(origin)
            && rule.allowed_methods.iter().any(|m| m == method)
            && request_headers.iter().all(|h| rule.header_allowed(h))
    })
}

/// The comma-separated `Access-Control-Request-Headers` list, lower case.
pub fn split_header_list(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

/// Response headers for a request from `origin` that `rule` allows. `preflight` adds the
/// allowed headers and max age.
pub fn response_headers(
    rule: &CorsRule,
    origin: &str,
    request_headers: &[String],
    preflight: bool,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if rule.any_origin() {
        out.push(("Access-Control-Allow-Origin", "*".to_string()));
    } else {
        out.push(("Access-Control-Allow-Origin", origin.to_string()));
        out.push(("Access-Control-Allow-Credentials", "true".to_string()));
    }
    out.push((
        "Access-Control-Allow-Methods",
        rule.allowed_methods.join(", "),
    ));
    if !rule.expose_headers.is_empty() {
        out.push((
            "Access-Control-Expose-Headers",
            rule.expose_headers.join(", "),
        ));
    }
    if preflight {
        if !request_headers.is_empty() {
            out.push(("Access-Control-Allow-Headers", request_headers.join(", ")));
        }
        if let Some(age) = rule.max_age_seconds {
            out.push(("Access-Control-Max-Age", age.to_string()));
        }
    }
    out.push((
        "Vary",
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".to_string(),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str =
        "<CORSConfiguration><CORSRule><AllowedOrigin>https://*.example.com</AllowedOrigin>\
        <AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod>\
        <AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>content-type</AllowedHeader>\
        <ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>300</MaxAgeSeconds></CORSRule>\
        <CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>\
        </CORSConfiguration>";

    #[test]
    fn parse_and_render() {
        let rules = parse_xml(CONFIG.as_bytes()).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].max_age_seconds, Some(300));
        let doc = to_xml(&rules);
        assert_eq!(parse_xml(doc.as_bytes()).unwrap(), rules);
        assert!(doc.contains("<CORSRule><AllowedHeader>x-amz-*</AllowedHeader>"));
    }

    #[test]
    fn matching() {
        let rules = parse_xml(CONFIG.as_bytes()).unwrap();
        let hdrs = split_header_list(Some("X-Amz-Date, Content-Type"));
        let rule = find(&rules, "https://app.example.com", "PUT", &hdrs).unwrap();
        assert_eq!(rule.max_age_seconds, Some(300));
        let headers = response_headers(rule, "https://app.example.com", &hdrs, true);
        assert!(headers.contains(&(
            "Access-Control-Allow-Origin",
            "https://app.example.com".into()
        )));
        assert!(headers.contains(&("Access-Control-Max-Age", "300".into())));
        assert!(headers.contains(&(
            "Access-Control-Allow-Headers",
            "x-amz-date, content-type".into()
        )));
        // Another origin only gets the second rule, which allows GET without headers.
        assert!(find(&rules, "https://evil.org", "PUT", &[]).is_none());
        let any = find(&rules, "https://evil.org", "GET", &[]).unwrap();
        let headers = response_headers(any, "https://evil.org", &[], false);
        assert_eq!(headers[0], ("Access-Control-Allow-Origin", "*".into()));
        assert!(find(&rules, "https://evil.org", "GET", &["x-custom".into()]).is_none());
        assert!(find(&rules, "https://app.example.com", "DELETE", &[]).is_none());
    }

    #[test]
    fn invalid_configs() {
        let code = |doc: &str| parse_xml(doc.as_bytes()).unwrap_err().code;
        assert_eq!(code("<CORSConfiguration/>"), S3ErrorCode::MalformedXML);
        assert_eq!(
            code("<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>"),
            S3ErrorCode::InvalidRequest
        );
        assert_eq!(
            code("<CORSConfiguration><CORSRule><AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"),
            S3ErrorCode::InvalidRequest
        );
        assert_eq!(
            code("<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"),
            S3ErrorCode::MalformedXML
        );
    }
}
