//! `wpool new NAME`: scaffold a guest with a WIT world, example exports, a
//! native test and a job file that runs it. `--lang rust` (the default) writes
//! a Rust crate for `wasm32-wasip2` from `host/cli/templates/guest/`;
//! `--lang python` a Python module built by componentize-py from
//! `host/cli/templates/python-guest/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

/// Create a new guest: WIT world, implementation, native test, job file.
#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// The guest's name: lowercase ASCII letters, digits, `-` and `_`, starting
    /// with a letter (e.g. `word-count`).
    name: String,
    /// Directory to create the guest in [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// Write into a directory that is not empty (generated files are
    /// overwritten, others are kept).
    #[arg(long)]
    force: bool,
    /// The guest's source language: `rust` (a crate built for
    /// `wasm32-wasip2`) or `python` (`app.py`, built by componentize-py).
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    lang: Lang,
}

/// The language a new guest is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Lang {
    /// A Rust crate using `wit-bindgen`, built with `cargo build --target wasm32-wasip2`.
    Rust,
    /// A Python module (`app.py`) built into a component with componentize-py.
    Python,
}

impl Lang {
    /// The files of a new guest in this language: path inside it, template text.
    fn templates(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Lang::Rust => RUST_TEMPLATES,
            Lang::Python => PYTHON_TEMPLATES,
        }
    }
}

/// A file of the new guest and its template, `templates/DIR/PATH.tmpl`.
macro_rules! template {
    ($dir:literal, $path:literal) => {
        (
            $path,
            include_str!(concat!("../../templates/", $dir, "/", $path, ".tmpl")),
        )
    };
}

/// The files of a new Rust guest crate: path inside the crate, template text.
const RUST_TEMPLATES: &[(&str, &str)] = &[
    template!("guest", "Cargo.toml"),
    template!("guest", "wit/world.wit"),
    template!("guest", "src/lib.rs"),
    template!("guest", "README.md"),
    template!("guest", "job.toml"),
    template!("guest", ".gitignore"),
];

/// The files of a new Python guest: path inside its folder, template text.
const PYTHON_TEMPLATES: &[(&str, &str)] = &[
    template!("python-guest", "wit/world.wit"),
    template!("python-guest", "app.py"),
    template!("python-guest", "test_app.py"),
    template!("python-guest", "build.sh"),
    template!("python-guest", "README.md"),
    template!("python-guest", "job.toml"),
    template!("python-guest", ".gitignore"),
];

/// Names a guest cannot take (after `_` becomes `-`): Rust keywords, built-in
/// crates, its own dependency, and WIT keywords.
const RESERVED: &str = "
    abstract as async await become box break const continue crate do dyn else enum extern false
    final fn for gen if impl in let loop macro match mod move mut override priv pub ref return
    self static struct super trait true try type typeof unsafe unsized use virtual where while
    yield alloc core std test proc-macro wit-bindgen
    u8 u16 u32 u64 s8 s16 s32 s64 f32 f64 char bool string list map option result tuple future
    stream error-context func resource own borrow record flags variant from interface world
    import export package constructor include with";

