//! `heavy_calc`: the seed's CPU-bound loop as a component.

wit_bindgen::generate!({ world: "heavy-calc", path: "../wit" });

struct HeavyCalc;

impl Guest for HeavyCalc {
    fn heavy_calc(n: u64) -> u64 {
        (0..n)
            .map(|i| i.wrapping_mul(i) % 7)
            .fold(0u64, u64::wrapping_add)
    }
}

export!(HeavyCalc);
