//! What a deploy changes in a task definition, from its flags: `--image [CONTAINER=]IMAGE`
//! (repeatable). Pure: parsing and the choice of containers, checked against the definition
//! before anything reaches AWS, so a typo is exit 2 with nothing changed.

use crate::error::Error;
use crate::image::ImageRef;
use crate::taskdef::TaskDefinition;

/// One `--image`: `CONTAINER=IMAGE`, or a plain `IMAGE` whose container is picked by
/// repository (image references never contain `=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageArg {
    pub container: Option<String>,
    pub image: ImageRef,
}

/// Parses one `--image` value.
pub fn parse_image_arg(s: &str) -> Result<ImageArg, Error> {
    let (container, image) = match s.split_once('=') {
        Some((c, i)) => {
            let c = c.trim();
            if c.is_empty() {
                return Err(Error::usage(
                    format!("--image {s:?} has no container name before '='"),
                    "use --image CONTAINER=IMAGE, e.g. --image web=acme/web:v2, or a plain --image IMAGE",
                ));
            }
            (Some(c.to_string()), i)
        }
        None => (None, s),
    };
    let image = ImageRef::parse(image).map_err(|e| {
        Error::usage(
            format!("invalid image in --image {s:?}: {e}"),
            "use --image [CONTAINER=]REPOSITORY[:TAG][@DIGEST], e.g. --image web=acme/web:v2",
        )
    })?;
    Ok(ImageArg { container, image })
}

/// Parses every `--image` value.
pub fn parse_image_args(values: &[String]) -> Result<Vec<ImageArg>, Error> {
    values.iter().map(|v| parse_image_arg(v)).collect()
}

/// Which container gets each image, in the order given. `default_container` is
/// `--container` (or `container` in ecs-roll.toml) and applies to a plain image. An unknown
/// container, one named twice, or a plain image that fits several containers is refused,
/// naming the containers.
pub fn assign_images(
    td: &TaskDefinition,
    default_container: Option<&str>,
    args: &[ImageArg],
) -> Result<Vec<(String, ImageRef)>, Error> {
    let names = td.container_names();
    let mut out: Vec<(String, ImageRef)> = Vec::new();
    for arg in args {
        let container = match arg.container.as_deref().or(default_container) {
            Some(c) if names.iter().any(|n| n == c) => c.to_string(),
            Some(c) => {
                return Err(Error::usage(
                    format!(
                        "the task definition has no container named {c:?} (it has: {})",
                        names.join(", ")
                    ),
                    format!(
                        "name one of its containers: --image {}={}",
                        names[0], arg.image
                    ),
                ));
            }
            None => pick_by_repository(td, &names, &arg.image)?,
        };
        if out.iter().any(|(c, _)| *c == container) {
            return Err(Error::usage(
                format!("container {container:?} is given two images"),
                "pass one --image per container",
            ));
        }
        out.push((container, arg.image.clone()));
    }
    Ok(out)
}

/// A plain image goes to the only container, or to the only one whose image is from the same
/// repository.
fn pick_by_repository(
    td: &TaskDefinition,
    names: &[String],
    image: &ImageRef,
) -> Result<String, Error> {
    if let [only] = names {
        return Ok(only.clone());
    }
    let same: Vec<&String> = names
        .iter()
        .filter(|n| {
            td.image_of(n)
                .and_then(|i| ImageRef::parse(i).ok())
                .is_some_and(|i| i.repository == image.repository)
        })
        .collect();
    match same.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::usage(
            format!(
                "the task definition has {} containers ({}) and none runs an image of {}; say which one gets {image}",
                names.len(),
                names.join(", "),
                image.repository
            ),
            format!("pass --image {}={image} (or --container NAME)", names[0]),
        )),
        several => {
            let several: Vec<&str> = several.iter().map(|s| s.as_str()).collect();
            Err(Error::usage(
                format!(
                    "image {image} fits several containers ({}): they all run {}",
                    several.join(", "),
                    image.repository
                ),
                format!("name the container: --image {}={image}", several[0]),
            ))
        }
    }
}

/// `td` with every assigned image in place.
pub fn apply_images(td: &TaskDefinition, images: &[(String, ImageRef)]) -> TaskDefinition {
    images
        .iter()
        .fold(td.clone(), |td, (c, i)| td.with_image(c, i))
}

#[cfg(test)]
mod tests;
