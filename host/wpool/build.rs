//! Builds the built-in guests (`guest/heavy_calc`, `guest/sha256`,
//! `guest/wordfreq`, `guest/logs`) into components and places them in `OUT_DIR` for
//! `include_bytes!`.
//!
//! `sha256` is built with wasm SIMD (`+simd128`: `sha2`'s SIMD message
//! schedule, ~1.4× faster); the others without, since SIMD slows plain 64-bit
//! loops like heavy_calc's.

use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let guest_dir = Path::new(&manifest).join("../../guest");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let plain = ["heavy_calc", "wordfreq", "logs"];
    let simd = ["sha256"];
    let built = wpool_guest_build::build(&guest_dir, &plain)
        .into_iter()
        .chain(wpool_guest_build::build_with(
            &guest_dir,
            &simd,
            "simd128",
            &["-Ctarget-feature=+simd128"],
        ));
    for (package, wasm) in plain.iter().chain(&simd).zip(built) {
        fs::copy(&wasm, out_dir.join(format!("{package}.wasm")))
            .unwrap_or_else(|e| panic!("cannot copy `{}`: {e}", wasm.display()));
    }
}
