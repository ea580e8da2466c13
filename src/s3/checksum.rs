//! Flexible checksums (`x-amz-checksum-*`): SDKs send one with every upload, as a header or as
//! an aws-chunked trailer, and expect a mismatch to be refused with BadDigest.

use base64::Engine;
use crc_fast::CrcAlgorithm;

use crate::s3::auth::chunked::Trailers;
use crate::s3::error::{S3Error, S3ErrorCode};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

const ALL: [Algorithm; 5] = [
    Algorithm::Crc32,
    Algorithm::Crc32c,
    Algorithm::Crc64Nvme,
    Algorithm::Sha1,
    Algorithm::Sha256,
];

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Crc64Nvme => "CRC64NVME",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }

    /// The algorithm named in `x-amz-checksum-algorithm` (any case).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        ALL.into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The algorithm of a response header (`x-amz-checksum-crc32` -> CRC32).
    pub fn from_header(header: &str) -> Option<Algorithm> {
        ALL.into_iter().find(|a| a.header() == header)
    }

    /// The XML element carrying a value of this algorithm: `ChecksumCRC32`, ….
    pub fn element(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "ChecksumCRC32",
            Algorithm::Crc32c => "ChecksumCRC32C",
            Algorithm::Crc64Nvme => "ChecksumCRC64NVME",
            Algorithm::Sha1 => "ChecksumSHA1",
            Algorithm::Sha256 => "ChecksumSHA256",
        }
    }

    /// (reflected polynomial, width in bits) of the CRC algorithms.
    fn crc(self) -> Option<(u64, u32)> {
        match self {
            Algorithm::Crc32 => Some((0xEDB8_8320, 32)),
            Algorithm::Crc32c => Some((0x82F6_3B78, 32)),
            Algorithm::Crc64Nvme => Some((0x9A6C_9329_AC4B_C9B5, 64)),
            Algorithm::Sha1 | Algorithm::Sha256 => None,
        }
    }

    pub fn header(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Algorithm::Sha1 => "x-amz-checksum-sha1",
            Algorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::Crc32 | Algorithm::Crc32c => 4,
            Algorithm::Crc64Nvme => 8,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }

    pub fn hasher(self) -> Hasher {
        match self {
            Algorithm::Crc32 => Hasher::Crc32(crc32fast::Hasher::new()),
            Algorithm::Crc32c => Hasher::Crc32c(crc_fast::Digest::new(CrcAlgorithm::Crc32Iscsi)),
            Algorithm::Crc64Nvme => {
                Hasher::Crc64Nvme(crc_fast::Digest::new(CrcAlgorithm::Crc64Nvme))
            }
            Algorithm::Sha1 => Hasher::Sha1(Box::default()),
            Algorithm::Sha256 => {
                Hasher::Digest(Box::new(ring::digest::Context::new(&ring::digest::SHA256)))
            }
        }
    }
}

pub enum Hasher {
    Crc32(crc32fast::Hasher),
    /// crc-fast uses the CPU's CRC32 and carry-less multiply instructions where it has them.
    Crc32c(crc_fast::Digest),
    Crc64Nvme(crc_fast::Digest),
    /// The sha1 crate uses the CPU's SHA instructions where it has them; ring does not.
    Sha1(Box<sha1::Sha1>),
    Digest(Box<ring::digest::Context>),
}

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Crc32(h) => h.update(data),
            Hasher::Crc32c(digest) | Hasher::Crc64Nvme(digest) => digest.update(data),
            Hasher::Sha1(h) => sha1::Digest::update(h.as_mut(), data),
            Hasher::Digest(ctx) => ctx.update(data),
        }
    }

    /// The checksum as S3 transmits it: big-endian bytes.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            // crc-fast returns every CRC in a u64: a 32-bit one is its low half.
            Hasher::Crc32c(digest) => digest.finalize().to_be_bytes()[4..].to_vec(),
            Hasher::Crc64Nvme(digest) => digest.finalize().to_be_bytes().to_vec(),
            Hasher::Sha1(h) => sha1::Digest::finalize(*h).to_vec(),
            Hasher::Digest(ctx) => ctx.finish().as_ref().to_vec(),
        }
    }
}

