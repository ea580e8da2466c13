//! TEMPORARY stub; replaced on merge.
use std::time::SystemTime;
pub fn http_date(_t: SystemTime) -> String { String::new() }
pub fn parse_http_date(_s: &str) -> Option<SystemTime> { None }
pub fn iso8601(_t: SystemTime) -> String { String::new() }
