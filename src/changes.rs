//! What a deploy rolls out, from its flags: `--image [CONTAINER=]IMAGE` (repeatable), a
//! task definition file as it is, or an existing `--revision`. Pure: parsing, the
//! combinations allowed and the choice of containers, checked against the definition before
//! anything reaches AWS, so a typo is exit 2 with nothing changed.

pub mod env;

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

/// What a deploy rolls out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// An existing revision as it is (`--revision`): nothing is registered.
    Revision(String),
    /// A definition to register: the file in force, or the running revision, with `images`
    /// in place and `env` applied (neither: a file deployed as it is).
    Definition {
        images: Vec<ImageArg>,
        env: Vec<env::EnvEdit>,
    },
}

/// The flags of `deploy` and `diff` that say what to roll out.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags<'a> {
    pub images: &'a [String],
    pub revision: Option<&'a str>,
    /// `--task-definition` (or ECS_ROLL_TASK_DEFINITION) was given; one from ecs-roll.toml
    /// alone is the base for `--image`, never deployed as it is by itself.
    pub task_definition_given: bool,
    pub env: &'a [String],
    pub unset_env: &'a [String],
    pub secrets: &'a [String],
    /// `env` and `secrets` of ecs-roll.toml, as `--env` / `--secret` values: applied first,
    /// and a flag for the same variable replaces them.
    pub config_env: &'a [String],
    pub config_secrets: &'a [String],
}

/// Checks the combination of flags and parses them.
pub fn release(f: &Flags) -> Result<Release, Error> {
    let flagged = env::parse_all(f.env, f.unset_env, f.secrets)?;
    if let Some(rev) = f.revision {
        if let Some(e) = flagged.first() {
            return Err(Error::usage(
                format!(
                    "--revision rolls out an existing revision as it is, so it takes no {}",
                    e.flag()
                ),
                "drop --revision to register a revision with the change, or drop the variable flags",
            ));
        }
        if rev.trim().is_empty() {
            return Err(Error::usage(
                "--revision is empty",
                "pass a revision: a number, family:revision or an ARN, e.g. --revision 7",
            ));
        }
        if !f.images.is_empty() {
            return Err(Error::usage(
                "--revision rolls out an existing revision as it is, so it takes no --image",
                "drop --image to roll out the revision, or drop --revision to register one with the new image",
            ));
        }
        if f.task_definition_given {
            return Err(Error::usage(
                "--revision and --task-definition both say what to deploy",
                "drop --task-definition (and ECS_ROLL_TASK_DEFINITION) to roll out the revision, or drop --revision to register the file",
            ));
        }
        return Ok(Release::Revision(rev.trim().to_string()));
    }
    let configured = env::parse_all(f.config_env, &[], f.config_secrets)?;
    let env = env::with_flags_over(configured, flagged);
    let images = parse_image_args(f.images)?;
    if images.is_empty() && env.is_empty() && !f.task_definition_given {
        return Err(Error::usage(
            "nothing to deploy: no image, no variable, no task definition file and no revision given",
            "pass --image IMAGE (or --image CONTAINER=IMAGE, repeatable), --env NAME=VALUE, --task-definition FILE to deploy a file as it is, or --revision REVISION",
        ));
    }
    Ok(Release::Definition { images, env })
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
