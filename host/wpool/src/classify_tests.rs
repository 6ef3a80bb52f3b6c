//! [`classify`]: every way a call fails becomes the right kind, with a
//! message that names the limit. The errors are real ones, from tiny WAT
//! modules run in a store that has the pool's limiter.

use std::time::Duration;

use wasmtime::{Config, Engine, Instance, Module, Store, Trap};

use super::classify;
use crate::error::ErrorKind;
use crate::limits::{Limiter, Limits};
use crate::state::Interrupt;

const PAGE: usize = 64 << 10;

fn limits() -> Limits {
    Limits {
        timeout: Some(Duration::from_secs(2)),
        memory: 2 * PAGE,
        fuel: Some(10_000),
        output: 3 * PAGE,
        stdio: 4096,
    }
}

fn engine() -> Engine {
    let mut config = Config::new();
    config.consume_fuel(true).epoch_interruption(true);
    Engine::new(&config).unwrap()
}

/// Runs `run` of `wat` in a store limited as `limits` says, with fuel and
/// an epoch deadline far away unless `setup` changes them. Gives the error
/// and the limiter as the call left it.
fn fail(wat: &str, setup: impl FnOnce(&mut Store<Limiter>)) -> (wasmtime::Error, Limiter) {
    let engine = engine();
    let limits = limits();
    let mut store = Store::new(&engine, Limiter::new(limits.memory));
    store.limiter(|l| l);
    store.set_fuel(1 << 40).unwrap();
    store.set_epoch_deadline(1 << 40);
    let module = Module::new(&engine, wat).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let run = instance
        .get_typed_func::<(), ()>(&mut store, "run")
        .unwrap();
    setup(&mut store);
    let e = run.call(&mut store, ()).expect_err("the call fails");
    let limiter = std::mem::replace(store.data_mut(), Limiter::new(0));
    (e, limiter)
}

fn classified(e: &wasmtime::Error, limiter: &Limiter, stderr: &str) -> (ErrorKind, String) {
    let limits = limits();
    classify(e, limiter, &limits, limits.timeout, stderr.as_bytes())
}

const SPIN: &str = r#"(module (func (export "run") (loop $l (br $l))))"#;
const UNREACHABLE: &str = r#"(module (func (export "run") unreachable))"#;

#[test]
fn running_out_of_fuel_is_out_of_fuel() {
    let (e, limiter) = fail(SPIN, |store| store.set_fuel(1000).unwrap());
    assert_eq!(e.downcast_ref::<Trap>(), Some(&Trap::OutOfFuel));
    assert_eq!(
        classified(&e, &limiter, ""),
        (
            ErrorKind::OutOfFuel,
            "ran out of fuel (budget 10000)".into()
        )
    );
}

#[test]
fn an_epoch_interrupt_is_a_timeout() {
    let (e, limiter) = fail(SPIN, |store| store.set_epoch_deadline(0));
    assert_eq!(e.downcast_ref::<Trap>(), Some(&Trap::Interrupt));
    assert_eq!(
        classified(&e, &limiter, ""),
        (ErrorKind::Timeout, "interrupted".into())
    );
}

/// The deadline callback's own errors: past the task's deadline, or the
/// pool aborted.
#[test]
fn the_deadline_callback_says_timeout_or_cancelled() {
    for (interrupt, want) in [
        (
            Interrupt::Timeout,
            (ErrorKind::Timeout, "timed out after 2s".to_owned()),
        ),
        (
            Interrupt::Aborted,
            (
                ErrorKind::Cancelled,
                "interrupted: the pool was aborted".to_owned(),
            ),
        ),
    ] {
        let (e, limiter) = fail(SPIN, move |store| {
            store.set_epoch_deadline(0);
            store.epoch_deadline_callback(move |_| Err(interrupt.into()));
        });
        assert_eq!(classified(&e, &limiter, "ignored"), want);
    }
    // Without a timeout of its own the message still reads.
    let e = wasmtime::Error::from(Interrupt::Timeout);
    let (kind, detail) = classify(&e, &Limiter::new(0), &limits(), None, b"");
    assert_eq!(
        (kind, detail.as_str()),
        (ErrorKind::Timeout, "timed out after 0s")
    );
}

