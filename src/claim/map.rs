//! Mapping between the generic tree and the typed model. Every contract type is an
//! `xs:sequence`, so a type is read by walking its children once, in order: a required field
//! takes the next child of that name, an optional one takes it if present, a repeated one takes
//! every consecutive child of that name, and the type's extension point takes whatever is left
//! from other namespaces.

use super::element::{Element, Node, XmlWriter};
use super::{ClaimError, CORE_NS};

/// The prefix written for the core namespace. Any prefix is equally valid on input.
pub(crate) const CORE_PREFIX: &str = "clm";

/// Where the reader is, as a chain of borrowed segments. Rendered to a string only when an
/// error needs it, so reading a valid document formats no paths at all.
#[derive(Clone, Copy)]
pub(crate) struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    name: &'a str,
    index: Option<usize>,
}

impl<'a> Path<'a> {
    pub(crate) fn root(name: &'a str) -> Self {
        Path {
            parent: None,
            name,
            index: None,
        }
    }

    fn child(&'a self, name: &'a str, index: Option<usize>) -> Path<'a> {
        Path {
            parent: Some(self),
            name,
            index,
        }
    }

    pub(crate) fn render(&self) -> String {
        let mut segments = Vec::new();
        let mut p = Some(self);
        while let Some(seg) = p {
            segments.push(seg);
            p = seg.parent;
        }
        let mut out = String::new();
        for seg in segments.iter().rev() {
            out.push('/');
            out.push_str(seg.name);
            if let Some(i) = seg.index {
                out.push_str(&format!("[{i}]"));
            }
        }
        out
    }
}

pub(crate) trait FromXml: Sized {
    fn from_element(el: &Element, path: &Path) -> Result<Self, ClaimError>;
}

pub(crate) trait ToXml {
    fn write_content(&self, w: &mut XmlWriter);
}

/// A leaf keeps its lexical value exactly as received: the rules, not the reader, judge it.
impl FromXml for String {
    fn from_element(el: &Element, path: &Path) -> Result<Self, ClaimError> {
        no_attributes(el, path)?;
        if let Some(child) = el.child_elements().next() {
            return Err(ClaimError::Unexpected {
                path: path.render(),
                found: child.expanded_name(),
            });
        }
        Ok(el.text())
    }
}

impl ToXml for String {
    fn write_content(&self, w: &mut XmlWriter) {
        w.text(self);
    }
}

fn no_attributes(el: &Element, path: &Path) -> Result<(), ClaimError> {
    match el.attributes.first() {
        None => Ok(()),
        Some(a) => Err(ClaimError::UnexpectedAttribute {
            path: path.render(),
            name: a.name.clone(),
        }),
    }
}

/// A cursor over the child elements of one complex element.
pub(crate) struct Fields<'a> {
    items: Vec<&'a Element>,
    pos: usize,
    path: &'a Path<'a>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(el: &'a Element, path: &'a Path<'a>) -> Result<Self, ClaimError> {
        no_attributes(el, path)?;
        let mut items = Vec::with_capacity(el.children.len());
        for n in &el.children {
            match n {
                Node::Element(e) => items.push(e),
                Node::Text(t) if t.trim().is_empty() => {}
                Node::Text(_) => {
                    return Err(ClaimError::UnexpectedText {
                        path: path.render(),
                    })
                }
            }
        }
        Ok(Fields {
            items,
            pos: 0,
            path,
        })
    }

    fn next_is(&self, name: &str) -> bool {
        self.items
            .get(self.pos)
            .is_some_and(|e| e.is(CORE_NS, name))
    }

    pub(crate) fn one<T: FromXml>(&mut self, name: &str) -> Result<T, ClaimError> {
        if !self.next_is(name) {
            return Err(ClaimError::Missing {
                path: self.path.render(),
                expected: name.to_owned(),
                found: self.items.get(self.pos).map(|e| e.expanded_name()),
            });
        }
        let el = self.items[self.pos];
        self.pos += 1;
        T::from_element(el, &self.path.child(name, None))
    }

    pub(crate) fn opt<T: FromXml>(&mut self, name: &str) -> Result<Option<T>, ClaimError> {
        if self.next_is(name) {
            self.one(name).map(Some)
        } else {
            Ok(None)
        }
    }

    pub(crate) fn many<T: FromXml>(&mut self, name: &str) -> Result<Vec<T>, ClaimError> {
        let mut v = Vec::new();
        while self.next_is(name) {
            let el = self.items[self.pos];
            self.pos += 1;
            let index = v.len() + 1;
            v.push(T::from_element(el, &self.path.child(name, Some(index)))?);
        }
        Ok(v)
    }

    /// Takes the extension elements (any namespace but the core one) and checks nothing else
    /// is left over.
    pub(crate) fn finish(mut self) -> Result<Vec<Element>, ClaimError> {
        let mut ext = Vec::new();
        while let Some(e) = self.items.get(self.pos) {
            if e.namespace.as_deref() == Some(CORE_NS) || e.namespace.is_none() {
                return Err(ClaimError::Unexpected {
                    path: self.path.render(),
                    found: e.expanded_name(),
                });
            }
            ext.push((*e).clone());
            self.pos += 1;
        }
        Ok(ext)
    }
}

impl XmlWriter {
    pub(crate) fn one<T: ToXml>(&mut self, name: &str, v: &T) {
        self.open_with(CORE_PREFIX, name, &[]);
        v.write_content(self);
        self.close(CORE_PREFIX, name);
    }

    pub(crate) fn opt<T: ToXml>(&mut self, name: &str, v: &Option<T>) {
        if let Some(v) = v {
            self.one(name, v);
        }
    }

    pub(crate) fn many<T: ToXml>(&mut self, name: &str, v: &[T]) {
        for item in v {
            self.one(name, item);
        }
    }

    pub(crate) fn extensions(&mut self, ext: &[Element]) {
        for e in ext {
            self.element(e);
        }
    }
}

/// Declares a contract type once: the struct, its reader and its writer, with the fields in the
/// schema's sequence order (the order here *is* the order read and written).
macro_rules! model {
    ($(
        $(#[$m:meta])*
        pub struct $name:ident {
            $( $(#[$fm:meta])* $xml:literal $kind:ident $field:ident : $ty:ty ),* $(,)?
        }
    )*) => {$(
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        pub struct $name {
            $( $(#[$fm])* pub $field: $ty, )*
            /// Elements from other namespaces at this type's `xs:any ##other lax` extension
            /// point, kept as read so that forwarding a basis loses nothing.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub extensions: Vec<Element>,
        }

        impl $crate::claim::map::FromXml for $name {
            fn from_element(
                el: &Element,
                path: &$crate::claim::map::Path,
            ) -> Result<Self, ClaimError> {
                let mut c = $crate::claim::map::Fields::new(el, path)?;
                Ok($name {
                    $( $field: c.$kind($xml)?, )*
                    extensions: c.finish()?,
                })
            }
        }

        impl $crate::claim::map::ToXml for $name {
            fn write_content(&self, w: &mut $crate::claim::element::XmlWriter) {
                $( w.$kind($xml, &self.$field); )*
                w.extensions(&self.extensions);
            }
        }
    )*};
}

pub(crate) use model;
