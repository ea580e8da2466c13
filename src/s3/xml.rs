//! XML: a small writer for responses, roxmltree for request bodies.

use crate::s3::error::{S3Error, S3ErrorCode};

pub const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Builds a response document; element text and attributes are escaped here, once.
pub struct XmlWriter {
    out: String,
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    pub fn new() -> Self {
        XmlWriter {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        }
    }

    /// Opens the root element with the S3 namespace.
    pub fn open_root(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(" xmlns=\"");
        self.out.push_str(S3_NS);
        self.out.push_str("\">");
    }

    /// Opens an element with attributes (values escaped here).
    pub fn open_attrs(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (attr, value) in attrs {
            self.out.push(' ');
            self.out.push_str(attr);
            self.out.push_str("=\"");
            escape_into(&mut self.out, value);
            self.out.push('"');
        }
        self.out.push('>');
    }

    /// An element with no content: `<Name xmlns="..."/>` for a root, used for empty answers.
    pub fn empty_root(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(" xmlns=\"");
        self.out.push_str(S3_NS);
        self.out.push_str("\"/>");
    }

    pub fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    pub fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    pub fn elem(&mut self, name: &str, text: &str) {
        self.open(name);
        self.text(text);
        self.close(name);
    }

    pub fn text(&mut self, text: &str) {
        escape_into(&mut self.out, text);
    }

    pub fn elem_opt(&mut self, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.elem(name, text);
        }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Whether XML 1.0 can carry `c` at all, even as a character reference: not the C0 controls
/// but tab, LF and CR, nor U+FFFE and U+FFFF.
pub fn carries(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The first character of `text` that XML 1.0 cannot carry, if any.
pub fn uncarried(text: &str) -> Option<char> {
    text.chars().find(|&c| !carries(c))
}

/// Escapes XML text. A character XML 1.0 cannot carry (see [`carries`]) becomes U+FFFD, so
/// every document we write stays well-formed; places where that would change a key a client
/// relies on (listings) refuse such keys before writing (see handlers/list.rs).
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c if !carries(c) => out.push(char::REPLACEMENT_CHARACTER),
            c => out.push(c),
        }
    }
}

/// The deepest element nesting a request body may have. S3's own documents nest at most
/// about 8 levels (a lifecycle rule's `Filter/And/Tag/Key`); roxmltree recurses once per
/// level, so an unbounded depth would let one body overflow a worker's stack.
pub const MAX_DEPTH: usize = 64;
/// The most nodes (elements, text, attributes) a request body may parse into: enough for a
/// CompleteMultipartUpload of 10,000 parts with checksums, pretty-printed.
pub const MAX_NODES: u32 = 250_000;

/// Parses a request body, mapping any XML error to MalformedXML. The body is already capped
/// in size by the caller; its depth and node count are bounded here.
pub fn parse(body: &[u8]) -> Result<roxmltree::Document<'_>, S3Error> {
    let text = std::str::from_utf8(body).map_err(|_| malformed("body is not UTF-8"))?;
    check_depth(text.as_bytes())?;
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
    };
    roxmltree::Document::parse_with_options(text, options).map_err(|e| malformed(&e.to_string()))
}

/// Refuses a document whose elements nest deeper than [`MAX_DEPTH`], without recursion.
///
/// A cheap scan of the markup, not a parser: it counts every start tag that is not
/// self-closing and every end tag, skipping comments, CDATA sections, processing
/// instructions and quoted attribute values the way an XML parser does, so the depth it
/// sees is the depth roxmltree would recurse to. Anything odd that it lets through is
/// refused by roxmltree afterwards; a DTD (`<!DOCTYPE`) is refused here already.
pub fn check_depth(xml: &[u8]) -> Result<(), S3Error> {
    let too_deep = || malformed(&format!("elements nest deeper than {MAX_DEPTH} levels"));
    let unterminated = || malformed("unterminated markup");
    let find = |from: usize, needle: &[u8]| -> Option<usize> {
        xml.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|at| from + at + needle.len())
    };
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(offset) = xml
        .get(i..)
        .and_then(|rest| rest.iter().position(|&b| b == b'<'))
    {
        let start = i + offset;
        let rest = &xml[start..];
        i = if rest.starts_with(b"<!--") {
            find(start + 4, b"-->").ok_or_else(unterminated)?
        } else if rest.starts_with(b"<![CDATA[") {
            find(start + 9, b"]]>").ok_or_else(unterminated)?
        } else if rest.starts_with(b"<!") {
            return Err(malformed("a DTD or unknown declaration is not allowed"));
        } else if rest.starts_with(b"<?") {
            find(start + 2, b"?>").ok_or_else(unterminated)?
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            find(start + 2, b">").ok_or_else(unterminated)?
        } else {
            // A start tag: up to the first '>' outside a quoted attribute value.
            let mut quote = None;
            let mut end = None;
            for (at, &b) in rest.iter().enumerate().skip(1) {
                match (quote, b) {
                    (Some(q), b) if b == q => quote = None,
                    (Some(_), _) => {}
                    (None, b'"' | b'\'') => quote = Some(b),
                    (None, b'>') => {
                        end = Some(at);
                        break;
                    }
                    (None, _) => {}
                }
            }
            let end = end.ok_or_else(unterminated)?;
            if rest[end - 1] != b'/' {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(too_deep());
                }
            }
            start + end + 1
        };
    }
    Ok(())
}

