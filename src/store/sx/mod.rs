//! The SX backend: an [`ObjectStore`](crate::store::ObjectStore) on a Skylable SX cluster
//! (sx-protocol.md).
//!
//! - Bucket = volume; key = file path ([`mapping`] escapes what SX cannot hold).
//! - S3 access key = SX user name, S3 secret = that user's SX token, resolved with the admin
//!   token and cached; every request then runs as that user, so SX's own ACLs apply.
//! - Everything the gateway must remember lives on the cluster, under the reserved
//!   `.libres3/` directory of each volume: staged bodies (`tmp/`), multipart uploads (`up/`),
//!   their parts (`parts/`), for a while completed uploads (`done/`), and leases (`lease/`,
//!   `lease`). Several gateways in front of one cluster share no other state.
//! - `stage` keeps a body of up to `staged::HELD_BYTES` in memory, and the commit uploads it under
//!   its real name. A larger body is hashed block by block as it arrives, SX is sent only the
//!   blocks it lacks, in parts of [`PART_BYTES`] so memory stays bounded, and the staged body
//!   becomes a hidden file; the commit re-creates the file under its real name from the same
//!   block hashes (no data moves). Either way the S3 metadata and ETag go in the SX file
//!   meta. Multipart completion joins the parts' block lists where they line up.
//!
//! Modules: `store` holds [`SxStore`], the trait implementation, which picks the cluster
//! connection for a request and calls the operations; `cluster` (one connection: nodes,
//! caches, routing to a volume's nodes), `access` (users, tokens, volumes, key to path),
//! `upload` (writing a file block by block), `staged` (staged bodies), `objects`
//! (conditional writes, copies, deletes), `reader` (revision-consistent reads, [`SxReader`]),
//! `batches` (which node serves which blocks of a read), `listing`, `multipart`, `unflushed`
//! (parts kept as unflushed 1 MiB blocks so a large completion moves no data), `buckets` (volumes and bucket documents); and the SX protocol
//! pieces: `client` (HTTP, failover, jobs), `tls`, `auth` (signing), `proto` (wire JSON),
//! `mapping` (pure S3-to-SX mapping), `config`.

pub mod auth;
pub mod client;
pub mod config;
pub mod mapping;
pub mod proto;

mod access;
mod batches;
mod buckets;
mod cluster;
mod completed;
mod lease;
mod listing;
mod multipart;
mod objects;
mod reader;
mod staged;
mod store;
mod tls;
mod unflushed;
mod upload;
mod version_list;
mod versioned;
mod versions;

#[cfg(test)]
pub(crate) mod tests;

pub use self::config::SxConfig;
pub use self::reader::SxReader;
pub use self::staged::SxStaged;
pub use self::store::SxStore;
pub use self::upload::PART_BYTES;
