//! A component's interface as WIT text: the world its types describe,
//! decoded from the binary and printed the way `wasm-tools component wit`
//! prints it, so that records, variants, enums and flags are declared once
//! under their own names instead of expanded into every signature.

use wit_parser::decoding::DecodedWasm;

/// The WIT of a component (binary or WAT text), or `None` when `bytes` is a
/// core module or its types cannot be decoded as a WIT world (a hand-written
/// component may use types WIT cannot name). Callers fall back to
/// [`Function::signature`](crate::Function::signature) then.
///
/// Only the component's own package is printed (`package root:component;`
/// and its `world root`): the interfaces it imports appear in the world by
/// name, without the packages that define them.
pub(crate) fn component_wit(bytes: &[u8]) -> Option<String> {
    decode(bytes).unwrap_or_else(|why| {
        tracing::debug!("no WIT: {why}");
        None
    })
}

/// [`component_wit`], saying why there is none when it is not a core module.
fn decode(bytes: &[u8]) -> Result<Option<String>, String> {
    let binary = wat::parse_bytes(bytes).map_err(|e| format!("not WebAssembly: {e}"))?;
    // A component's header has layer 1 (bytes 6 and 7), a core module's 0.
    if binary.get(6..8) != Some(&[1, 0]) {
        return Ok(None);
    }
    let (resolve, world) = match wit_parser::decoding::decode(&binary) {
        Ok(DecodedWasm::Component(resolve, world)) => (resolve, world),
        Ok(DecodedWasm::WitPackage(..)) => return Err("a WIT package, not a component".into()),
        Err(e) => return Err(format!("cannot decode the component's types: {e:#}")),
    };
    let package = resolve.worlds[world]
        .package
        .ok_or("the decoded world has no package")?;
    let mut printer = wit_component::WitPrinter::default();
    printer
        .print(&resolve, package, &[])
        .map_err(|e| format!("cannot print the component's world: {e:#}"))?;
    Ok(Some(printer.output.to_string()))
}

#[cfg(test)]
mod tests {
    use super::{component_wit, decode};

    #[test]
    fn a_component_with_a_named_record_prints_it_once() {
        // A world's own types are imported by name, as wit-component encodes
        // `record point` declared in a world.
        let wat = r#"(component
            (type $point' (record (field "x" s32) (field "y" s32)))
            (import "point" (type $point (eq $point')))
            (core module $m
              (func (export "sum") (param i32 i32) (result i32)
                local.get 0
                local.get 1
                i32.add))
            (core instance $i (instantiate $m))
            (func $sum (param "p" $point) (result s32)
              (canon lift (core func $i "sum")))
            (export "sum" (func $sum)))"#;
        let wit = decode(wat.as_bytes()).unwrap().expect("a WIT world");
        assert_eq!(wit.matches("record point {").count(), 1, "{wit}");
        assert!(wit.contains("sum: func(p: point) -> s32;"), "{wit}");
        assert!(!wit.contains("record {"), "{wit}");
    }

    #[test]
    fn core_modules_and_junk_have_none() {
        assert_eq!(
            component_wit(br#"(module (func (export "f") (result i32) i32.const 1))"#),
            None
        );
        assert_eq!(component_wit(b"\0asm\x01\0\0\0\x7f"), None);
        assert_eq!(component_wit(b"not wasm at all"), None);
    }
}