/// `x-amz-checksum-type`: how a multipart object's checksum is made from its parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumType {
    /// The checksum of the parts' binary checksums, suffixed `-<part count>`.
    Composite,
    /// The checksum of the whole object's bytes (CRC algorithms only).
    FullObject,
}

impl ChecksumType {
    pub fn name(self) -> &'static str {
        match self {
            ChecksumType::Composite => "COMPOSITE",
            ChecksumType::FullObject => "FULL_OBJECT",
        }
    }

    /// The type of a stored object checksum: only composite values carry a `-N` suffix
    /// (base64 has no '-').
    pub fn of_value(value: &str) -> ChecksumType {
        if value.contains('-') {
            ChecksumType::Composite
        } else {
            ChecksumType::FullObject
        }
    }
}

/// The checksum a multipart upload was created with (`x-amz-checksum-algorithm` and
/// `x-amz-checksum-type` on CreateMultipartUpload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadChecksum {
    pub algorithm: Algorithm,
    pub kind: ChecksumType,
}

fn invalid_request(message: String) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidRequest, message)
}

impl UploadChecksum {
    /// The checksum CreateMultipartUpload asks for. AWS allows FULL_OBJECT only for the CRCs,
    /// COMPOSITE for all but CRC64NVME, and defaults to the one the algorithm allows.
    pub fn from_request(
        algorithm: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Option<UploadChecksum>, S3Error> {
        let Some(name) = algorithm else {
            return match kind {
                None => Ok(None),
                Some(_) => Err(invalid_request(
                    "The x-amz-checksum-type header can only be used with the \
                     x-amz-checksum-algorithm header."
                        .into(),
                )),
            };
        };
        let algorithm = Algorithm::from_name(name).ok_or_else(|| {
            invalid_request(format!(
                "Checksum algorithm {name:?} is not supported: use CRC32, CRC32C, CRC64NVME, \
                 SHA1 or SHA256."
            ))
        })?;
        let kind = match kind.map(|k| k.trim().to_ascii_uppercase()).as_deref() {
            None if algorithm == Algorithm::Crc64Nvme => ChecksumType::FullObject,
            None | Some("COMPOSITE") => ChecksumType::Composite,
            Some("FULL_OBJECT") => ChecksumType::FullObject,
            Some(other) => {
                return Err(invalid_request(format!(
                    "Value for x-amz-checksum-type header is invalid: {other:?}."
                )))
            }
        };
        let allowed = match kind {
            ChecksumType::Composite => algorithm != Algorithm::Crc64Nvme,
            ChecksumType::FullObject => algorithm.crc().is_some(),
        };
        if !allowed {
            return Err(invalid_request(format!(
                "The {} checksum type cannot be used with the {} checksum algorithm.",
                kind.name(),
                algorithm.name().to_ascii_lowercase()
            )));
        }
        Ok(Some(UploadChecksum { algorithm, kind }))
    }

    /// The stored form, kept with the upload: `CRC32 COMPOSITE`.
    pub fn encode(self) -> String {
        format!("{} {}", self.algorithm.name(), self.kind.name())
    }

    pub fn decode(text: &str) -> Option<UploadChecksum> {
        let (algorithm, kind) = text.split_once(' ')?;
        let kind = match kind {
            "COMPOSITE" => ChecksumType::Composite,
            "FULL_OBJECT" => ChecksumType::FullObject,
            _ => return None,
        };
        Some(UploadChecksum {
            algorithm: Algorithm::from_name(algorithm)?,
            kind,
        })
    }

    /// The object's checksum (base64) from its parts' (binary checksum, size), in order:
    /// the checksum of the concatenated part checksums with `-N` for COMPOSITE, the CRCs
    /// combined into the CRC of the whole object for FULL_OBJECT.
    pub fn of_parts(self, parts: &[(Vec<u8>, u64)]) -> String {
        let b64 = &base64::engine::general_purpose::STANDARD;
        match (self.kind, self.algorithm.crc()) {
            (ChecksumType::FullObject, Some((poly, width))) => {
                let mut crc = 0u64;
                for (value, size) in parts {
                    let part = value.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                    crc = crc_combine(poly, width, crc, part, *size);
                }
                let bytes = crc.to_be_bytes();
                b64.encode(&bytes[bytes.len() - self.algorithm.digest_len()..])
            }
            _ => {
                let mut hasher = self.algorithm.hasher();
                for (value, _) in parts {
                    hasher.update(value);
                }
                format!("{}-{}", b64.encode(hasher.finish()), parts.len())
            }
        }
    }
}

/// Product of two polynomials modulo the CRC polynomial, in the reflected bit order.
fn crc_multiply(poly: u64, width: u32, a: u64, mut b: u64) -> u64 {
    let mut product = 0;
    let mut bit = 1u64 << (width - 1);
    while bit != 0 {
        if a & bit != 0 {
            product ^= b;
        }
        bit >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ poly } else { b >> 1 };
    }
    product
}

