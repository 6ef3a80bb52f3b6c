//! Builds the built-in guests (`guest/heavy_calc`, `guest/sha256`, `guest/wordfreq`) into
//! components and places them in `OUT_DIR` for `include_bytes!`.

use std::path::Path;
use std::{env, fs};

fn main() {
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let guest_dir = Path::new(&manifest).join("../../guest");
    let out_dir = env::var("OUT_DIR").expect("OUT_DIR");
    let packages = ["heavy_calc", "sha256", "wordfreq"];
    for (package, wasm) in packages
        .iter()
        .zip(wpool_guest_build::build(&guest_dir, &packages))
    {
        fs::copy(&wasm, Path::new(&out_dir).join(format!("{package}.wasm")))
            .unwrap_or_else(|e| panic!("cannot copy `{}`: {e}", wasm.display()));
    }
}
