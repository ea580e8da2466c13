//! Sealed objects as the handlers see them: the encryption a write gets, the plain size and
//! bytes of a read, and the response headers of both.

use std::rc::Rc;

use actix_web::HttpResponseBuilder;
use futures_util::StreamExt;

use super::chunked::{ObjectKey, SealedLayout};
use super::customer::CustomerKey;
use super::customer::{COPY_SOURCE_PREFIX, PREFIX};
use super::request::{self, Transport, WriteEncryption};
use super::sealing::{decode_part_numbers, Keyed, Sealing, DOCUMENT};
use super::state::SseState;
use crate::s3::error::S3Error;
use crate::s3::objmeta;
use crate::s3::router::MAX_PART_NUMBER;
use crate::s3::Ctx;
use crate::store::{ByteRange, DataStream, ObjectInfo, ObjectMeta, ObjectReader, ObjectStore};

/// The size an object has for S3: its plain size when it is stored sealed.
pub fn plain_size(info: &ObjectInfo) -> u64 {
    info.meta.size.unwrap_or(info.size)
}

/// The object's sealing document, if it is sealed.
pub fn sealing_of(meta: &ObjectMeta) -> Result<Option<Sealing>, S3Error> {
    match objmeta::get(meta, DOCUMENT) {
        None => Ok(None),
        Some(text) => Sealing::decode(text)
            .map(Some)
            .ok_or_else(|| S3Error::internal("an object's encryption document is damaged")),
    }
}

fn transport<S>(ctx: &Ctx<'_, S>) -> Transport {
    Transport::of(ctx.req, ctx.config)
}

/// The customer key the request sends for the object (`source`: for its copy source).
pub fn request_customer_key<S>(
    ctx: &Ctx<'_, S>,
    source: bool,
) -> Result<Option<CustomerKey>, S3Error> {
    let prefix = if source { COPY_SOURCE_PREFIX } else { PREFIX };
    request::sent_customer_key(&ctx.header_fn(), prefix, transport(ctx))
}

/// What a new object written by this request gets: the request's headers (or form fields,
/// through `get`), else the bucket's default encryption.
pub async fn wanted<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<WriteEncryption, S3Error> {
    wanted_in(ctx.sse, ctx.store, &ctx.bucket, transport(ctx), get).await
}

/// [`wanted`] for a request without a [`Ctx`] (POST Object).
pub async fn wanted_in<S: ObjectStore>(
    sse: &SseState,
    store: &S,
    bucket: &str,
    transport: Transport,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<WriteEncryption, S3Error> {
    let asked = request::asked(get, transport)?;
    if asked.is_some() {
        return Ok(request::chosen(asked, None));
    }
    let default = sse.bucket_default(store, bucket).await?;
    Ok(request::chosen(None, default.as_ref()))
}

/// A fresh sealing for what the write wants, as [`wanted`] chose it.
pub fn begin<S>(ctx: &Ctx<'_, S>, wanted: &WriteEncryption) -> Result<Option<Keyed>, S3Error> {
    Keyed::new(wanted, &ctx.sse.keys)
}

/// An object opened for reading its plain bytes.
pub struct Opened {
    pub keyed: Keyed,
    pub layout: SealedLayout,
    /// The key MD5 an SSE-C request sent, echoed in responses.
    pub customer_md5: Option<String>,
}

/// Opens the object `info` for this request: None for a plain object (refused when the
/// request sends a customer key for it, as AWS); for a sealed one, its key (checking the
/// customer key the request sends, `source` for a copy source) and layout.
pub fn open<S>(
    ctx: &Ctx<'_, S>,
    info: &ObjectInfo,
    source: bool,
) -> Result<Option<Opened>, S3Error> {
    let customer = request_customer_key(ctx, source)?;
    let Some(sealing) = sealing_of(&info.meta)? else {
        if customer.is_some() {
            return Err(S3Error::new(
                crate::s3::error::S3ErrorCode::InvalidRequest,
                "The encryption parameters are not applicable to this object.",
            ));
        }
        return Ok(None);
    };
    let layout = layout_of(info, &sealing)?;
    let customer_md5 = customer.as_ref().map(|c| c.key_md5.clone());
    let keyed = Keyed::open(sealing, customer.as_ref(), &ctx.sse.keys)?;
    Ok(Some(Opened {
        keyed,
        layout,
        customer_md5,
    }))
}

/// The parts the object was sealed in: its multipart layout with the part numbers its
/// sealing kept, or one part 0.
fn layout_of(info: &ObjectInfo, sealing: &Sealing) -> Result<SealedLayout, S3Error> {
    let damaged = || S3Error::internal("a sealed object's part layout is damaged");
    let size = plain_size(info);
    let parts = match (&sealing.parts, objmeta::get(&info.meta, objmeta::PARTS)) {
        (Some(numbers), Some(sizes)) => {
            let max = MAX_PART_NUMBER as usize;
            let numbers = decode_part_numbers(numbers, max).ok_or_else(damaged)?;
            let sizes = objmeta::decode_parts(sizes, max).ok_or_else(damaged)?;
            if numbers.len() != sizes.len() {
                return Err(damaged());
            }
            numbers.into_iter().zip(sizes).collect()
        }
        (None, _) => vec![(0, size)],
        (Some(_), None) => return Err(damaged()),
    };
    let layout = SealedLayout::new(parts);
    if layout.plain_size() != size || layout.sealed_size() != info.size {
        return Err(damaged());
    }
    Ok(layout)
}

impl Opened {
    /// The plain bytes of `range` (None: all) of the object `reader` reads.
    pub fn stream<R: ObjectReader>(&self, reader: R, range: Option<ByteRange>) -> DataStream {
        let Some(sealed) = self.layout.sealed_range(range) else {
            return futures_util::stream::empty().boxed_local();
        };
        let key: Rc<ObjectKey> = self.keyed.object_key();
        self.layout.open(key, range, reader.stream(Some(sealed)))
    }

    pub fn describe(&self, builder: &mut HttpResponseBuilder, region: &str) {
        request::describe(
            builder,
            &self.keyed.sealing,
            region,
            self.customer_md5.as_deref(),
        );
    }
}
