//! DeleteObjects: up to 1000 keys in one request, each answered on its own.

use actix_web::HttpResponse;

use super::object::delete_key;
use super::xml_response;
use crate::s3::access::access_denied;
use crate::s3::body::{RequestBody, MAX_XML_BODY};
use crate::s3::conditional::DeletePreconditions;
use crate::s3::error::S3Error;
use crate::s3::router::MAX_KEY_LEN;
use crate::s3::versioning::version_id_param;
use crate::s3::xml::{self, XmlWriter};
use crate::s3::Ctx;
use crate::store::ObjectStore;
use crate::time::parse_iso8601;

/// The most keys one DeleteObjects request may name (as S3).
pub const MAX_DELETE_KEYS: usize = 1000;

#[derive(Debug)]
pub struct DeleteRequest {
    pub quiet: bool,
    pub objects: Vec<DeleteEntry>,
}

/// One `Object` entry.
#[derive(Debug)]
pub struct DeleteEntry {
    pub key: String,
    /// `VersionId`: remove this version for good.
    pub version_id: Option<String>,
    pub conditions: DeletePreconditions,
}

/// The conditions of one `Object` entry: `ETag`, `LastModifiedTime` (ISO 8601) and `Size`
/// (DeleteObjects page, ObjectIdentifier).
fn entry_conditions(object: roxmltree::Node) -> Result<DeletePreconditions, S3Error> {
    let text = |name| xml::child_text(object, name).map(str::trim);
    let last_modified = text("LastModifiedTime")
        .map(|v| parse_iso8601(v).ok_or_else(|| xml::malformed("LastModifiedTime is a timestamp")))
        .transpose()?;
    let size = text("Size")
        .map(|v| {
            v.parse()
                .map_err(|_| xml::malformed("Size is a number of bytes"))
        })
        .transpose()?;
    Ok(DeletePreconditions {
        if_match: text("ETag").map(|v| v.trim_matches('"').to_string()),
        last_modified,
        size,
    })
}

pub fn parse_request(body: &[u8]) -> Result<DeleteRequest, S3Error> {
    let doc = xml::parse(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "Delete" {
        return Err(xml::malformed("expected a Delete element"));
    }
    let quiet = match xml::child_text(root, "Quiet").map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(xml::malformed("Quiet is true or false")),
    };
    let mut objects = Vec::new();
    for object in xml::children(root, "Object") {
        let key = xml::child_text(object, "Key")
            .ok_or_else(|| xml::malformed("every Object has a Key"))?;
        let version_id = xml::child_text(object, "VersionId").map(|v| v.trim().to_string());
        objects.push(DeleteEntry {
            key: key.to_string(),
            version_id,
            conditions: entry_conditions(object)?,
        });
    }
    if objects.is_empty() || objects.len() > MAX_DELETE_KEYS {
        return Err(xml::malformed("a Delete names 1 to 1000 objects"));
    }
    Ok(DeleteRequest { quiet, objects })
}

pub async fn delete_objects<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    let document = body.read_capped(MAX_XML_BODY).await?;
    let request = parse_request(&document)?;
    // A bucket that is missing or not ours fails the whole request, as S3 does.
    ctx.store.bucket_info(&ctx.who, &ctx.bucket).await?;

    let mut w = XmlWriter::new();
    w.open_root("DeleteResult");
    for entry in &request.objects {
        let (key, version_id) = (&entry.key, entry.version_id.as_deref());
        let result = if key.is_empty() || key.len() > MAX_KEY_LEN {
            Err(S3Error::new(
                crate::s3::error::S3ErrorCode::InvalidArgument,
                "A key is 1 to 1024 bytes long",
            ))
        } else if !ctx.access.may_delete(key, version_id.is_some()) {
            Err(access_denied())
        } else {
            match version_id_param(version_id) {
                Ok(version_id) => delete_key(ctx, key, version_id, &entry.conditions).await,
                Err(e) => Err(e),
            }
        };
        match result {
            Ok(_) if request.quiet => {}
            Ok(deleted) => {
                w.open("Deleted");
                w.elem("Key", key);
                w.elem_opt("VersionId", version_id);
                if deleted.delete_marker {
                    w.elem("DeleteMarker", "true");
                    // The marker written (no VersionId asked) or the one removed (asked).
                    w.elem_opt("DeleteMarkerVersionId", deleted.version_id.as_deref());
                }
                w.close("Deleted");
            }
            Err(e) => {
                if e.code.status().is_server_error() {
                    log::error!("DeleteObjects {}/{key}: {e}", ctx.bucket);
                }
                w.open("Error");
                w.elem("Key", key);
                w.elem_opt("VersionId", version_id);
                w.elem("Code", e.code.as_str());
                w.elem("Message", &e.message);
                w.close("Error");
            }
        }
    }
    w.close("DeleteResult");
    Ok(xml_response(w.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::error::S3ErrorCode;

    #[test]
    fn parses_delete_documents() {
        let r = parse_request(
            b"<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>\
              <Object><Key>a&amp;b</Key></Object><Object><Key>c</Key><VersionId>null</VersionId></Object></Delete>",
        )
        .unwrap();
        assert!(r.quiet);
        let keys: Vec<&str> = r.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, vec!["a&b", "c"]);
        assert_eq!(r.objects[0].version_id, None);
        assert_eq!(r.objects[1].version_id.as_deref(), Some("null"));
        let r = parse_request(
            b"<Delete><Object><Key>k</Key><ETag>\"e\"</ETag><Size>3</Size>\
              <LastModifiedTime>1970-01-01T00:00:10.000Z</LastModifiedTime></Object></Delete>",
        )
        .unwrap();
        let conditions = &r.objects[0].conditions;
        assert_eq!(conditions.if_match.as_deref(), Some("e"));
        assert_eq!(conditions.size, Some(3));
        assert!(conditions.last_modified.is_some());
        for bad in [
            &b"<Delete></Delete>"[..],
            b"<Delete><Object></Object></Delete>",
            b"<Remove><Object><Key>a</Key></Object></Remove>",
            b"<Delete><Object><Key>a</Key>",
        ] {
            assert_eq!(
                parse_request(bad).unwrap_err().code,
                S3ErrorCode::MalformedXML
            );
        }
    }
}
