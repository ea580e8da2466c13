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

/// Escapes XML text. Characters XML 1.0 cannot carry at all (most C0 controls) are written as
/// character references, which S3 does too for keys containing them.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\r' => {
                out.push_str(&format!("&#x{:X};", c as u32));
            }
            c => out.push(c),
        }
    }
}

/// Parses a request body, mapping any XML error to MalformedXML.
pub fn parse(body: &[u8]) -> Result<roxmltree::Document<'_>, S3Error> {
    let text = std::str::from_utf8(body).map_err(|_| malformed("body is not UTF-8"))?;
    roxmltree::Document::parse(text).map_err(|e| malformed(&e.to_string()))
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
             <Key>a&lt;b&gt;&amp;&quot;c&apos;&#x1;</Key></R>"
        );
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
