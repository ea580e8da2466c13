//! Flexible checksums (`x-amz-checksum-*`): SDKs send one with every upload, as a header or as
//! an aws-chunked trailer, and expect a mismatch to be refused with BadDigest.

use base64::Engine;

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

    pub fn header(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Algorithm::Sha1 => "x-amz-checksum-sha1",
            Algorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    fn digest_len(self) -> usize {
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
            Algorithm::Crc32c => Hasher::Crc32c(!0),
            Algorithm::Crc64Nvme => Hasher::Crc64Nvme(!0),
            Algorithm::Sha1 => Hasher::Digest(Box::new(ring::digest::Context::new(
                &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            ))),
            Algorithm::Sha256 => {
                Hasher::Digest(Box::new(ring::digest::Context::new(&ring::digest::SHA256)))
            }
        }
    }
}

/// Reflected CRC tables, built at compile time.
const fn crc32_table(poly: u32) -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ poly } else { c >> 1 };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

const fn crc64_table(poly: u64) -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ poly } else { c >> 1 };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC32C: [u32; 256] = crc32_table(0x82F6_3B78);
static CRC64_NVME: [u64; 256] = crc64_table(0x9A6C_9329_AC4B_C9B5);

pub enum Hasher {
    Crc32(crc32fast::Hasher),
    /// Running register, before the final inversion.
    Crc32c(u32),
    Crc64Nvme(u64),
    Digest(Box<ring::digest::Context>),
}

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Crc32(h) => h.update(data),
            Hasher::Crc32c(crc) => {
                for &b in data {
                    *crc = CRC32C[((*crc ^ b as u32) & 0xFF) as usize] ^ (*crc >> 8);
                }
            }
            Hasher::Crc64Nvme(crc) => {
                for &b in data {
                    *crc = CRC64_NVME[((*crc ^ b as u64) & 0xFF) as usize] ^ (*crc >> 8);
                }
            }
            Hasher::Digest(ctx) => ctx.update(data),
        }
    }

    /// The checksum as S3 transmits it: big-endian bytes.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            Hasher::Crc32c(crc) => (!crc).to_be_bytes().to_vec(),
            Hasher::Crc64Nvme(crc) => (!crc).to_be_bytes().to_vec(),
            Hasher::Digest(ctx) => ctx.finish().as_ref().to_vec(),
        }
    }
}

/// Where the client's value for a checksum comes from.
pub enum Declared {
    Header(Vec<u8>),
    /// Known only once the aws-chunked body has ended.
    Trailer(Trailers),
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
