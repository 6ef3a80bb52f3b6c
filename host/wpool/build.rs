//! Builds the built-in guests from `guest/` into components and places them
//! in `OUT_DIR` for `include_bytes!`, named by their built-in name.
//!
//! `sha256` is built with wasm SIMD (`+simd128`: `sha2`'s SIMD message
//! schedule, ~1.4× faster); the others without, since SIMD slows plain 64-bit
//! loops like heavy_calc's.

use std::path::{Path, PathBuf};
use std::{env, fs};

/// (package in `guest/`, built-in name).
const PLAIN: &[(&str, &str)] = &[
    ("heavy_calc", "heavy_calc"),
    ("wordfreq", "wordfreq"),
    ("logs", "logs"),
    ("crypto", "crypto"),
    ("etl", "etl"),
    ("scrape", "scrape"),
    ("image-guest", "image"),
];
const SIMD: &[(&str, &str)] = &[("sha256", "sha256")];

fn main() {
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let guest_dir = Path::new(&manifest).join("../../guest");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let packages = |list: &[(&'static str, &str)]| list.iter().map(|(p, _)| *p).collect::<Vec<_>>();
    let built = wpool_guest_build::build(&guest_dir, &packages(PLAIN))
        .into_iter()
        .chain(wpool_guest_build::build_with(
            &guest_dir,
            &packages(SIMD),
            "simd128",
            &["-Ctarget-feature=+simd128"],
        ));
    for ((_, name), wasm) in PLAIN.iter().chain(SIMD).zip(built) {
        fs::copy(&wasm, out_dir.join(format!("{name}.wasm")))
            .unwrap_or_else(|e| panic!("cannot copy `{}`: {e}", wasm.display()));
    }
}
