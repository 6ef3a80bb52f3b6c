//! Build-script helper: compiles crates of wpool's `guest/` workspace into
//! WebAssembly components (wasm32-wasip2), the way wasmtime's test-programs
//! artifacts crate does.
//!
//! Guests are built in their own target directory (`<target>/guests`), shared by
//! every profile of the host, so switching between `cargo test` and
//! `cargo bench` does not rebuild them.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every guest is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Builds `packages` of the guest workspace at `guest_dir` in release mode and
/// returns the path of each package's component, in the order given.
///
/// Prints the `cargo:rerun-if-changed` lines for the guest sources.
///
/// # Panics
///
/// Panics (failing the build script with the message) when the wasm target is
/// not installed or the guest build fails.
pub fn build(guest_dir: &Path, packages: &[&str]) -> Vec<PathBuf> {
    build_with(guest_dir, packages, "", &[])
}

/// [`build`] with extra `rustflags` (e.g. `-Ctarget-feature=+simd128` for a
/// guest that wants wasm SIMD), in a target directory of their own named
/// `guests-<flavour>`, so that guests built with and without them do not
/// rebuild each other.
///
/// # Panics
///
/// As [`build`].
pub fn build_with(
    guest_dir: &Path,
    packages: &[&str],
    flavour: &str,
    rustflags: &[&str],
) -> Vec<PathBuf> {
    check_target_installed();
    rerun_if_changed(guest_dir, packages);

    let mut target_dir = shared_target_dir();
    if !flavour.is_empty() {
        target_dir.set_file_name(format!("guests-{flavour}"));
    }
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--target")
        .arg(TARGET)
        .arg("--manifest-path")
        .arg(guest_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    for package in packages {
        cmd.arg("--package").arg(package);
    }
    // The host's flags and profile settings are not the guests'.
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let inherited =
            key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_NET_OFFLINE";
        if inherited || key == "RUSTFLAGS" || key == "RUSTC_WORKSPACE_WRAPPER" {
            cmd.env_remove(key);
        }
    }
    if !rustflags.is_empty() {
        cmd.env("CARGO_ENCODED_RUSTFLAGS", rustflags.join("\x1f"));
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the guests: {e}"));
    assert!(
        status.success(),
        "building the guests in `{}` failed ({status}); see the cargo output above",
        guest_dir.display()
    );

    packages
        .iter()
        .map(|package| {
            let wasm = target_dir
                .join(TARGET)
                .join("release")
                .join(format!("{}.wasm", package.replace('-', "_")));
            assert!(
                wasm.exists(),
                "guest `{package}` built but `{}` is missing",
                wasm.display()
            );
            wasm
        })
        .collect()
}

/// Fails with the fix when the wasm32-wasip2 standard library is not installed.
fn check_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    if let Some(sysroot) = sysroot {
        let lib = sysroot.join("lib").join("rustlib").join(TARGET);
        if !lib.exists() {
            panic!(
                "the `{TARGET}` target is not installed, and wpool's guests are built for it; \
                 install it with: rustup target add {TARGET}"
            );
        }
    }
}

fn rerun_if_changed(guest_dir: &Path, packages: &[&str]) {
    println!(
        "cargo:rerun-if-changed={}",
        guest_dir.join("Cargo.toml").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        guest_dir.join("Cargo.lock").display()
    );
    println!("cargo:rerun-if-changed={}", guest_dir.join("wit").display());
    for package in packages {
        let dir = guest_dir.join(package);
        println!(
            "cargo:rerun-if-changed={}",
            dir.join("Cargo.toml").display()
        );
        println!("cargo:rerun-if-changed={}", dir.join("src").display());
    }
}

/// `<target>/guests`, found from `OUT_DIR` (`<target>/<profile>/build/<pkg>/out`).
fn shared_target_dir() -> PathBuf {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set for build scripts"));
    out_dir
        .ancestors()
        .nth(4)
        .map(|target| target.join("guests"))
        .unwrap_or_else(|| out_dir.join("guests"))
}
