//! A task's `save`: every result written to its own file, named from a
//! template.
//!
//! ```toml
//! [[task]]
//! guest = "image"
//! call = "thumbnail"
//! each = { files = "photos/*.jpg" }
//! args = [128]
//! save = "thumbs/{stem}.png"    # thumbs/beach.png for photos/beach.jpg
//! ```

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::validate::Cx;
use super::{JobError, Location};

/// The placeholders a `save` template may use.
const PLACEHOLDERS: &[&str] = &["stem", "name", "index"];

/// `save = "TEMPLATE"`: where each successful result goes, relative to the
/// job's folder. `{stem}` is the input's file stem (of a file or URL path,
/// else the value itself), `{name}` its file name, `{index}` its record
/// number.
#[derive(Debug, Clone)]
pub struct SaveSpec {
    /// The template, joined to the job's folder.
    pub template: PathBuf,
    /// Location of the `save` value.
    pub span: Location,
}

impl SaveSpec {
    /// The file for one input.
    pub fn path_for(&self, input: &str, index: usize) -> PathBuf {
        let last = input
            .trim_end_matches('/')
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(input);
        let last = last.split(['?', '#']).next().unwrap_or(last);
        let name = safe(last);
        let stem = match Path::new(&name).file_stem() {
            Some(stem) => stem.to_string_lossy().into_owned(),
            None => name.clone(),
        };
        let text = self
            .template
            .to_string_lossy()
            .replace("{stem}", &stem)
            .replace("{name}", &name)
            .replace("{index}", &index.to_string());
        PathBuf::from(text)
    }
}

/// A file-name-safe version of `text`: no separators, no leading dots.
fn safe(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() {
        "_".to_owned()
    } else {
        cleaned.to_owned()
    }
}

impl Cx<'_> {
    pub(in crate::job) fn save(
        &self,
        save: Option<Spanned<String>>,
        base_dir: &Path,
    ) -> Result<Option<SaveSpec>, JobError> {
        let Some(save) = save else { return Ok(None) };
        let span = save.span();
        let template = self.not_empty("save", save)?;
        let mut rest = template.as_str();
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                return Err(self.err(span, "`save`: a `{` without its `}`"));
            };
            let name = &rest[open + 1..open + close];
            if !PLACEHOLDERS.contains(&name) {
                let msg = format!(
                    "`save`: unknown placeholder `{{{name}}}`; expected {{stem}}, {{name}} or {{index}}"
                );
                return Err(self.err(span, msg));
            }
            rest = &rest[open + close + 1..];
        }
        if !["{stem}", "{name}", "{index}"]
            .iter()
            .any(|p| template.contains(p))
        {
            return Err(self.err(
                span,
                "`save`: every result needs its own file: use {stem}, {name} or {index} in the name",
            ));
        }
        Ok(Some(SaveSpec {
            template: base_dir.join(template),
            span: self.loc(span),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(t: &str) -> SaveSpec {
        SaveSpec {
            template: PathBuf::from(t),
            span: Location { line: 1, col: 1 },
        }
    }

    #[test]
    fn names_come_from_the_input() {
        let s = spec("out/{stem}.png");
        assert_eq!(
            s.path_for("photos/beach.jpg", 3),
            Path::new("out/beach.png")
        );
        assert_eq!(
            s.path_for("http://127.0.0.1:8000/pages/a.html?x=1", 0),
            Path::new("out/a.png")
        );
        assert_eq!(
            s.path_for("../../etc/passwd", 0),
            Path::new("out/passwd.png")
        );
        assert_eq!(s.path_for("a b/c", 0), Path::new("out/c.png"));
        assert_eq!(
            spec("o/{index}-{name}").path_for("x/y.txt", 7),
            Path::new("o/7-y.txt")
        );
        assert_eq!(spec("o/{stem}").path_for("...", 0), Path::new("o/_"));
    }
}
