//! The members RegisterTaskDefinition accepts below the top level (the tables in `fields.rs`,
//! generated from aws-sdk-ecs's model), and the walk that holds a file to them. ECS ignores a
//! member it does not know, so a misspelt `portMappings` would register a task without its
//! ports: a member that looks like a misspelling of one the structure has is refused. One that
//! looks like none is kept and named in a warning, as at the top level
//! (`TaskDefinition::validate`): ECS may have added it after our aws-sdk-ecs model.

use serde_json::{Map, Value};

/// A structure of the ECS API: the members it has.
pub struct Shape {
    pub name: &'static str,
    pub fields: &'static [Field],
}

pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
}

/// What a member holds, as far as the walk needs to know.
pub enum Kind {
    /// A string, number, boolean or list of them.
    Leaf,
    /// One of an enum's values: an empty string is not one.
    Enum,
    EnumList,
    /// A map with keys of the user's choosing (`dockerLabels`, `options`).
    Map,
    Object(&'static Shape),
    List(&'static Shape),
}

/// What the walk changed or refuses.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Walked {
    /// Enum members given as `""` (some generators write them), which ECS refuses: removed so
    /// that ECS's default applies. Paths as `containerDefinitions[0].versionConsistency`.
    pub dropped_empty: Vec<String>,
    /// Nested members the model does not have and that look like no member it has: kept.
    pub unknown: Vec<String>,
}

/// The members of RegisterTaskDefinition's request itself.
pub fn top_level() -> impl Iterator<Item = &'static str> + Clone {
    super::fields::REGISTER_TASK_DEFINITION_INPUT
        .fields
        .iter()
        .map(|f| f.name)
}

/// Checks every nested structure of `body` against the API's shapes and removes empty enum
/// values (their paths are returned). A misspelt member is refused, naming its path and the
/// member it probably meant; an unknown one is kept and its path returned.
pub fn walk(body: &mut Map<String, Value>) -> Result<Walked, String> {
    let mut walked = Walked::default();
    walk_object(
        &super::fields::REGISTER_TASK_DEFINITION_INPUT,
        body,
        "",
        true,
        &mut walked,
    )?;
    Ok(walked)
}

fn walk_object(
    shape: &Shape,
    obj: &mut Map<String, Value>,
    path: &str,
    top: bool,
    walked: &mut Walked,
) -> Result<(), String> {
    let keys: Vec<String> = obj.keys().cloned().collect();
    for key in keys {
        let at = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let Some(field) = shape.fields.iter().find(|f| f.name == key) else {
            if top {
                continue; // The top level has its own rule (TaskDefinition::validate).
            }
            if let Some(meant) = meant(shape, &key) {
                return Err(format!(
                    "unknown field {at:?} (ECS's {} has no {key:?}): did you mean {meant:?}?",
                    shape.name
                ));
            }
            walked.unknown.push(at);
            continue;
        };
        match (&field.kind, obj.get_mut(&key)) {
            (Kind::Enum, Some(Value::String(s))) if s.is_empty() => {
                // Shift, not swap: the file's order of members is kept.
                obj.shift_remove(&key);
                walked.dropped_empty.push(at);
            }
            (Kind::Object(inner), Some(Value::Object(o))) => {
                walk_object(inner, o, &at, false, walked)?;
            }
            (Kind::List(inner), Some(Value::Array(items))) => {
                for (i, item) in items.iter_mut().enumerate() {
                    if let Value::Object(o) = item {
                        walk_object(inner, o, &format!("{at}[{i}]"), false, walked)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The member of `shape` that `key` is probably a slip for.
fn meant(shape: &Shape, key: &str) -> Option<&'static str> {
    let known = shape.fields.iter().map(|f| f.name);
    known
        .clone()
        .find(|k| crate::suggest::close(key, k))
        .or_else(|| known.clone().find(|k| same_first_word(key, k)))
}

/// `portBindings` and `portMappings` both start with the word `port`.
fn same_first_word(a: &str, b: &str) -> bool {
    let first = |s: &str| {
        let end = s.find(|c: char| c.is_ascii_uppercase()).unwrap_or(s.len());
        s[..end].to_ascii_lowercase()
    };
    let (fa, fb) = (first(a), first(b));
    fa.len() >= 3 && fa == fb
}
