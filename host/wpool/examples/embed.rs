//! Embeds a wpool in a small tokio program: hashes the files named on the
//! command line in parallel, printing lines like `sha256sum`.
//!
//! ```sh
//! cargo run -p wpool --example embed -- Cargo.toml README.md
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use futures::StreamExt;
use wpool::{Guest, Pool};

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if paths.is_empty() {
        eprintln!("usage: embed FILE...");
        return Ok(ExitCode::from(2));
    }
    let pool = Pool::new()?;
    let sha = pool.load(Guest::builtin("sha256"))?;

    // Read each file on tokio, hash it on a worker; at most two files per
    // worker in flight, printed in the order given.
    let mut hashes = futures::stream::iter(paths)
        .map(|path| {
            let (pool, sha) = (pool.clone(), sha.clone());
            async move {
                let bytes = tokio::fs::read(&path)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let hex: String = pool
                    .call(&sha, "hex", (bytes,))
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Ok::<_, String>((path, hex))
            }
        })
        .buffered(pool.workers() * 2);

    let mut failed = false;
    while let Some(result) = hashes.next().await {
        match result {
            Ok((path, hex)) => println!("{hex}  {}", path.display()),
            Err(message) => {
                eprintln!("embed: {message}");
                failed = true;
            }
        }
    }
    pool.shutdown().await;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
