//! `logs`: access logs in the combined log format, parsed per file, merged
//! across files (`reduce = "merge"`), rendered as a markdown report.
//!
//! ```text
//! 127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://x/" "Mozilla/4.08"
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

wit_bindgen::generate!({ world: "logs", path: "../wit" });

struct Logs;

/// One request line's fields that the statistics use.
struct Request<'a> {
    path: &'a str,
    status: u16,
    bytes: u64,
    hour: usize,
}

/// Parses one line; `None` when it is not in the combined (or common) log format.
fn parse_line(line: &str) -> Option<Request<'_>> {
    // host ident user [time] "request" status bytes ["referer" "agent"]
    let open = line.find('[')?;
    let close = open + line[open..].find(']')?;
    let time = &line[open + 1..close];
    // 10/Oct/2000:13:55:36 -0700: the hour follows the first ':'.
    let hour_at = time.find(':')? + 1;
    let hour: usize = time.get(hour_at..hour_at + 2)?.parse().ok()?;
    if hour > 23 {
        return None;
    }
    let rest = &line[close + 1..];
    let quote = rest.find('"')?;
    let rest = &rest[quote + 1..];
    let end = rest.find('"')?;
    let request = &rest[..end];
    let mut parts = request.split(' ');
    let _method = parts.next().filter(|m| !m.is_empty())?;
    let target = parts.next()?;
    let path = target.split('?').next().unwrap_or(target);
    let mut fields = rest[end + 1..].split_whitespace();
    let status: u16 = fields.next()?.parse().ok()?;
    if !(100..=599).contains(&status) {
        return None;
    }
    let bytes = match fields.next()? {
        "-" => 0,
        n => n.parse().ok()?,
    };
    Some(Request {
        path,
        status,
        bytes,
        hour,
    })
}

fn parse_log(text: &str) -> Stats {
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut paths: BTreeMap<&str, u64> = BTreeMap::new();
    let mut hours = vec![0u64; 24];
    let (mut requests, mut malformed, mut bytes) = (0u64, 0u64, 0u64);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match parse_line(line) {
            Some(r) => {
                requests += 1;
                bytes += r.bytes;
                *statuses.entry(r.status).or_default() += 1;
                *paths.entry(r.path).or_default() += 1;
                hours[r.hour] += 1;
            }
            None => malformed += 1,
        }
    }
    Stats {
        files: 1,
        requests,
        malformed,
        bytes,
        statuses: statuses
            .into_iter()
            .map(|(status, count)| StatusCount { status, count })
            .collect(),
        paths: paths
            .into_iter()
            .map(|(path, count)| PathCount {
                path: path.to_owned(),
                count,
            })
            .collect(),
        hours,
    }
}

fn merge_stats(a: Stats, b: Stats) -> Stats {
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for s in a.statuses.into_iter().chain(b.statuses) {
        *statuses.entry(s.status).or_default() += s.count;
    }
    let mut paths: BTreeMap<String, u64> = BTreeMap::new();
    for p in a.paths.into_iter().chain(b.paths) {
        *paths.entry(p.path).or_default() += p.count;
    }
    let mut hours = vec![0u64; 24];
    for (i, n) in a.hours.iter().chain(&b.hours).enumerate() {
        hours[i % 24] += n;
    }
    Stats {
        files: a.files + b.files,
        requests: a.requests + b.requests,
        malformed: a.malformed + b.malformed,
        bytes: a.bytes + b.bytes,
        statuses: statuses
            .into_iter()
            .map(|(status, count)| StatusCount { status, count })
            .collect(),
        paths: paths
            .into_iter()
            .map(|(path, count)| PathCount { path, count })
            .collect(),
        hours,
    }
}

/// `12345678` as `12,345,678`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn render_report(all: &Stats) -> String {
    let mut md = String::from("# Access log report\n\n");
    let _ = writeln!(
        md,
        "{} file{}, {} requests, {:.1} MiB sent{}.\n",
        all.files,
        if all.files == 1 { "" } else { "s" },
        grouped(all.requests),
        all.bytes as f64 / f64::from(1 << 20),
        if all.malformed > 0 {
            format!(" ({} malformed lines skipped)", grouped(all.malformed))
        } else {
            String::new()
        }
    );
    md.push_str("## Status codes\n\n| status | requests | share |\n|---:|---:|---:|\n");
    for s in &all.statuses {
        let share = 100.0 * s.count as f64 / all.requests.max(1) as f64;
        let _ = writeln!(md, "| {} | {} | {share:.1}% |", s.status, grouped(s.count));
    }
    md.push_str("\n## Requests per hour\n\n```text\n");
    let peak = all.hours.iter().copied().max().unwrap_or(0).max(1);
    for (hour, &n) in all.hours.iter().enumerate() {
        let width = (n * 40).div_ceil(peak) as usize;
        let _ = writeln!(md, "{hour:02}h {:<40} {}", "█".repeat(width), grouped(n));
    }
    md.push_str("```\n\n## Top paths\n\n| path | requests |\n|---|---:|\n");
    let mut top: Vec<&PathCount> = all.paths.iter().collect();
    top.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.path.cmp(&b.path)));
    for p in top.into_iter().take(10) {
        let _ = writeln!(
            md,
            "| `{}` | {} |",
            p.path.replace('|', "\\|"),
            grouped(p.count)
        );
    }
    md
}

impl Guest for Logs {
    fn parse(log: Vec<u8>) -> Stats {
        parse_log(&String::from_utf8_lossy(&log))
    }

    fn merge(a: Stats, b: Stats) -> Stats {
        merge_stats(a, b)
    }

    fn render(all: Stats) -> String {
        render_report(&all)
    }
}

export!(Logs);