#[test]
fn a_stack_overflow_is_a_trap_with_the_guest_s_stderr() {
    let (e, limiter) = fail(r#"(module (func $run (export "run") (call $run)))"#, |_| {});
    assert_eq!(e.downcast_ref::<Trap>(), Some(&Trap::StackOverflow));
    assert_eq!(
        classified(&e, &limiter, "deep\nrecursion\n"),
        (
            ErrorKind::Trap,
            "trapped: stack overflow; guest stderr: deep | recursion".into()
        )
    );
}

#[test]
fn a_plain_trap_says_what_trapped() {
    let (e, limiter) = fail(UNREACHABLE, |_| {});
    assert!(!limiter.hit);
    assert_eq!(
        classified(&e, &limiter, ""),
        (
            ErrorKind::Trap,
            "trapped: wasm `unreachable` instruction executed".into()
        )
    );
    let (e, limiter) = fail(
        r#"(module (memory 1) (func (export "run") (drop (i32.load (i32.const 70000)))))"#,
        |_| {},
    );
    let (kind, detail) = classified(&e, &limiter, "panicked at src/lib.rs");
    assert_eq!(kind, ErrorKind::Trap);
    assert_eq!(
        detail,
        "trapped: out of bounds memory access; guest stderr: panicked at src/lib.rs"
    );
}

/// A guest whose allocation was refused usually aborts (`unreachable`):
/// that trap is the memory limit, not a bug in the guest.
#[test]
fn a_trap_after_a_refused_growth_is_the_memory_limit() {
    let (e, limiter) = fail(
        r#"(module (memory 1)
             (func (export "run")
               (if (i32.eq (memory.grow (i32.const 4)) (i32.const -1))
                 (then unreachable))))"#,
        |_| {},
    );
    assert!(limiter.hit, "the limiter refused the growth");
    assert_eq!(
        classified(&e, &limiter, ""),
        (
            ErrorKind::MemoryLimit,
            "exceeded the memory limit of 128 KiB".into()
        )
    );
    // Fuel and stack overflow still win: they say more.
    let mut hit = Limiter::new(0);
    hit.hit = true;
    let (e, _) = fail(SPIN, |store| store.set_fuel(10).unwrap());
    assert_eq!(classified(&e, &hit, "").0, ErrorKind::OutOfFuel);
    // A refused growth with no trap at all is the memory limit too.
    let e = wasmtime::Error::msg("allocation failed");
    assert_eq!(classified(&e, &hit, "").0, ErrorKind::MemoryLimit);
}

#[test]
fn an_exit_reports_its_status() {
    let e = wasmtime::Error::from(wasmtime_wasi::I32Exit(3));
    assert_eq!(
        classified(&e, &Limiter::new(0), "usage: tool FILE\n"),
        (
            ErrorKind::Trap,
            "exited with status 3; guest stderr: usage: tool FILE".into()
        )
    );
}

/// The limiter of an instance whose memory really grew to `pages` pages
/// (within the 2-page memory limit).
fn grown_to(pages: i32) -> Limiter {
    let wat = format!(
        r#"(module (memory 1)
             (func (export "run")
               (drop (memory.grow (i32.const {})))
               unreachable))"#,
        pages - 1
    );
    let limiter = fail(&wat, |_| {}).1;
    assert!(!limiter.hit);
    limiter
}

/// Lifting an oversized result fails with no trap, no exit and no refused
/// growth. Past the output limit that can only be the result's size; below
/// it, it is a malformed value.
#[test]
fn the_output_limit_rule() {
    let output = limits().output;
    let lift_failed = || wasmtime::Error::msg("hostcall fuel exhausted");
    // Past the output limit (the test store's 2-page memory limit cannot
    // grow that far, so the limiter is set as a roomier store's would be).
    let big = {
        let mut l = Limiter::new(8 * PAGE);
        l.largest = 4 * PAGE;
        l
    };
    assert!(big.largest > output);
    assert_eq!(
        classified(&lift_failed(), &big, ""),
        (
            ErrorKind::OutputLimit,
            "returned more than the output limit of 192 KiB".into()
        )
    );
    // Exactly at the limit is not past it.
    let mut at = Limiter::new(8 * PAGE);
    at.largest = output;
    assert_eq!(
        classified(&lift_failed(), &at, ""),
        (
            ErrorKind::Trap,
            "failed: hostcall fuel exhausted".to_owned()
        )
    );
    // Memory that really grew, below the limit: a malformed value.
    let small = grown_to(2);
    assert_eq!(small.largest, 2 * PAGE);
    assert_eq!(classified(&lift_failed(), &small, "").0, ErrorKind::Trap);
    // The rule is only for failures that are nothing else.
    let (trap, _) = fail(UNREACHABLE, |_| {});
    assert_eq!(classified(&trap, &big, "").0, ErrorKind::Trap);
    let exit = wasmtime::Error::from(wasmtime_wasi::I32Exit(1));
    assert_eq!(
        classified(&exit, &big, "").1,
        "exited with status 1".to_owned()
    );
    let mut refused = Limiter::new(8 * PAGE);
    refused.largest = 4 * PAGE;
    refused.hit = true;
    assert_eq!(
        classified(&lift_failed(), &refused, "").0,
        ErrorKind::MemoryLimit
    );
    let timeout = wasmtime::Error::from(Interrupt::Timeout);
    assert_eq!(classified(&timeout, &big, "").0, ErrorKind::Timeout);
    // Nor for wpool's own refusals: an ungranted capability from a guest
    // whose memory is past the output limit is not an oversized result.
    let refused = wasmtime::Error::new(crate::capability::NotGranted("digest"));
    let (kind, message) = classified(&refused, &big, "");
    assert_eq!(kind, ErrorKind::Trap);
    assert!(message.contains("without the `digest` grant"), "{message}");
}