/// The CRC of A followed by B from the CRCs of A and B and the length of B: shifting A's
/// CRC through B's length of zero bytes is a multiplication by x^(8 * len) modulo the
/// polynomial. Holds for CRCs whose initial value and final xor are both all ones.
/// Kept rather than crc-fast's `checksum_combine` (same results): that one squares 64x64
/// bit matrices per bit of the length, about 100 times slower, which a 10,000-part
/// FULL_OBJECT completion would feel (seconds instead of tens of milliseconds).
fn crc_combine(poly: u64, width: u32, crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    let one = 1u64 << (width - 1);
    let mut shift = one;
    // x^8, then squared for each further bit of the length.
    let mut power = one >> 8;
    let mut n = len_b;
    while n != 0 {
        if n & 1 != 0 {
            shift = crc_multiply(poly, width, shift, power);
        }
        power = crc_multiply(poly, width, power, power);
        n >>= 1;
    }
    crc_multiply(poly, width, shift, crc_a) ^ crc_b
}

/// Decodes a stored base64 part checksum of `algorithm`.
pub fn decode_value(algorithm: Algorithm, value: &str) -> Option<Vec<u8>> {
    decode(algorithm, value).ok()
}

/// Where the client's value for a checksum comes from.
pub enum Declared {
    Header(Vec<u8>),
    /// Known only once the aws-chunked body has ended.
    Trailer(Trailers),
    /// None: the server computes the checksum an upload asks for and keeps it.
    Nothing,
}

/// The checksum a request asks us to verify, if any.
pub struct Expected {
    pub algorithm: Algorithm,
    declared: Declared,
}

fn decode(algorithm: Algorithm, value: &str) -> Result<Vec<u8>, S3Error> {
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()
        .filter(|bytes| bytes.len() == algorithm.digest_len())
        .ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!("Value for {} header is invalid.", algorithm.header()),
            )
        })
}

impl Expected {
    /// A checksum to compute and keep with nothing to compare it to: a part of an upload
    /// created with a checksum algorithm, sent without that checksum (S3 computes it then).
    pub fn computed(algorithm: Algorithm) -> Expected {
        Expected {
            algorithm,
            declared: Declared::Nothing,
        }
    }

