//! Host capabilities a component may import (`wpool:host/*`, WIT in
//! `guest/wit/deps/host`). Every guest can link them; each answers only a
//! guest granted it (see [`Grants`](crate::Grants)).

use sha2::{Digest, Sha256};
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, WasmList};

use crate::state::StoreState;

/// The digest interface: `enabled() -> bool`, `sha256(list<u8>) -> list<u8>`.
pub(crate) const DIGEST: &str = "wpool:host/digest@0.1.0";

/// Every `wpool:host` interface, for telling provided imports apart.
pub(crate) const INTERFACES: &[&str] = &[DIGEST];

/// A guest called a capability it was not granted.
#[derive(Debug)]
pub(crate) struct NotGranted(pub(crate) &'static str);

impl std::fmt::Display for NotGranted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "called `{DIGEST}` without the `{}` grant (check `enabled` first)",
            self.0
        )
    }
}

impl std::error::Error for NotGranted {}

pub(crate) fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    let mut digest = linker.instance(DIGEST)?;
    digest.func_wrap(
        "enabled",
        |store: StoreContextMut<'_, StoreState>, (): ()| Ok((store.data().digest,)),
    )?;
    digest.func_wrap(
        "sha256",
        |store: StoreContextMut<'_, StoreState>, (data,): (WasmList<u8>,)| {
            if !store.data().digest {
                return Err(wasmtime::Error::new(NotGranted("digest")));
            }
            // Hashed in place: the list is a slice of the guest's memory.
            let digest = Sha256::digest(data.as_le_slice(&store));
            Ok((digest.to_vec(),))
        },
    )?;
    Ok(())
}
