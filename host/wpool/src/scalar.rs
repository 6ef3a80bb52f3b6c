//! Typed calls for scalar signatures.
//!
//! A dynamic call through wasmtime's `Val`s rebuilds the function's type,
//! checks every value against it and lifts its results through a boxed
//! iterator: most of what a dynamic call adds to a typed one on the worker
//! (a profile of 64 submitters' tiny calls, 2026-12-02). The most common
//! small signatures — at most one parameter and at most one result, each a
//! `bool`, `s32`, `u32`, `s64`, `u64`, `f64` or `string` (`func(n: u64) ->
//! u64`, `func(s: string) -> bool`, …) — are called here through a typed
//! function instead. Values are converted by the same rules as the dynamic
//! path (`convert::to_val` and `convert::from_val`), so a call gives the same
//! value and the same errors either way.
//!
//! Byte-heavy signatures have their own typed path (see `fast`); every other
//! signature goes through `Val`s.

use wasmtime::Store;
use wasmtime::component::{ComponentNamedList, Func, Lift, Lower, Type, Val};

use crate::convert::{from_val, to_val};
use crate::state::StoreState;
use crate::value::Value;

/// A parameter's or result's type, among those called typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Bool,
    S32,
    U32,
    S64,
    U64,
    F64,
    String,
}

impl Scalar {
    fn of(ty: &Type) -> Option<Self> {
        Some(match ty {
            Type::Bool => Scalar::Bool,
            Type::S32 => Scalar::S32,
            Type::U32 => Scalar::U32,
            Type::S64 => Scalar::S64,
            Type::U64 => Scalar::U64,
            Type::Float64 => Scalar::F64,
            Type::String => Scalar::String,
            _ => return None,
        })
    }
}

/// A signature with at most one scalar parameter and at most one scalar
/// result, called through a typed function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScalarCall {
    param: Option<Scalar>,
    result: Option<Scalar>,
}

impl ScalarCall {
    /// The typed shape of a function with these parameter and result types,
    /// if it has one.
    pub(crate) fn detect(params: &[(String, Type)], results: &[Type]) -> Option<Self> {
        let param = match params {
            [] => None,
            [(_, ty)] => Some(Scalar::of(ty)?),
            _ => return None,
        };
        let result = match results {
            [] => None,
            [ty] => Some(Scalar::of(ty)?),
            _ => return None,
        };
        Some(ScalarCall { param, result })
    }

    /// Calls `func` with `args` (already checked against `params` on the
    /// caller's thread), giving its result as the dynamic path shapes it.
    pub(crate) fn call(
        self,
        func: &Func,
        store: &mut Store<StoreState>,
        params: &[(String, Type)],
        args: &[Value],
    ) -> wasmtime::Result<Value> {
        macro_rules! with_result {
            ($params:expr) => {
                match self.result {
                    None => {
                        let f = func.typed::<_, ()>(&*store)?;
                        f.call(&mut *store, $params).map(|()| Val::Bool(false))
                    }
                    Some(Scalar::Bool) => typed(func, store, $params).map(Val::Bool),
                    Some(Scalar::S32) => typed(func, store, $params).map(Val::S32),
                    Some(Scalar::U32) => typed(func, store, $params).map(Val::U32),
                    Some(Scalar::S64) => typed(func, store, $params).map(Val::S64),
                    Some(Scalar::U64) => typed(func, store, $params).map(Val::U64),
                    Some(Scalar::F64) => typed(func, store, $params).map(Val::Float64),
                    Some(Scalar::String) => typed(func, store, $params).map(Val::String),
                }
                .map(|val| match self.result {
                    None => Value::Null,
                    Some(_) => from_val(val),
                })
            };
        }
        let (Some(_), [(name, ty)], [value]) = (self.param, params, args) else {
            return with_result!(());
        };
        let val = to_val(value, ty, name)
            .map_err(|e| wasmtime::format_err!("argument `{}`: {}", e.path, e.message))?;
        match val {
            Val::Bool(v) => with_result!((v,)),
            Val::S32(v) => with_result!((v,)),
            Val::U32(v) => with_result!((v,)),
            Val::S64(v) => with_result!((v,)),
            Val::U64(v) => with_result!((v,)),
            Val::Float64(v) => with_result!((v,)),
            Val::String(v) => with_result!((v,)),
            _ => Err(wasmtime::format_err!(
                "internal error: a scalar call's argument converted to another type"
            )),
        }
    }
}

fn typed<P, R>(func: &Func, store: &mut Store<StoreState>, params: P) -> wasmtime::Result<R>
where
    P: ComponentNamedList + Lower,
    (R,): ComponentNamedList + Lift,
{
    let f = func.typed::<P, (R,)>(&*store)?;
    Ok(f.call(&mut *store, params)?.0)
}

#[cfg(test)]
mod tests {
    use wasmtime::Engine;
    use wasmtime::component::Component;
    use wasmtime::component::types::ComponentItem;

    use super::*;

    /// Which signatures take the typed path, read from a real component's
    /// imports (Wasmtime's `Type` cannot be built by hand).
    #[test]
    fn detects_scalar_signatures_only() {
        let wat = r#"(component
          (import "none" (func))
          (import "u64-u64" (func (param "n" u64) (result u64)))
          (import "bool-bool" (func (param "b" bool) (result bool)))
          (import "s32-f64" (func (param "x" s32) (result f64)))
          (import "string-u32" (func (param "s" string) (result u32)))
          (import "s64-string" (func (param "x" s64) (result string)))
          (import "u32-none" (func (param "x" u32)))
          (import "none-u32" (func (result u32)))
          (import "no-two-params" (func (param "a" s32) (param "b" s32) (result s32)))
          (import "no-u8" (func (param "x" u8) (result u8)))
          (import "no-char" (func (param "c" char) (result u32)))
          (import "no-f32" (func (param "x" f32) (result f32)))
          (import "no-list" (func (param "x" (list u8)) (result u32)))
          (import "no-option" (func (param "x" u32) (result (option u32))))
          (import "no-result" (func (param "x" u32) (result (result u32))))
        )"#;
        let engine = Engine::default();
        let component = Component::new(&engine, wat).expect("the test component compiles");
        let mut seen = 0;
        for (name, import) in component.component_type().imports(&engine) {
            let ComponentItem::ComponentFunc(func) = import.ty else {
                continue;
            };
            let params: Vec<(String, Type)> =
                func.params().map(|(n, t)| (n.to_owned(), t)).collect();
            let results: Vec<Type> = func.results().collect();
            let detected = ScalarCall::detect(&params, &results);
            assert_eq!(detected.is_some(), !name.starts_with("no-"), "{name}");
            seen += 1;
        }
        assert_eq!(seen, 15, "every import was read");
        let params = [("n".to_owned(), Type::U64)];
        assert_eq!(
            ScalarCall::detect(&params, &[Type::U64]),
            Some(ScalarCall {
                param: Some(Scalar::U64),
                result: Some(Scalar::U64)
            })
        );
    }
}
