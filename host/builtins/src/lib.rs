//! wpool's built-in guests: WebAssembly components compiled from the source
//! in wpool's `guest/` workspace, embedded as bytes.
//!
//! The artifacts are checked in (`wasm/NAME.wasm`) so that building this
//! crate needs neither the `wasm32-wasip2` target nor a nested cargo build.
//! `scripts/builtins.sh` rebuilds them from source reproducibly, and CI
//! (`scripts/builtins.sh --check`) fails when a checked-in artifact differs
//! byte for byte from what its source builds to: no binary here without its
//! source.
//!
//! The `wpool` crate uses this crate through its default `builtins` feature
//! (`wpool::Guest::builtin("sha256")`); embedders who want none of the
//! built-ins turn that feature off and pay nothing for them.
//!
//! ```
//! let calc = wpool_builtins::get("heavy_calc").expect("a built-in");
//! assert_eq!(&calc.bytes[..4], b"\0asm");
//! assert_eq!(calc.source, "guest/heavy_calc");
//! assert!(wpool_builtins::names().any(|name| name == "sha256"));
//! ```

#![deny(missing_docs)]

/// One built-in guest.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Builtin {
    /// The name it is addressed by (`wpool::Guest::builtin(name)`).
    pub name: &'static str,
    /// Where its source lives in wpool's repository.
    pub source: &'static str,
    /// The component's bytes.
    pub bytes: &'static [u8],
}

macro_rules! builtins {
    ($($name:literal from $source:literal),* $(,)?) => {
        /// Every built-in guest, by name in alphabetical order.
        pub const ALL: &[Builtin] = &[$(Builtin {
            name: $name,
            source: concat!("guest/", $source),
            bytes: include_bytes!(concat!("../wasm/", $name, ".wasm")),
        }),*];
    };
}

builtins! {
    "crypto" from "crypto",
    "etl" from "etl",
    "heavy_calc" from "heavy_calc",
    "image" from "image-guest",
    "logs" from "logs",
    "scrape" from "scrape",
    "sha256" from "sha256",
    "wordfreq" from "wordfreq",
}

/// The built-in guest called `name`, if there is one.
pub fn get(name: &str) -> Option<&'static Builtin> {
    ALL.iter().find(|builtin| builtin.name == name)
}

/// The names of the built-in guests, in alphabetical order.
pub fn names() -> impl Iterator<Item = &'static str> {
    ALL.iter().map(|builtin| builtin.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_a_component_named_once_in_order() {
        let names: Vec<_> = names().collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        for builtin in ALL {
            // A component's preamble: magic, then version 0x0d and layer 1.
            assert_eq!(
                &builtin.bytes[..8],
                b"\0asm\x0d\0\x01\0",
                "{} is not a component",
                builtin.name
            );
        }
        assert!(get("nope").is_none());
    }
}
