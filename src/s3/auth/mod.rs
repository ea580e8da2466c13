//! Request authentication: AWS Signature Version 4 and 2.
//! TEMPORARY stub with the agreed API; replaced by the real module on merge.
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::stream::LocalBoxStream;

use crate::s3::error::S3Error;
use crate::store::SecretKey;

pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    pub headers: &'a actix_web::http::header::HeaderMap,
    pub virtual_bucket: Option<&'a str>,
}
pub enum Credentials {
    Anonymous,
}
impl Credentials {
    pub fn access_key(&self) -> Option<&str> {
        None
    }
}
pub fn parse(_req: &SignedRequest, _now: SystemTime, _region: &str) -> Result<Credentials, S3Error> {
    Ok(Credentials::Anonymous)
}
pub fn verify(_c: &Credentials, _r: &SignedRequest, _s: &SecretKey) -> Result<PayloadCheck, S3Error> {
    Ok(PayloadCheck::Unchecked)
}
pub enum PayloadCheck {
    Unchecked,
}
impl PayloadCheck {
    pub fn wrap(
        self,
        body: LocalBoxStream<'static, Result<Bytes, S3Error>>,
    ) -> LocalBoxStream<'static, Result<Bytes, S3Error>> {
        body
    }
    pub fn decoded_length(&self) -> Option<u64> {
        None
    }
}
