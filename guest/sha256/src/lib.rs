//! `sha256`: SHA-256 digests as a component.

use sha2::{Digest, Sha256};

wit_bindgen::generate!({ world: "sha256", path: "../wit" });

struct Sha;

impl Guest for Sha {
    fn digest(data: Vec<u8>) -> Vec<u8> {
        Sha256::digest(&data).to_vec()
    }

    fn hex(data: Vec<u8>) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let digest = Sha256::digest(&data);
        let mut out = String::with_capacity(64);
        for byte in digest {
            out.push(DIGITS[usize::from(byte >> 4)] as char);
            out.push(DIGITS[usize::from(byte & 0xf)] as char);
        }
        out
    }
}

export!(Sha);
