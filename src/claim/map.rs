//! Mapping between the generic tree and the typed model. Every contract type is an
//! `xs:sequence`, so a type is read by walking its children once, in order: a required field
//! takes the next child of that name, an optional one takes it if present, a repeated one takes
//! every consecutive child of that name, and the type's extension point takes whatever is left
//! from other namespaces.

use serde::{Deserialize, Serialize};

use super::element::{Attribute, Element, Node, XmlWriter, XSI_NS};
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
/// (Its `xsi:*` attributes are kept by its parent: see [`XsiAttribute`].)
impl FromXml for String {
    fn from_element(el: &Element, path: &Path) -> Result<Self, ClaimError> {
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

/// An `xsi:*` attribute (`xsi:type`, `xsi:schemaLocation`, …) on a contract element. The schema
/// allows these on every element and libxml2 judges them; the model keeps them so that what it
/// writes back means what was read. A type keeps those of its child elements (`child`, the
/// child's name, and `index`, its place among the children of that name from 1), because a
/// leaf is a plain `String`; a removed child's attributes are simply not written.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct XsiAttribute {
    pub child: String,
    pub index: usize,
    pub attribute: Attribute,
}

/// The `xsi:*` attributes of `el`; any other attribute is refused, as the schema refuses it.
pub(crate) fn xsi_attributes<'e>(
    el: &'e Element,
    path: &Path,
) -> Result<impl Iterator<Item = &'e Attribute>, ClaimError> {
    if let Some(a) = el
        .attributes
        .iter()
        .find(|a| a.namespace.as_deref() != Some(XSI_NS))
    {
        return Err(ClaimError::UnexpectedAttribute {
            path: path.render(),
            name: a.name.clone(),
        });
    }
    Ok(el.attributes.iter())
}

/// Records `el`'s `xsi:*` attributes in its parent's table as `child` number `index`.
pub(crate) fn keep_xsi(
    table: &mut Vec<XsiAttribute>,
    el: &Element,
    path: &Path,
    child: &str,
    index: usize,
) -> Result<(), ClaimError> {
    for a in xsi_attributes(el, path)? {
        table.push(XsiAttribute {
            child: child.to_owned(),
            index,
            attribute: a.clone(),
        });
    }
    Ok(())
}

/// The attributes `table` holds for `child` number `index`.
pub(crate) fn xsi_of<'t>(
    table: &'t [XsiAttribute],
    child: &str,
    index: usize,
) -> Vec<&'t Attribute> {
    table
        .iter()
        .filter(|x| x.index == index && x.child == child)
        .map(|x| &x.attribute)
        .collect()
}

/// A cursor over the child elements of one complex element.
pub(crate) struct Fields<'a> {
    items: Vec<&'a Element>,
    pos: usize,
    path: &'a Path<'a>,
    xsi: Vec<XsiAttribute>,
}

impl<'a> Fields<'a> {
    /// (The element's own attributes were checked and kept by its parent.)
    pub(crate) fn new(el: &'a Element, path: &'a Path<'a>) -> Result<Self, ClaimError> {
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
            xsi: Vec::new(),
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
        let path = self.path.child(name, None);
        keep_xsi(&mut self.xsi, el, &path, name, 1)?;
        T::from_element(el, &path)
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
            let path = self.path.child(name, Some(index));
            keep_xsi(&mut self.xsi, el, &path, name, index)?;
            v.push(T::from_element(el, &path)?);
        }
        Ok(v)
    }

    /// Takes the extension elements (any namespace but the core one), checks nothing else is
    /// left over, and hands back the children's `xsi:*` attributes too.
    pub(crate) fn finish(mut self) -> Result<(Vec<Element>, Vec<XsiAttribute>), ClaimError> {
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
        Ok((ext, self.xsi))
    }
}

impl XmlWriter {
    /// Writes child `name` (number `index`) with the `xsi:*` attributes `xsi` keeps for it.
    fn child<T: ToXml>(&mut self, name: &str, index: usize, v: &T, xsi: &[XsiAttribute]) {
        self.open_attributed(CORE_PREFIX, name, &[], &xsi_of(xsi, name, index));
        v.write_content(self);
        self.close(CORE_PREFIX, name);
    }

    pub(crate) fn one<T: ToXml>(&mut self, name: &str, v: &T, xsi: &[XsiAttribute]) {
        self.child(name, 1, v, xsi);
    }

    pub(crate) fn opt<T: ToXml>(&mut self, name: &str, v: &Option<T>, xsi: &[XsiAttribute]) {
        if let Some(v) = v {
            self.child(name, 1, v, xsi);
        }
    }

    pub(crate) fn many<T: ToXml>(&mut self, name: &str, v: &[T], xsi: &[XsiAttribute]) {
        for (i, item) in v.iter().enumerate() {
            self.child(name, i + 1, item, xsi);
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
            /// The `xsi:*` attributes of this type's children, kept to be written back.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub xsi: Vec<$crate::claim::map::XsiAttribute>,
        }

        impl $crate::claim::map::FromXml for $name {
            fn from_element(
                el: &Element,
                path: &$crate::claim::map::Path,
            ) -> Result<Self, ClaimError> {
                let mut c = $crate::claim::map::Fields::new(el, path)?;
                $( let $field = c.$kind($xml)?; )*
                let (extensions, xsi) = c.finish()?;
                Ok($name { $( $field, )* extensions, xsi })
            }
        }

        impl $crate::claim::map::ToXml for $name {
            fn write_content(&self, w: &mut $crate::claim::element::XmlWriter) {
                $( w.$kind($xml, &self.$field, &self.xsi); )*
                w.extensions(&self.extensions);
            }
        }
    )*};
}

pub(crate) use model;
