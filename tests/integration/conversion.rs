//! Property tests of the TOML/JSON → component value conversion: arbitrary
//! values checked against every signature of the `echo` guest never panic,
//! and accepted ones run.

use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use wpool::{LoadedGuest, Pool, Value};
use wpool_tests::{guest_path, pool};

fn echo() -> &'static (Pool, LoadedGuest) {
    static ECHO: OnceLock<(Pool, LoadedGuest)> = OnceLock::new();
    ECHO.get_or_init(|| {
        let pool = pool(1, Duration::from_secs(10));
        let guest = pool.load(wpool::Guest::file(guest_path("echo"))).unwrap();
        (pool, guest)
    })
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<u64>().prop_map(Value::UInt),
        any::<f64>().prop_map(Value::Float),
        ".{0,8}".prop_map(Value::String),
        prop_oneof![
            Just("red"),
            Just("circle"),
            Just("read"),
            Just("ok"),
            Just("err"),
            Just("x"),
            Just("empty")
        ]
        .prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("x"),
                        Just("y"),
                        Just("label"),
                        Just("circle"),
                        Just("rect"),
                        Just("ok"),
                        Just("err"),
                        Just("z")
                    ],
                    inner
                ),
                0..4
            )
            .prop_map(|fields| Value::Map(
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_arguments_never_panic(args in proptest::collection::vec(value(), 0..3)) {
        let (_, guest) = echo();
        for function in guest.functions() {
            let _ = guest.check(function.name(), &args);
        }
    }

    #[test]
    fn accepted_arguments_run(a in any::<i32>(), b in any::<i32>(), s in ".{0,16}") {
        let (pool, guest) = echo();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let sum = pool.submit(guest, "add", (a, b)).await.unwrap();
            prop_assert_eq!(sum.value, Value::Int(a.wrapping_add(b).into()));
            let upper = pool.submit(guest, "upper", s.as_str()).await.unwrap();
            prop_assert_eq!(upper.value, Value::String(s.to_uppercase()));
            Ok(())
        })?;
    }
}
