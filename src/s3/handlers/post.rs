//! POST Object: an HTML form upload signed with a policy document (SigV4 or SigV2). Write
//! options sent as form fields (storage class, encryption, object lock) go through the same
//! check as PutObject's headers, before the file is read.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse};
use base64::Engine;
use bytes::Bytes;
use futures_util::stream::LocalBoxStream;
use ring::hmac;

use super::object::{check_write_options, encryption_header, WriteOptions, MAX_PUT_SIZE};
use super::quoted;
use crate::encoding::{hex, unhex};
use crate::s3::access::conditions::{RequestFacts, Signature};
use crate::s3::access::{self, RulesCache};
use crate::s3::acl;
use crate::s3::auth::sigv4;
use crate::s3::body::RequestBody;
use crate::s3::checksum::Expected;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::form::{self, FormReader, MAX_FIELDS_SIZE};
use crate::s3::identity::Identity;
use crate::s3::object_lock;
use crate::s3::objmeta;
use crate::s3::post_policy::PostPolicy;
use crate::s3::router::{percent_encode, MAX_KEY_LEN};
use crate::s3::router::{Operation, Query};
use crate::s3::sse::chunked;
use crate::s3::sse::object as sse_object;
use crate::s3::sse::request::{self, Transport, WriteEncryption};
use crate::s3::sse::sealing::{self, Keyed, Sealing};
use crate::s3::sse::state::SseState;
use crate::s3::tagging::{self, MAX_OBJECT_TAGS};
use crate::s3::xml::XmlWriter;
use crate::s3::S3Config;
use crate::store::{ObjectMeta, ObjectStore, User, Versioning, WriteCondition};

/// Form fields kept as object headers (besides `x-amz-meta-*`).
const STORED_FIELDS: &[&str] = &[
    "content-type",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "expires",
];

struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Field names are read in lower case, so options are found whatever case the form used.
impl WriteOptions for Fields {
    fn option(&self, name: &str) -> Option<&str> {
        self.get(name)
    }
}

fn invalid_argument(message: &str, name: &'static str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, message.to_string())
        .with_detail("ArgumentName", name)
}

fn signature_mismatch() -> S3Error {
    S3Error::new(
        S3ErrorCode::SignatureDoesNotMatch,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
}

async fn user<S: ObjectStore>(store: &S, access_key: &str) -> Result<User, S3Error> {
    store.user_by_access_key(access_key).await?.ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        )
        .with_detail("AWSAccessKeyId", access_key)
    })
}

/// Verifies the policy signature and returns the signing user.
async fn authenticate<S: ObjectStore>(
    store: &S,
    config: &S3Config,
    fields: &Fields,
    policy_b64: &str,
) -> Result<User, S3Error> {
    if let Some(algorithm) = fields.get("x-amz-algorithm") {
        if algorithm != sigv4::ALGORITHM {
            return Err(invalid_argument(
                "Unsupported x-amz-algorithm",
                "x-amz-algorithm",
            ));
        }
        let credential = fields
            .get("x-amz-credential")
            .ok_or_else(|| invalid_argument("Missing x-amz-credential", "x-amz-credential"))?;
        let signature = fields
            .get("x-amz-signature")
            .ok_or_else(|| invalid_argument("Missing x-amz-signature", "x-amz-signature"))?;
        let parts: Vec<&str> = credential.split('/').collect();
        let [access_key, date, region, "s3", "aws4_request"] = parts[..] else {
            return Err(invalid_argument(
                "x-amz-credential is AKID/yyyymmdd/region/s3/aws4_request",
                "x-amz-credential",
            ));
        };
        if region != config.region {
            return Err(S3Error::new(
                S3ErrorCode::AuthorizationQueryParametersError,
                format!(
                    "the region '{region}' is wrong; expecting '{}'",
                    config.region
                ),
            ));
        }
        let user = user(store, access_key).await?;
        let key = sigv4::signing_key(&user.secret, date, region);
        let provided = unhex(signature).ok_or_else(signature_mismatch)?;
        hmac::verify(&key, policy_b64.as_bytes(), &provided).map_err(|_| signature_mismatch())?;
        return Ok(user);
    }
    let access_key = fields.get("awsaccesskeyid").ok_or_else(|| {
        invalid_argument(
            "Bucket POST must contain a field named 'AWSAccessKeyId' or 'X-Amz-Credential'.",
            "AWSAccessKeyId",
        )
    })?;
    let signature = fields.get("signature").ok_or_else(|| {
        invalid_argument(
            "Bucket POST must contain a field named 'Signature'.",
            "Signature",
        )
    })?;
    let user = user(store, access_key).await?;
    let key = hmac::Key::new(
        hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        user.secret.expose().as_bytes(),
    );
    let provided = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .map_err(|_| signature_mismatch())?;
    hmac::verify(&key, policy_b64.as_bytes(), &provided).map_err(|_| signature_mismatch())?;
    Ok(user)
}

