//! Interleaved rounds over sides that may run fewer rounds (a Python pool
//! taking 15 s a round) or not at all here (no Python 3.14).

use anyhow::Result;

/// A side that cannot run on this machine: not a failure of the bench.
#[derive(Debug)]
pub struct Skipped(pub String);

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "skipped: {}", self.0)
    }
}

impl std::error::Error for Skipped {}

/// One side of a comparison: a closure returning one round's figure.
pub struct Side<'a> {
    /// Rounds to run (at most the bench's rounds).
    pub rounds: usize,
    /// Whether to run an untimed warm-up first.
    pub warm_up: bool,
    /// One round.
    pub run: Box<dyn FnMut() -> Result<f64> + 'a>,
}

impl<'a> Side<'a> {
    /// A side running every round, after a warm-up.
    pub fn new(run: impl FnMut() -> Result<f64> + 'a) -> Self {
        Side {
            rounds: usize::MAX,
            warm_up: true,
            run: Box::new(run),
        }
    }

    /// A side measured for at most `rounds` rounds, without a warm-up (it
    /// warms itself up, like the Python script's pools).
    pub fn limited(rounds: usize, run: impl FnMut() -> Result<f64> + 'a) -> Self {
        Side {
            rounds,
            warm_up: false,
            run: Box::new(run),
        }
    }
}

/// What one side gave: its per-round figures, or why it could not run.
pub enum Measured {
    /// One figure per round.
    Rounds(Vec<f64>),
    /// The side cannot run here.
    Skipped(String),
}

/// Runs the warm-ups, then round after round every side in turn (A B C A B C
/// …), each side only as many rounds as it allows. A side failing with
/// [`Skipped`] is dropped from the following rounds; any other error fails
/// the workload.
pub fn run(rounds: usize, sides: Vec<Side<'_>>) -> Result<Vec<Measured>> {
    let mut sides = sides;
    let mut out: Vec<Measured> = sides.iter().map(|_| Measured::Rounds(Vec::new())).collect();
    let step = |side: &mut Side<'_>, slot: &mut Measured, keep: bool| -> Result<()> {
        if matches!(slot, Measured::Skipped(_)) {
            return Ok(());
        }
        match (side.run)() {
            Ok(figure) => {
                if keep && let Measured::Rounds(figures) = slot {
                    figures.push(figure);
                }
                Ok(())
            }
            Err(e) => match e.downcast::<Skipped>() {
                Ok(Skipped(reason)) => {
                    *slot = Measured::Skipped(reason);
                    Ok(())
                }
                Err(e) => Err(e),
            },
        }
    };
    for (side, slot) in sides.iter_mut().zip(out.iter_mut()) {
        if side.warm_up {
            step(side, slot, false)?;
        }
    }
    for round in 0..rounds {
        for (side, slot) in sides.iter_mut().zip(out.iter_mut()) {
            if round < side.rounds {
                step(side, slot, true)?;
            }
        }
    }
    Ok(out)
}
