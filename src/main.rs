//! libres3: an Amazon S3 compatible server.
#![allow(dead_code)] // skeleton: removed once every module is wired into the server

mod s3;
mod store;
mod time;

fn main() {}
