//! Reading a node's attributes by name and type: every attribute must be one the op
//! knows ([`Attrs::only`]), of the type ONNX gives it (type 0, from old writers, is
//! accepted for any).

use super::proto::{attr_type, AttributeProto, NodeProto, TensorProto};

/// The attributes of one node. Errors are reasons (the caller names the node).
pub(crate) struct Attrs<'a> {
    node: &'a NodeProto,
}

impl<'a> Attrs<'a> {
    pub(crate) fn new(node: &'a NodeProto) -> Self {
        Self { node }
    }

    /// Refuses any attribute not in `known`, and repeated attributes.
    pub(crate) fn only(&self, known: &[&str]) -> Result<(), String> {
        for (k, a) in self.node.attribute.iter().enumerate() {
            if !known.contains(&a.name.as_str()) {
                let expected = if known.is_empty() { "none".to_string() } else { known.join(", ") };
                return Err(format!(
                    "attribute {} is not supported for {} (known: {expected})",
                    a.name, self.node.op_type
                ));
            }
            if self.node.attribute[..k].iter().any(|b| b.name == a.name) {
                return Err(format!("attribute {} is given twice", a.name));
            }
        }
        Ok(())
    }

    fn get(&self, name: &str, ty: i32) -> Result<Option<&'a AttributeProto>, String> {
        match self.node.attribute.iter().find(|a| a.name == name) {
            None => Ok(None),
            Some(a) if a.r#type == ty || a.r#type == 0 => Ok(Some(a)),
            Some(a) => Err(format!(
                "attribute {name} has type {} ({}), expected {}",
                a.r#type,
                type_name(a.r#type),
                type_name(ty)
            )),
        }
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.node.attribute.iter().any(|a| a.name == name)
    }

    pub(crate) fn int(&self, name: &str, default: i64) -> Result<i64, String> {
        Ok(self.get(name, attr_type::INT)?.map_or(default, |a| a.i))
    }

    /// An int attribute that must be 0 or 1.
    pub(crate) fn flag(&self, name: &str) -> Result<bool, String> {
        match self.int(name, 0)? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(format!("attribute {name} = {v} is not 0 or 1")),
        }
    }

    pub(crate) fn float(&self, name: &str, default: f32) -> Result<f32, String> {
        Ok(self.get(name, attr_type::FLOAT)?.map_or(default, |a| a.f))
    }

    pub(crate) fn opt_float(&self, name: &str) -> Result<Option<f32>, String> {
        Ok(self.get(name, attr_type::FLOAT)?.map(|a| a.f))
    }

    pub(crate) fn string(&self, name: &str) -> Result<Option<String>, String> {
        Ok(self.get(name, attr_type::STRING)?.map(|a| String::from_utf8_lossy(&a.s).into_owned()))
    }

    pub(crate) fn ints(&self, name: &str) -> Result<Option<Vec<i64>>, String> {
        Ok(self.get(name, attr_type::INTS)?.map(|a| a.ints.clone()))
    }

    pub(crate) fn floats(&self, name: &str) -> Result<Option<Vec<f32>>, String> {
        Ok(self.get(name, attr_type::FLOATS)?.map(|a| a.floats.clone()))
    }

    pub(crate) fn strings(&self, name: &str) -> Result<Option<Vec<String>>, String> {
        Ok(self
            .get(name, attr_type::STRINGS)?
            .map(|a| a.strings.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect()))
    }

    pub(crate) fn tensor(&self, name: &str) -> Result<Option<&'a TensorProto>, String> {
        match self.get(name, attr_type::TENSOR)? {
            None => Ok(None),
            Some(a) => a.t.as_ref().map(Some).ok_or_else(|| format!("attribute {name} holds no tensor")),
        }
    }
}

fn type_name(t: i32) -> &'static str {
    match t {
        attr_type::FLOAT => "float",
        attr_type::INT => "int",
        attr_type::STRING => "string",
        attr_type::TENSOR => "tensor",
        attr_type::FLOATS => "floats",
        attr_type::INTS => "ints",
        attr_type::STRINGS => "strings",
        _ => "other",
    }
}
