//! CPU time: this process's (every thread) and its waited-for children's,
//! to show where a workload is bound by the cores rather than by wpool.

/// CPU time used so far, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Cpu {
    /// This process, every thread (`CLOCK_PROCESS_CPUTIME_ID`, ns resolution).
    pub own: f64,
    /// Children that were waited for (`/proc/self/stat`'s `cutime` +
    /// `cstime`, in clock ticks: 10 ms resolution at 100 Hz).
    pub children: f64,
}

impl Cpu {
    /// The CPU time used so far.
    pub fn now() -> Cpu {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        Cpu {
            own: t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6,
            children: children_ms().unwrap_or(f64::NAN),
        }
    }

    /// The CPU time used since `earlier`, own and children's together.
    pub fn since(earlier: Cpu) -> f64 {
        let now = Cpu::now();
        (now.own - earlier.own) + (now.children - earlier.children)
    }
}

/// Fields 16 and 17 of `/proc/self/stat` (`proc(5)`), counted after the
/// parenthesised command name, which may hold spaces.
fn children_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // `fields[0]` is field 3 (state).
    let ticks = fields.get(13)?.parse::<u64>().ok()? + fields.get(14)?.parse::<u64>().ok()?;
    Some(ticks as f64 * 1e3 / rustix::param::clock_ticks_per_second() as f64)
}

#[cfg(test)]
mod tests {
    use super::Cpu;

    #[test]
    fn a_busy_loop_and_a_child_count() {
        let start = Cpu::now();
        let mut x = 0u64;
        let until = std::time::Instant::now() + std::time::Duration::from_millis(50);
        while std::time::Instant::now() < until {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let own = Cpu::now().own - start.own;
        assert!(own >= 40.0, "50 ms busy counted as {own} ms");
        let status = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        assert!(status.success());
        let children = Cpu::now().children - start.children;
        assert!(
            children >= 10.0,
            "the child's loop counted as {children} ms"
        );
    }
}
