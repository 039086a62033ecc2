//! Bytes held from a node-wide budget (uploads in flight, batch bodies being read): a
//! request takes what each chunk needs before keeping it, and gives it all back when it
//! is done, so that many connections together stay within a bound.

use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes taken from a budget of one permit per byte; given back when dropped.
#[derive(Debug, Default)]
pub struct Held(Option<OwnedSemaphorePermit>);

impl Held {
    /// Takes `n` more bytes from `budget` without waiting; false if it does not hold them
    /// now (the caller refuses: retry later).
    pub fn take(&mut self, budget: &Arc<Semaphore>, n: usize) -> bool {
        let Ok(n) = u32::try_from(n) else {
            return false;
        };
        let Ok(permit) = budget.clone().try_acquire_many_owned(n) else {
            return false;
        };
        match &mut self.0 {
            Some(held) => held.merge(permit),
            None => self.0 = Some(permit),
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_taken_while_the_budget_holds_them_and_given_back_on_drop() {
        let budget = Arc::new(Semaphore::new(10));
        let mut a = Held::default();
        assert!(a.take(&budget, 6));
        assert!(a.take(&budget, 4));
        let mut b = Held::default();
        assert!(!b.take(&budget, 1), "the budget is spent");
        drop(a);
        assert!(b.take(&budget, 10), "given back whole");
    }
}