impl NewArgs {
    pub(crate) fn execute(self) -> Result<ExitCode> {
        let dir = self.path.unwrap_or_else(|| PathBuf::from(&self.name));
        let files = scaffold(&self.name, self.lang, &dir, self.force)?;
        println!("created guest `{}` in {}:", self.name, dir.display());
        for file in &files {
            println!("  {}", file.display());
        }
        let dir = dir.display();
        match self.lang {
            Lang::Rust => println!(
                "\nnext steps:\n  \
                 cd {dir}\n  \
                 cargo test                                      # unit tests, natively\n  \
                 cargo build --release --target wasm32-wasip2    # rustup target add wasm32-wasip2, once\n  \
                 wpool inspect target/wasm32-wasip2/release/{}.wasm\n  \
                 wpool run job.toml",
                crate_name(&self.name),
            ),
            Lang::Python => println!(
                "\nnext steps:\n  \
                 cd {dir}\n  \
                 python3 test_app.py     # tests, natively with CPython\n  \
                 sh build.sh             # python3 -m pip install 'componentize-py>=0.25,<0.26', once\n  \
                 wpool inspect {}.wasm\n  \
                 wpool run job.toml      # the first run compiles ~18 MB: seconds; later ones hit the cache",
                self.name,
            ),
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Writes a new guest named `name` in `lang` into `dir` (created if missing)
/// and returns the files written; shell scripts are made executable. Refuses
/// a directory that is not empty unless `force`; on error, files already
/// written are left in place.
pub(crate) fn scaffold(name: &str, lang: Lang, dir: &Path, force: bool) -> Result<Vec<PathBuf>> {
    validate_name(name)?;
    if !force && fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        let dir = dir.display();
        bail!("`{dir}` is not empty: pass `--force` to write into it, or choose another `--path`");
    }
    let write = |(relative, template): &(&str, &str)| {
        let path = dir.join(relative);
        let parent = path.parent().unwrap_or(dir);
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
        fs::write(&path, render(template, name))
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        if relative.ends_with(".sh") {
            make_executable(&path)?;
        }
        Ok(path)
    };
    lang.templates().iter().map(write).collect()
}

/// Adds the execute bits to `path` (on Unix; elsewhere run it with `sh`).
fn make_executable(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut permissions = fs::metadata(path)
            .with_context(|| format!("cannot read `{}`", path.display()))?
            .permissions();
        permissions.set_mode(permissions.mode() | 0o111);
        fs::set_permissions(path, permissions)
            .with_context(|| format!("cannot make `{}` executable", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Checks that `name` works as a Cargo package, a Rust crate, a WIT world and
/// a file name (the same rules for every language, so a guest can be rewritten
/// in another under its name).
fn validate_name(name: &str) -> Result<()> {
    let rule = "use lowercase letters, digits, `-` and `_`, starting with a letter";
    let world = world_name(name);
    if name.is_empty() {
        bail!("the guest name is empty: {rule}, e.g. `word-count`");
    } else if name.chars().any(|c| c.is_ascii_uppercase()) {
        let lower = name.to_ascii_lowercase();
        bail!("invalid guest name `{name}`: it must be lowercase, e.g. `{lower}`");
    } else if let Some(bad) = name
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-' | '_'))
    {
        bail!("invalid guest name `{name}`: `{bad}` is not allowed; {rule}");
    } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        bail!("invalid guest name `{name}`: it must start with a letter; {rule}");
    } else if world.split('-').any(str::is_empty) {
        bail!("invalid guest name `{name}`: `-` and `_` must separate words; {rule}");
    } else if RESERVED.split_whitespace().any(|word| word == world) {
        bail!("invalid guest name `{name}`: it is a Rust or WIT keyword or a reserved crate name");
    }
    Ok(())
}

/// The name as a Rust crate: `-` becomes `_` (the `.wasm` file's stem).
fn crate_name(name: &str) -> String {
    name.replace('-', "_")
}

/// The name as a WIT identifier: `_` becomes `-`, lowercase.
fn world_name(name: &str) -> String {
    name.replace('_', "-").to_ascii_lowercase()
}

/// Fills a template's `{{name}}`, `{{crate}}` and `{{world}}` placeholders.
fn render(template: &str, name: &str) -> String {
    template
        .replace("{{name}}", name)
        .replace("{{crate}}", &crate_name(name))
        .replace("{{world}}", &world_name(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_suit_cargo_rust_and_wit() {
        for name in ["wordcount", "word-count", "word_count", "sha-256", "a1"] {
            assert!(validate_name(name).is_ok(), "{name}");
        }
        assert!(validate_name("").unwrap_err().to_string().contains("empty"));
        for (names, reason) in [
            ("1guest -guest", "start with a letter"),
            ("MyGuest", "lowercase, e.g. `myguest`"),
            ("my.guest my/guest", "is not allowed"),
            ("my--guest my-_guest guest-", "separate words"),
            ("fn list error_context std", "keyword"),
        ] {
            for name in names.split(' ') {
                let err = validate_name(name).unwrap_err().to_string();
                assert!(err.contains(reason), "`{name}`: {err}");
            }
        }
    }

    #[test]
    fn renders_every_placeholder() {
        let text = "{{name}} {{crate}} {{world}}";
        assert_eq!(render(text, "a_b"), "a_b a_b a-b");
        assert_eq!(render(text, "a-b"), "a-b a_b a-b");
    }

    #[test]
    fn writes_a_crate_with_no_placeholders_left() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("my-guest");
        let files = scaffold("my-guest", Lang::Rust, &dir, false).unwrap();
        assert_eq!(files.len(), RUST_TEMPLATES.len());
        let read = |p: &Path| fs::read_to_string(dir.join(p)).unwrap();
        for file in &files {
            assert!(!read(file).contains("{{"), "{}", file.display());
        }
        assert!(read("Cargo.toml".as_ref()).contains("name = \"my-guest\""));
        assert!(read("wit/world.wit".as_ref()).contains("world my-guest {"));
        assert!(read("src/lib.rs".as_ref()).contains("world: \"my-guest\""));
        let job = read("job.toml".as_ref());
        assert!(job.contains("my-guest = \"target/wasm32-wasip2/release/my_guest.wasm\""));
        toml::from_str::<toml::Table>(&job).unwrap();
    }

    #[test]
    fn writes_a_python_guest_with_no_placeholders_left() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("word_stats");
        let files = scaffold("word_stats", Lang::Python, &dir, false).unwrap();
        assert_eq!(files.len(), PYTHON_TEMPLATES.len());
        let read = |p: &str| fs::read_to_string(dir.join(p)).unwrap();
        for file in &files {
            assert!(
                !read(file.to_str().unwrap()).contains("{{"),
                "{}",
                file.display()
            );
        }
        assert!(read("wit/world.wit").contains("world word-stats {"));
        assert!(read("wit/world.wit").contains("export heavy-calc: func(n: u64) -> u64;"));
        assert!(read("app.py").contains("class WitWorld(wit_world.WitWorld):"));
        let build = read("build.sh");
        assert!(
            build.contains(
                "componentize-py -d wit -w word-stats componentize app -o word_stats.wasm"
            )
        );
        let job = read("job.toml");
        assert!(job.contains("word_stats = \"word_stats.wasm\""));
        toml::from_str::<toml::Table>(&job).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("build.sh"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o111, 0o111, "build.sh is not executable: {mode:o}");
        }
    }

    #[test]
    fn refuses_a_non_empty_directory_unless_forced() {
        let tmp = tempfile::tempdir().unwrap();
        let keep = tmp.path().join("keep.txt");
        fs::write(&keep, "mine").unwrap();
        let err = scaffold("guest", Lang::Rust, tmp.path(), false).unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
        assert!(!tmp.path().join("Cargo.toml").exists());
        scaffold("guest", Lang::Rust, tmp.path(), true).unwrap();
        assert!(tmp.path().join("Cargo.toml").exists());
        assert_eq!(fs::read_to_string(keep).unwrap(), "mine");
    }
}