    /// Reads `x-amz-checksum-*` headers, or the `x-amz-trailer` announcing one.
    pub fn from_request(
        header: impl Fn(&str) -> Option<String>,
        trailers: Option<&Trailers>,
    ) -> Result<Option<Expected>, S3Error> {
        let mut found = None;
        for algorithm in ALL {
            if let Some(value) = header(algorithm.header()) {
                if found.is_some() {
                    return Err(S3Error::new(
                        S3ErrorCode::InvalidRequest,
                        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                    ));
                }
                found = Some(Expected {
                    algorithm,
                    declared: Declared::Header(decode(algorithm, &value)?),
                });
            }
        }
        if found.is_some() {
            return Ok(found);
        }
        let Some(announced) = header("x-amz-trailer") else {
            return Ok(None);
        };
        let announced = announced.trim().to_ascii_lowercase();
        let Some(algorithm) = ALL.into_iter().find(|a| a.header() == announced) else {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!(
                    "x-amz-trailer must name one checksum header (x-amz-checksum-crc32, \
                     -crc32c, -crc64nvme, -sha1 or -sha256), not {announced:?}."
                ),
            ));
        };
        let trailers = trailers.ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                "x-amz-trailer needs an aws-chunked body (a STREAMING-*-TRAILER payload)",
            )
        })?;
        Ok(Some(Expected {
            algorithm,
            declared: Declared::Trailer(trailers.clone()),
        }))
    }

    /// Compares the computed checksum with the client's: BadDigest when they differ.
    /// Returns the value to echo in the response header.
    pub fn verify(&self, computed: &[u8]) -> Result<String, S3Error> {
        let declared = match &self.declared {
            Declared::Header(value) => value.clone(),
            Declared::Trailer(trailers) => {
                let value = trailers.get(self.algorithm.header()).ok_or_else(|| {
                    S3Error::new(
                        S3ErrorCode::InvalidRequest,
                        format!(
                            "The trailer {} was announced but not sent.",
                            self.algorithm.header()
                        ),
                    )
                })?;
                decode(self.algorithm, &value)?
            }
            Declared::Nothing => computed.to_vec(),
        };
        if declared != computed {
            return Err(S3Error::new(
                S3ErrorCode::BadDigest,
                format!(
                    "The {} you specified did not match the calculated checksum.",
                    self.algorithm.name()
                ),
            ));
        }
        Ok(base64::engine::general_purpose::STANDARD.encode(computed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checksum(algorithm: Algorithm, data: &[u8]) -> Vec<u8> {
        let mut h = algorithm.hasher();
        let (a, b) = data.split_at(data.len() / 2);
        h.update(a);
        h.update(b);
        h.finish()
    }

    /// The catalogue check values: the CRC of "123456789".
    #[test]
    fn check_values() {
        let data = b"123456789";
        assert_eq!(
            checksum(Algorithm::Crc32, data),
            0xCBF4_3926u32.to_be_bytes()
        );
        assert_eq!(
            checksum(Algorithm::Crc32c, data),
            0xE306_9283u32.to_be_bytes()
        );
        assert_eq!(
            checksum(Algorithm::Crc64Nvme, data),
            0xAE8B_1486_0A79_9888u64.to_be_bytes()
        );
        assert_eq!(
            crate::encoding::hex(&checksum(Algorithm::Sha1, b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    /// The CRC by its definition, one bit at a time (reflected, initial value and final
    /// xor all ones): the reference for the SIMD code paths.
    fn crc_by_definition(poly: u64, width: u32, data: &[u8]) -> Vec<u8> {
        let mask = u64::MAX >> (64 - width);
        let mut crc = mask;
        for &byte in data {
            crc ^= u64::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ poly
                } else {
                    crc >> 1
                };
            }
        }
        let bytes = (crc ^ mask).to_be_bytes();
        bytes[8 - width as usize / 8..].to_vec()
    }

    /// Long inputs, fed in pieces of odd sizes, take the vector paths and their tails.
    #[test]
    fn crcs_match_their_definition_however_the_data_is_split() {
        let data: Vec<u8> = (0..70_001u32).map(|i| (i * 31 + i / 257) as u8).collect();
        for algorithm in [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Crc64Nvme] {
            let (poly, width) = algorithm.crc().expect("a CRC algorithm");
            for len in [0, 1, 15, 16, 63, 64, 255, 256, 4097, data.len()] {
                let expected = crc_by_definition(poly, width, &data[..len]);
                for piece in [1, 7, 100, 65_536] {
                    let mut hasher = algorithm.hasher();
                    for chunk in data[..len].chunks(piece) {
                        hasher.update(chunk);
                    }
                    assert_eq!(hasher.finish(), expected, "{algorithm:?} {len} by {piece}");
                }
            }
        }
    }

    #[test]
    fn full_object_crcs_combine_part_crcs() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for algorithm in [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Crc64Nvme] {
            let whole =
                base64::engine::general_purpose::STANDARD.encode(checksum(algorithm, &data));
            let parts: Vec<(Vec<u8>, u64)> = [&data[..1], &data[1..3000], &data[3000..], &[]]
                .iter()
                .map(|p| (checksum(algorithm, p), p.len() as u64))
                .collect();
            let upload = UploadChecksum {
                algorithm,
                kind: ChecksumType::FullObject,
            };
            assert_eq!(upload.of_parts(&parts), whole, "{algorithm:?}");
        }
    }

    #[test]
    fn composite_checksums_hash_part_checksums() {
        let parts = vec![
            (checksum(Algorithm::Sha256, b"a"), 1),
            (checksum(Algorithm::Sha256, b"b"), 1),
        ];
        let mut joined = parts[0].0.clone();
        joined.extend_from_slice(&parts[1].0);
        let expected =
            base64::engine::general_purpose::STANDARD.encode(checksum(Algorithm::Sha256, &joined));
        let upload = UploadChecksum::from_request(Some("sha256"), None)
            .unwrap()
            .unwrap();
        assert_eq!(upload.kind, ChecksumType::Composite);
        assert_eq!(upload.of_parts(&parts), format!("{expected}-2"));
        assert_eq!(UploadChecksum::decode(&upload.encode()), Some(upload));
        assert_eq!(
            ChecksumType::of_value(&upload.of_parts(&parts)),
            ChecksumType::Composite
        );
    }

    #[test]
    fn upload_checksum_types() {
        let kind = |a: &str, t: Option<&str>| {
            UploadChecksum::from_request(Some(a), t).map(|c| c.map(|c| c.kind))
        };
        assert_eq!(
            kind("CRC64NVME", None).unwrap(),
            Some(ChecksumType::FullObject)
        );
        assert_eq!(
            kind("crc32", Some("FULL_OBJECT")).unwrap(),
            Some(ChecksumType::FullObject)
        );
        for (a, t) in [
            ("SHA1", "FULL_OBJECT"),
            ("CRC64NVME", "COMPOSITE"),
            ("CRC32", "X"),
        ] {
            assert_eq!(
                kind(a, Some(t)).unwrap_err().code,
                S3ErrorCode::InvalidRequest
            );
        }
        assert!(UploadChecksum::from_request(Some("MD5"), None).is_err());
        assert!(UploadChecksum::from_request(None, Some("COMPOSITE")).is_err());
        assert_eq!(UploadChecksum::from_request(None, None).unwrap(), None);
    }

    #[test]
    fn header_values_are_verified() {
        let good = base64::engine::general_purpose::STANDARD.encode(0xCBF4_3926u32.to_be_bytes());
        let header = |name: &str| (name == "x-amz-checksum-crc32").then(|| good.clone());
        let expected = Expected::from_request(header, None).unwrap().unwrap();
        assert_eq!(
            expected
                .verify(&checksum(Algorithm::Crc32, b"123456789"))
                .unwrap(),
            good
        );
        let e = expected
            .verify(&checksum(Algorithm::Crc32, b"12345678"))
            .unwrap_err();
        assert_eq!(e.code, S3ErrorCode::BadDigest);

        let bad = |name: &str| (name == "x-amz-checksum-crc32").then(|| "AAA".to_string());
        let e = Expected::from_request(bad, None).err().unwrap();
        assert_eq!(e.code, S3ErrorCode::InvalidRequest);
        assert!(Expected::from_request(|_| None, None).unwrap().is_none());
    }
}