pub fn malformed(why: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedXML,
        format!("The XML you provided was not well-formed or did not validate against our published schema: {why}"),
    )
}

/// The children of `node` with a local name of `name`, whatever their namespace.
pub fn children<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    name: &'static str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The text of the first child element called `name`, if any.
pub fn child_text<'a>(node: roxmltree::Node<'a, '_>, name: &'static str) -> Option<&'a str> {
    children(node, name).next().map(|c| c.text().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_once() {
        let mut w = XmlWriter::new();
        w.open_root("R");
        w.elem("Key", "a<b>&\"c'\u{1}");
        w.close("R");
        assert_eq!(
            w.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<R xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Key>a&lt;b&gt;&amp;&quot;c&apos;\u{FFFD}</Key></R>"
        );
    }

    #[test]
    fn nesting_is_bounded_without_recursion() {
        let nested = |depth: usize| {
            let mut doc = "<a x='>' y=\"/>\">".repeat(depth);
            doc.push_str("<!-- <b> --><![CDATA[<c>]]><?pi <d>?><e/>");
            doc.push_str(&"</a>".repeat(depth));
            doc
        };
        assert!(parse(nested(MAX_DEPTH).as_bytes()).is_ok());
        for depth in [MAX_DEPTH + 1, 4_000, 1_000_000] {
            let e = parse(nested(depth).as_bytes()).unwrap_err();
            assert_eq!(e.code, S3ErrorCode::MalformedXML, "depth {depth}");
        }
        // Unclosed elements count too: a document need not be well-formed to be deep.
        let e = parse("<a>".repeat(100_000).as_bytes()).unwrap_err();
        assert_eq!(e.code, S3ErrorCode::MalformedXML);
        for bad in [
            "<!DOCTYPE a><a/>",
            "<a><!-- x",
            "<a x='>",
            "<a><![CDATA[",
            "<a><?x",
        ] {
            let e = parse(bad.as_bytes()).unwrap_err();
            assert_eq!(e.code, S3ErrorCode::MalformedXML, "{bad}");
        }
    }

    #[test]
    fn only_characters_xml_carries_are_written() {
        for c in [
            '\0', '\u{1}', '\u{8}', '\u{B}', '\u{1F}', '\u{FFFE}', '\u{FFFF}',
        ] {
            assert!(!carries(c), "{c:?}");
        }
        for c in [
            '\t',
            '\n',
            '\r',
            ' ',
            '\u{D7FF}',
            '\u{E000}',
            '\u{FFFD}',
            '\u{10FFFF}',
        ] {
            assert!(carries(c), "{c:?}");
        }
        assert_eq!(uncarried("a\u{0}b"), Some('\0'));
        let mut w = XmlWriter::new();
        w.elem("K", "a\rb\u{FFFF}");
        let doc = w.finish();
        assert!(doc.ends_with("<K>a&#xD;b\u{FFFD}</K>"), "{doc}");
        assert!(roxmltree::Document::parse(&doc).is_ok());
    }

    #[test]
    fn parse_errors_are_malformed_xml() {
        let e = parse(b"<a><b></a>").unwrap_err();
        assert_eq!(e.code, S3ErrorCode::MalformedXML);
        let doc = parse(b"<a xmlns=\"x\"><B>1</B><B>2</B></a>").unwrap();
        let root = doc.root_element();
        assert_eq!(children(root, "B").count(), 2);
        assert_eq!(child_text(root, "B"), Some("1"));
    }
}
