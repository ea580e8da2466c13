//! The POST multipart/form-data reader (src/s3/form.rs), driven the way POST Object drives
//! it: fields read with a shrinking budget until the `file` part, whose content is then
//! streamed. The first line of the input is the Content-Type, the second the cut points, the
//! rest the body, delivered in pieces cut there.
#![no_main]

use libfuzzer_sys::fuzz_target;
use libres3::s3::form::{self, FormReader, MAX_FIELDS_SIZE};
use libres3_fuzz::{body, drain, pieces, ready};

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(3, |&b| b == b'\n');
    let (Some(content_type), Some(cuts), Some(raw)) = (lines.next(), lines.next(), lines.next())
    else {
        return;
    };
    let Ok(content_type) = std::str::from_utf8(content_type) else {
        return;
    };
    let Some(boundary) = form::boundary(content_type) else {
        return;
    };
    assert!(!boundary.is_empty() && boundary.len() <= 70);
    let mut reader = FormReader::new(body(pieces(raw, cuts)), &boundary);
    let mut budget = MAX_FIELDS_SIZE;
    let mut fields = 0usize;
    loop {
        let part = match ready(reader.next_part()) {
            Ok(Some(part)) => part,
            Ok(None) | Err(_) => return,
        };
        fields += 1;
        assert!(fields <= raw.len(), "more parts than bytes");
        if part.name.eq_ignore_ascii_case("file") {
            break;
        }
        match ready(reader.read_value(budget)) {
            Ok(value) => {
                assert!(value.len() <= budget, "a field beyond the budget");
                budget -= value.len();
            }
            Err(_) => return,
        }
    }
    let (file, _) = drain(reader.into_file_stream());
    assert!(file.len() <= raw.len());
});
