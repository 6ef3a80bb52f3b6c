//! Builds the test guests (`guest/hostile`, `guest/echo`, `guest/wordfreq`) and tells the tests
//! where they are.

use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let guest_dir = Path::new(&manifest).join("../guest");
    let packages = ["hostile", "echo", "wordfreq"];
    for (package, wasm) in packages
        .iter()
        .zip(wpool_guest_build::build(&guest_dir, &packages))
    {
        println!(
            "cargo:rustc-env=WPOOL_TEST_GUEST_{}={}",
            package.to_uppercase(),
            wasm.display()
        );
    }
}
