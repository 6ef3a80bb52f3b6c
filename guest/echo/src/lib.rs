//! `echo`: every kind of WIT value, for the dynamic-call conversion tests.

use std::sync::atomic::{AtomicU32, Ordering};

wit_bindgen::generate!({ world: "echo", path: "../wit" });

static TICK: AtomicU32 = AtomicU32::new(0);

struct Echo;

impl Guest for Echo {
    fn add(a: i32, b: i32) -> i32 {
        a.wrapping_add(b)
    }

    fn echo_point(p: Point) -> Point {
        p
    }

    fn area(s: Shape) -> f64 {
        match s {
            Shape::Circle(r) => std::f64::consts::PI * r * r,
            Shape::Rect((w, h)) => w * h,
            Shape::Empty => 0.0,
        }
    }

    fn next_color(c: Color) -> Color {
        match c {
            Color::Red => Color::Green,
            Color::Green => Color::Blue,
            Color::Blue => Color::Red,
        }
    }

    fn echo_perms(p: Perms) -> Perms {
        p
    }

    fn maybe_double(x: Option<u32>) -> Option<u32> {
        x.map(|v| v.wrapping_mul(2))
    }

    fn checked_div(a: i64, b: i64) -> Result<i64, String> {
        a.checked_div(b)
            .ok_or_else(|| format!("cannot divide {a} by {b}"))
    }

    fn swap(t: (String, u8)) -> (u8, String) {
        (t.1, t.0)
    }

    fn sum(xs: Vec<f32>) -> f32 {
        xs.iter().sum()
    }

    fn upper(s: String) -> String {
        s.to_uppercase()
    }

    fn slice(text: String, from: u32, to: u32) -> String {
        text.chars()
            .skip(from as usize)
            .take(to.saturating_sub(from) as usize)
            .collect()
    }

    fn char_code(c: char) -> u32 {
        c as u32
    }

    fn negate(b: bool) -> bool {
        !b
    }

    fn reverse_bytes(mut b: Vec<u8>) -> Vec<u8> {
        b.reverse();
        b
    }

    fn shapes(n: u32) -> Vec<Shape> {
        (0..n)
            .map(|i| match i % 3 {
                0 => Shape::Circle(f64::from(i)),
                1 => Shape::Rect((f64::from(i), 2.0)),
                _ => Shape::Empty,
            })
            .collect()
    }

    fn extremes() -> (u64, i64, i8, u16, f32, f64) {
        (u64::MAX, i64::MIN, i8::MIN, u16::MAX, 1.5, -0.25)
    }

    fn neg32(x: i32) -> i32 {
        x.wrapping_neg()
    }

    fn succ32(x: u32) -> u32 {
        x.wrapping_add(1)
    }

    fn neg64(x: i64) -> i64 {
        x.wrapping_neg()
    }

    fn is_even(x: u64) -> bool {
        x % 2 == 0
    }

    fn halve(x: f64) -> f64 {
        x / 2.0
    }

    fn char_count(s: String) -> u64 {
        s.chars().count() as u64
    }

    fn to_text(x: i64) -> String {
        x.to_string()
    }

    fn set_tick(x: u32) {
        TICK.store(x, Ordering::Relaxed);
    }

    fn tick() -> u32 {
        TICK.fetch_add(1, Ordering::Relaxed)
    }
}

export!(Echo);
