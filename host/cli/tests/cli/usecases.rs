//! The use-case examples end to end: the shipped job files run on copies of
//! their data, and their results and files are checked.

use std::path::{Path, PathBuf};

use wpool_tests::http::TestServer;

use crate::{repo, run_jsonl, sha_hex};

/// Copies `examples/JOB` and the data folders it reads into a temp dir.
fn example(job: &str, data: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for folder in data {
        let from = repo().join("examples/data").join(folder);
        let to = dir.path().join("data").join(folder);
        if from.is_dir() {
            std::fs::create_dir_all(&to).unwrap();
            for entry in std::fs::read_dir(&from).unwrap() {
                let path = entry.unwrap().path();
                std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
            }
        } else {
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&from, &to).unwrap();
        }
    }
    let path = dir.path().join(job);
    std::fs::copy(repo().join("examples").join(job), &path).unwrap();
    (dir, path)
}

/// Width and height from a PNG's IHDR.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn crypto_example_hashes_compresses_and_seals() {
    let (dir, job) = example("crypto.toml", &["texts"]);
    let records = run_jsonl(&job, 0);
    assert_eq!(records.len(), 15);
    let texts = ["isolation.txt", "pool.txt", "speed.txt"];
    for (i, name) in texts.iter().enumerate() {
        let text = std::fs::read(dir.path().join("data/texts").join(name)).unwrap();
        assert_eq!(records[i]["value"], sha_hex(&text), "sha256 of {name}");
        let blake3 = records[3 + i]["value"].as_str().unwrap();
        assert_eq!(blake3.len(), 64);
        assert_ne!(blake3, sha_hex(&text));
        let gz = std::fs::read(dir.path().join("out/gzip").join(format!("{name}.gz"))).unwrap();
        assert_eq!(&gz[..2], b"\x1f\x8b", "gzip magic");
        let lz4 = std::fs::read(dir.path().join("out/lz4").join(format!("{name}.lz4"))).unwrap();
        assert_eq!(&lz4[..4], b"\x04\x22\x4d\x18", "LZ4 frame magic");
        let sealed =
            std::fs::read(dir.path().join("out/sealed").join(format!("{name}.sealed"))).unwrap();
        assert_eq!(
            sealed.len(),
            12 + text.len() + 16,
            "nonce + ciphertext + tag"
        );
    }
}

#[test]
fn etl_example_filters_and_groups_the_sales() {
    let (dir, job) = example("etl.toml", &["sales.csv"]);
    let records = run_jsonl(&job, 0);
    let big = records[0]["value"].as_str().unwrap();
    let lines: Vec<&str> = big.lines().collect();
    assert_eq!(lines[0], "date,region,product,units");
    assert_eq!(lines[1], "2024-01-05,South,\"Gizmo, deluxe\",11");
    assert_eq!(lines.len(), 13, "a header and 12 rows: {big}");
    let json = std::fs::read_to_string(dir.path().join("out/etl/sales-by-region.json")).unwrap();
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows[0]["region"], "East");
    assert_eq!(rows[0]["count"], 9);
    assert_eq!(rows[0]["sum_price"], 109.96);
    assert_eq!(rows[2]["region"], "South");
    assert_eq!(rows[2]["sum_price"], 168.7);
    assert_eq!(rows.as_array().unwrap().len(), 4);
}

#[test]
fn images_example_writes_thumbnails() {
    let (dir, job) = example("images.toml", &["images"]);
    let records = run_jsonl(&job, 0);
    let thumbs = dir.path().join("out/thumbs");
    assert_eq!(png_size(&thumbs.join("discs.png")), (128, 128));
    assert_eq!(png_size(&thumbs.join("mandelbrot.png")), (128, 96));
    assert_eq!(png_size(&thumbs.join("sunset.png")), (128, 96));
    let sizes: Vec<(u64, u64)> = records[3..]
        .iter()
        .map(|r| {
            (
                r["value"]["width"].as_u64().unwrap(),
                r["value"]["height"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(sizes, [(512, 512), (800, 600), (640, 480)]);
}

/// The scrape example against the pages served on loopback, as the README
/// serves them; one page missing fails alone.
#[test]
fn scrape_example_analyses_fetched_pages() {
    let server = TestServer::start();
    for page in ["index.html", "wasm.html", "pools.html"] {
        let body = std::fs::read(repo().join("examples/data/pages").join(page)).unwrap();
        server.add(&format!("/pages/{page}"), body);
    }
    let text = std::fs::read_to_string(repo().join("examples/scrape.toml"))
        .unwrap()
        .replace("http://127.0.0.1:8000", &server.url(""))
        .replace(
            "pools.html\",",
            &format!(
                "pools.html\",\n    \"{}\",",
                server.url("/pages/missing.html")
            ),
        );
    let dir = tempfile::tempdir().unwrap();
    let job = crate::write(dir.path(), "scrape.toml", &text);
    let records = run_jsonl(&job, 1);
    let page = |i: usize| &records[i]["value"];
    assert_eq!(page(0)["title"], "wpool: a worker pool for WebAssembly");
    assert_eq!(page(0)["words"], 85);
    assert_eq!(page(0)["links"].as_array().unwrap().len(), 6);
    assert_eq!(page(0)["links"][5]["href"], "https://webassembly.org/");
    assert_eq!(page(1)["title"], "WebAssembly sandboxes");
    assert_eq!(page(1)["words"], 83);
    assert_eq!(page(1)["top-words"][0]["word"], "the");
    assert_eq!(page(1)["top-words"][1]["word"], "memory");
    assert_eq!(page(2)["title"], "Worker pools");
    assert_eq!(page(2)["words"], 94);
    assert_eq!(records[3]["ok"], false);
    assert_eq!(records[3]["error"]["kind"], "fetch");
}
