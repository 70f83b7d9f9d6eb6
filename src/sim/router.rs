//! Global routers (vidur-behavior.md §5): map each newly arrived request to a replica.

use rand::RngExt;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::config::RouterKind;
use crate::compat::Compat;

/// Routing state.
#[derive(Debug)]
pub struct Router {
    kind: RouterKind,
    compat: Compat,
    counter: u64,
    rng: Xoshiro256PlusPlus,
    load: Vec<u64>,
}

impl Router {
    /// A router over `num_replicas` replicas. `random` draws from a xoshiro stream seeded with
    /// `seed` (Vidur uses Python's global MT19937, so random routing cannot match it draw for
    /// draw).
    pub fn new(kind: RouterKind, compat: Compat, num_replicas: usize, seed: u64) -> Self {
        Router {
            kind,
            compat,
            counter: 0,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5EED_F00D),
            load: vec![0; num_replicas],
        }
    }

    /// Start routing one drained global queue. `queued[r]` = requests waiting at replica r,
    /// `running[r]` = requests admitted there. LOR in Vidur counts only the queued ones (so a
    /// replica busy with 100 running requests looks idle); default mode counts both.
    pub fn begin(&mut self, queued: impl Iterator<Item = u64>, running: impl Iterator<Item = u64>) {
        if self.kind != RouterKind::Lor {
            return;
        }
        self.load.clear();
        if self.compat.is_vidur() {
            self.load.extend(queued);
        } else {
            self.load.extend(queued.zip(running).map(|(q, r)| q + r));
        }
    }

    /// The replica for the next request.
    pub fn route(&mut self) -> usize {
        let n = self.load.len();
        match self.kind {
            RouterKind::RoundRobin => {
                let r = (self.counter % n as u64) as usize;
                self.counter += 1;
                r
            }
            RouterKind::Lor => {
                // Minimum load, ties to the lowest id.
                let (r, _) = self
                    .load
                    .iter()
                    .enumerate()
                    .min_by_key(|(i, l)| (**l, *i))
                    .expect("replicas > 0");
                self.load[r] += 1;
                r
            }
            RouterKind::Random => self.rng.random_range(0..n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_cycles_across_calls() {
        let mut r = Router::new(RouterKind::RoundRobin, Compat::Vidur, 3, 1);
        let got: Vec<usize> = (0..7).map(|_| r.route()).collect();
        assert_eq!(got, vec![0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn lor_vidur_ignores_running_default_counts_it() {
        let mut v = Router::new(RouterKind::Lor, Compat::Vidur, 2, 1);
        v.begin([1, 2].into_iter(), [50, 0].into_iter());
        assert_eq!((v.route(), v.route()), (0, 0));
        let mut d = Router::new(RouterKind::Lor, Compat::Default, 2, 1);
        d.begin([1, 2].into_iter(), [50, 0].into_iter());
        assert_eq!((d.route(), d.route()), (1, 1));
    }
}