pub async fn post_object<S: ObjectStore>(
    store: &S,
    config: &S3Config,
    sse: &SseState,
    rules: &RulesCache,
    req: &HttpRequest,
    body: LocalBoxStream<'static, Result<Bytes, S3Error>>,
    bucket: &str,
) -> Result<HttpResponse, S3Error> {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = form::boundary(content_type)
        .ok_or_else(|| form::malformed("the Content-Type is not multipart/form-data"))?;
    let mut reader = FormReader::new(body, &boundary);
    let mut fields = Vec::new();
    let mut budget = MAX_FIELDS_SIZE;
    let file = loop {
        let Some(part) = reader.next_part().await? else {
            return Err(invalid_argument(
                "POST requires exactly one file upload per request.",
                "file",
            ));
        };
        let name = part.name.to_ascii_lowercase();
        if name == "file" {
            break part;
        }
        let value = reader.read_value(budget).await?;
        budget -= value.len();
        let value = String::from_utf8(value.to_vec())
            .map_err(|_| form::malformed("a field is not UTF-8"))?;
        fields.push((name, value));
    };
    fields.push(("bucket".to_string(), bucket.to_string()));
    let fields = Fields(fields);

    // Without a policy the upload is anonymous: only a bucket open to anonymous writes takes
    // it (decided below, as for a PutObject).
    let (requester, policy) = match fields.get("policy") {
        Some(policy_b64) => {
            let user = authenticate(store, config, &fields, policy_b64).await?;
            let policy_json = base64::engine::general_purpose::STANDARD
                .decode(policy_b64.trim())
                .map_err(|_| {
                    S3Error::new(
                        S3ErrorCode::InvalidPolicyDocument,
                        "Invalid Policy: the policy is not base64",
                    )
                })?;
            (
                Some(Identity::of(&user.name)),
                Some(PostPolicy::parse(&policy_json)?),
            )
        }
        None => (None, None),
    };
    let key_field = fields
        .get("key")
        .ok_or_else(|| invalid_argument("Bucket POST must contain a field named 'key'.", "key"))?;
    let filename = file.filename.as_deref().unwrap_or("");
    let key = key_field.replace("${filename}", filename);
    // The policy's conditions on $key apply to the key the object gets, after `${filename}`
    // (AWS: "Creating a POST policy", condition matching on the key element).
    let mut fields = fields;
    for (name, value) in &mut fields.0 {
        if name == "key" {
            value.clone_from(&key);
        }
    }
    if let Some(policy) = &policy {
        policy.check_fields(&fields.0, std::time::SystemTime::now())?;
    }
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(S3Error::new(
            S3ErrorCode::KeyTooLongError,
            "A key is 1 to 1024 bytes long",
        ));
    }
    crate::s3::router::check_writable_key(&key)?;
    // Before the file is read, so a refused upload stores nothing.
    check_write_options(&fields)?;
    let transport = Transport::of(req, config);
    // The form's signer needs the right to write the key, decided as for a PutObject, on
    // what the form (not its headers) asks for.
    let form_tags = match fields.get("tagging") {
        Some(document) => Some(tagging::parse_xml(document.as_bytes(), MAX_OBJECT_TAGS)?),
        None => None,
    };
    // Only what the upload applies: a grant field, say, would satisfy a condition and
    // then give nothing.
    let field = |name: &str| match name {
        "x-amz-acl" => fields.get("acl").map(str::to_string),
        "x-amz-tagging" => form_tags.as_ref().map(tagging::encode),
        "x-amz-server-side-encryption" | "x-amz-server-side-encryption-aws-kms-key-id" => {
            fields.get(name).map(str::to_string)
        }
        _ => None,
    };
    let facts = RequestFacts {
        req,
        fields: Some(&field),
        query: &Query::default(),
        requester: requester.as_ref(),
        signature: match requester {
            Some(_) => Signature::Post {
                v4: fields.get("x-amz-algorithm").is_some(),
            },
            None => Signature::None,
        },
        secure: transport.secure,
        now: std::time::SystemTime::now(),
    };
    let (who, access) = access::authorize(
        store,
        rules,
        config,
        &facts,
        Operation::PutObject,
        Some(bucket),
        &key,
    )
    .await?;
    // Field names were read in lower case; header names are asked for as S3 spells them.
    let option = |name: &str| fields.get(&name.to_ascii_lowercase()).map(str::to_owned);
    let wanted = sse_object::wanted_in(sse, store, bucket, transport, &option).await?;
    let keyed = Keyed::new(&wanted, &sse.keys)?;

    let mut headers = Vec::new();
    for (name, value) in &fields.0 {
        if STORED_FIELDS.contains(&name.as_str()) || name.starts_with("x-amz-meta-") {
            headers.push((name.clone(), value.clone()));
        }
    }
    let requested_acl = acl::from_headers(|name| match name {
        "x-amz-acl" => fields.get("acl").map(str::to_string),
        _ => None,
    })?;
    let (acl, owner) = access.new_object_documents(requested_acl)?;
    objmeta::set(&mut headers, objmeta::ACL, acl);
    objmeta::set(&mut headers, objmeta::OWNER, owner);
    let lock_config = access.rules().and_then(|r| r.object_lock.as_ref());
    let lock = object_lock::lock_for_write(|name| fields.get(name), lock_config, facts.now)?;
    lock.unwrap_or_default().store(&mut headers);
    if let Some(document) = fields.get("tagging") {
        let tags = tagging::parse_xml(document.as_bytes(), MAX_OBJECT_TAGS)?;
        objmeta::set(
            &mut headers,
            objmeta::TAGGING,
            (!tags.is_empty()).then(|| tagging::encode(&tags)),
        );
    }

    // `x-amz-checksum-<algorithm>` fields ask for the file's checksum to be verified, as the
    // headers of a PUT do (AWS PostObject: "x-amz-checksum-*" form fields).
    let checksum = Expected::from_request(|name| fields.get(name).map(str::to_owned), None)?;
    let file_body = RequestBody {
        stream: reader.into_file_stream(),
        length: None,
        checksum,
        content_md5: None,
    }
    .with_default_checksum();
    let (stream, digest) = file_body.into_hashed();
    let stream = match &keyed {
        Some(keyed) => chunked::seal(keyed.object_key(), 0, stream),
        None => stream,
    };
    let staged = store.stage(&who, bucket, stream, None).await?;
    let digests = digest.finish().await?;
    let (md5, size) = (digests.md5, digests.length);
    if size > MAX_PUT_SIZE {
        return Err(S3Error::new(
            S3ErrorCode::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size",
        ));
    }
    if let Some(policy) = &policy {
        policy.check_size(size)?;
    }
    if let Some((header, value)) = &digests.checksum {
        let stored = objmeta::encode_checksum(header, value);
        objmeta::set(&mut headers, objmeta::CHECKSUM, Some(stored));
    }
    let sealing = keyed.as_ref().map(|k| &k.sealing);
    objmeta::set(
        &mut headers,
        sealing::DOCUMENT,
        sealing.map(Sealing::encode),
    );
    let meta = ObjectMeta {
        etag: keyed.as_ref().map_or_else(|| hex(&md5), |k| k.etag(&md5)),
        headers,
        size: keyed.as_ref().map(|_| size),
    };
    let info = store
        .commit_object(
            &who,
            bucket,
            &key,
            staged,
            meta,
            WriteCondition::None,
            access
                .rules()
                .map_or(Versioning::Unversioned, |r| r.versioning),
        )
        .await?;
    let etag = quoted(&info.meta.etag);
    let location = format!("/{bucket}/{}", percent_encode(&key, true));

    let redirect = fields
        .get("success_action_redirect")
        .or_else(|| fields.get("redirect"))
        .filter(|r| !r.is_empty());
    let (mut response, document) = match (redirect, fields.get("success_action_status")) {
        (Some(redirect), _) => {
            let separator = if redirect.contains('?') { '&' } else { '?' };
            let target = format!(
                "{redirect}{separator}bucket={}&key={}&etag={}",
                percent_encode(bucket, false),
                percent_encode(&key, false),
                percent_encode(&etag, false)
            );
            let mut builder = HttpResponse::SeeOther();
            builder.insert_header(("Location", target));
            (builder, None)
        }
        (None, Some("201")) => {
            let mut w = XmlWriter::new();
            w.open_root("PostResponse");
            w.elem("Location", &location);
            w.elem("Bucket", bucket);
            w.elem("Key", &key);
            w.elem("ETag", &etag);
            w.close("PostResponse");
            let mut builder = HttpResponse::Created();
            builder.insert_header((CONTENT_TYPE, "application/xml"));
            (builder, Some(w.finish()))
        }
        (None, Some("200")) => {
            let mut builder = HttpResponse::Ok();
            builder.insert_header(("Location", location));
            (builder, None)
        }
        (None, _) => {
            let mut builder = HttpResponse::NoContent();
            builder.insert_header(("Location", location));
            (builder, None)
        }
    };
    response.insert_header(("ETag", etag));
    match sealing {
        Some(sealing) => {
            let md5 = match &wanted {
                WriteEncryption::Customer(key) => Some(key.key_md5.as_str()),
                _ => None,
            };
            request::describe(&mut response, sealing, &config.region, md5);
        }
        None => encryption_header(store, &mut response),
    }
    Ok(match document {
        Some(document) => response.body(document),
        None => response.finish(),
    })
}
