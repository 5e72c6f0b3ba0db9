//! At most N verifications at once and a bounded queue for the rest: the
//! accounting, without the waiting.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Admits at most N verifications at once, queues up to Q more, and
/// refuses the rest; shared by every connection of a server (clones share
/// the same counts).
///
/// It only counts. It spawns no thread, reads no clock and never blocks
/// (but for a mutex held for a few instructions): how a queued attempt
/// waits for its turn, and for how long, is the driver's business.
///
/// * [`try_admit`](Self::try_admit) gives a [`VerifyPermit`] if fewer
///   than N verifications run and nobody is queued (a newcomer does not
///   overtake the queue). The permit is released when dropped.
/// * Otherwise [`try_queue`](Self::try_queue) gives a [`VerifyTicket`], a
///   place in the queue, if fewer than Q are queued; the place is given
///   up when the ticket is dropped. [`VerifyTicket::try_admit`] turns it
///   into a permit once a verification has ended.
/// * Neither: the server is overloaded. Refuse at once with
///   [`Outcome::Overloaded`](crate::Outcome::Overloaded) rather than let
///   attempts pile up.
///
/// A queued attempt has to wake up when a permit is dropped: with std, a
/// `Condvar` notified after each drop (below); with tokio, a `Notify`, the
/// verification itself in `spawn_blocking`. Its deadline is the driver's
/// too (`Condvar::wait_timeout`, `tokio::time::timeout`): keep it below
/// the exchange's [`judge_timeout`](crate::server::Options::judge_timeout)
/// and refuse with `Overloaded` when it passes. The order in which queued
/// attempts get their turn is the order in which their drivers retry: a
/// ticket takes any free slot.
///
/// # Choosing N and Q
///
/// Verification is CPU-bound, so N is about the number of cores given to
/// it. Each verification in progress holds its hash's memory: up to
/// [`CostLimits::max_yescrypt_memory`](crate::CostLimits::max_yescrypt_memory)
/// for yescrypt (64 MiB by default), next to nothing for the other
/// formats. So the budget's memory is that ceiling × N: 512 MiB for 8
/// cores at the default ceiling. A queued attempt holds only its
/// connection and its password (at most 511 bytes). Q bounds how long the
/// last in the queue waits, about Q / N verification times: with a 40 ms
/// yescrypt on 8 cores, a queue of 200 waits up to 1 s.
///
/// ```
/// use std::sync::{Condvar, Mutex};
/// use std::time::{Duration, Instant};
/// use passwd_auth::{Outcome, VerifyBudget};
///
/// /// A std driver's wait: the budget counts, the condvar wakes.
/// fn verify_within(
///     budget: &VerifyBudget,
///     wake: &(Mutex<()>, Condvar),
///     patience: Duration,
///     verify: impl FnOnce() -> Outcome,
/// ) -> Outcome {
///     let (lock, condvar) = wake;
///     let permit = match budget.try_admit() {
///         Some(permit) => permit,
///         None => {
///             let Some(mut ticket) = budget.try_queue() else {
///                 return Outcome::Overloaded;
///             };
///             let deadline = Instant::now() + patience;
///             // Checked and waited on under the lock the releaser takes to
///             // notify: no wake-up is lost in between.
///             let mut guard = lock.lock().unwrap();
///             loop {
///                 ticket = match ticket.try_admit() {
///                     Ok(permit) => break permit,
///                     Err(ticket) => ticket,
///                 };
///                 let left = deadline.saturating_duration_since(Instant::now());
///                 if left.is_zero() {
///                     return Outcome::Overloaded; // the ticket's place is given up
///                 }
///                 guard = condvar.wait_timeout(guard, left).unwrap().0;
///             }
///         }
///     };
///     let outcome = verify();
///     drop(permit);
///     let _guard = lock.lock().unwrap();
///     // All, not one: a woken waiter whose patience ran out would waste it.
///     condvar.notify_all();
///     outcome
/// }
///
/// let budget = VerifyBudget::new(2, 4);
/// let wake = (Mutex::new(()), Condvar::new());
/// let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
///     let workers: Vec<_> = (0..6)
///         .map(|_| {
///             scope.spawn(|| {
///                 verify_within(&budget, &wake, Duration::from_secs(5), || {
///                     assert!(budget.running() <= 2);
///                     std::thread::sleep(Duration::from_millis(5));
///                     Outcome::WrongPassword
///                 })
///             })
///         })
///         .collect();
///     workers.into_iter().map(|worker| worker.join().unwrap()).collect()
/// });
/// // Two run at once and four wait: the queue holds them all.
/// assert_eq!(outcomes, vec![Outcome::WrongPassword; 6]);
/// assert_eq!((budget.running(), budget.queued()), (0, 0));
/// ```
#[derive(Clone)]
pub struct VerifyBudget {
    shared: Arc<Shared>,
}

struct Shared {
    concurrent: usize,
    queue: usize,
    counts: Mutex<Counts>,
}

#[derive(Debug)]
struct Counts {
    running: usize,
    queued: usize,
}

impl Shared {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        // Nothing panics while the lock is held; should something, the
        // counts are still whole numbers worth keeping.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl VerifyBudget {
    /// A budget of `concurrent` verifications at once (at least 1) and
    /// `queue` places in the queue (0: refuse whenever all run).
    ///
    /// ```
    /// use passwd_auth::VerifyBudget;
    ///
    /// let budget = VerifyBudget::new(0, 0);
    /// let permit = budget.try_admit(); // a budget of 0 would refuse everything
    /// assert!(permit.is_some());
    /// assert!(budget.try_admit().is_none());
    /// ```
    pub fn new(concurrent: usize, queue: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                concurrent: concurrent.max(1),
                queue,
                counts: Mutex::new(Counts {
                    running: 0,
                    queued: 0,
                }),
            }),
        }
    }

    /// A permit to verify now, if fewer than N verifications run and none
    /// is queued; `None` otherwise (then try [`try_queue`](Self::try_queue)).
    ///
    /// ```
    /// use passwd_auth::VerifyBudget;
    ///
    /// let budget = VerifyBudget::new(1, 8);
    /// let first = budget.try_admit().expect("a free slot");
    /// assert!(budget.try_admit().is_none());
    /// drop(first);
    /// assert!(budget.try_admit().is_some());
    /// ```
    pub fn try_admit(&self) -> Option<VerifyPermit> {
        let mut counts = self.shared.counts();
        if counts.running < self.shared.concurrent && counts.queued == 0 {
            counts.running += 1;
            drop(counts);
            Some(VerifyPermit {
                shared: Arc::clone(&self.shared),
            })
        } else {
            None
        }
    }

    /// A place in the queue, if fewer than Q are queued; `None` otherwise:
    /// refuse the attempt.
    ///
    /// ```
    /// use passwd_auth::VerifyBudget;
    ///
    /// let budget = VerifyBudget::new(1, 1);
    /// let _running = budget.try_admit().expect("a free slot");
    /// let ticket = budget.try_queue().expect("a place in the queue");
    /// assert!(budget.try_queue().is_none());
    /// assert_eq!(budget.queued(), 1);
    /// drop(ticket);
    /// assert_eq!(budget.queued(), 0);
    /// ```
    pub fn try_queue(&self) -> Option<VerifyTicket> {
        let mut counts = self.shared.counts();
        if counts.queued < self.shared.queue {
            counts.queued += 1;
            drop(counts);
            Some(VerifyTicket {
                shared: Arc::clone(&self.shared),
                queued: true,
            })
        } else {
            None
        }
    }

    /// How many verifications hold a permit now.
    ///
    /// ```
    /// use passwd_auth::VerifyBudget;
    ///
    /// let budget = VerifyBudget::new(4, 0);
    /// let _permit = budget.try_admit();
    /// assert_eq!(budget.running(), 1);
    /// ```
    pub fn running(&self) -> usize {
        self.shared.counts().running
    }

    /// How many attempts hold a place in the queue now.
    ///
    /// ```
    /// use passwd_auth::VerifyBudget;
    ///
    /// let budget = VerifyBudget::new(4, 16);
    /// let _ticket = budget.try_queue();
    /// assert_eq!(budget.queued(), 1);
    /// ```
    pub fn queued(&self) -> usize {
        self.shared.counts().queued
    }
}

impl fmt::Debug for VerifyBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts = self.shared.counts();
        f.debug_struct("VerifyBudget")
            .field("concurrent", &self.shared.concurrent)
            .field("queue", &self.shared.queue)
            .field("running", &counts.running)
            .field("queued", &counts.queued)
            .finish()
    }
}

/// Leave to run one verification, from a [`VerifyBudget`]; the slot is
/// freed when the permit is dropped. Hold it for the verification only, not
/// for the failure delay that follows. `Send`, so it can travel with the
/// verification to another thread.
///
/// ```
/// use passwd_auth::VerifyBudget;
///
/// let budget = VerifyBudget::new(1, 0);
/// let permit = budget.try_admit().expect("a free slot");
/// let verification = std::thread::spawn(move || {
///     let _permit = permit; // released when the verification ends
/// });
/// verification.join().unwrap();
/// assert_eq!(budget.running(), 0);
/// ```
#[must_use = "the slot is freed as soon as the permit is dropped"]
pub struct VerifyPermit {
    shared: Arc<Shared>,
}

impl Drop for VerifyPermit {
    fn drop(&mut self) {
        let mut counts = self.shared.counts();
        counts.running = counts.running.saturating_sub(1);
    }
}

impl fmt::Debug for VerifyPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyPermit").finish_non_exhaustive()
    }
}

/// A place in a [`VerifyBudget`]'s queue; given up when dropped (when the
/// attempt stops waiting, say).
///
/// ```
/// use passwd_auth::VerifyBudget;
///
/// let budget = VerifyBudget::new(1, 4);
/// let running = budget.try_admit().expect("a free slot");
/// let ticket = budget.try_queue().expect("a place in the queue");
/// let ticket = ticket.try_admit().expect_err("the slot is taken");
/// drop(running);
/// let _permit = ticket.try_admit().expect("the slot is free");
/// assert_eq!((budget.running(), budget.queued()), (1, 0));
/// ```
#[must_use = "the place in the queue is given up as soon as the ticket is dropped"]
pub struct VerifyTicket {
    shared: Arc<Shared>,
    /// Still counted in the queue; false once turned into a permit.
    queued: bool,
}

impl VerifyTicket {
    /// Trades the place in the queue for a permit, if fewer than N
    /// verifications run; gives the ticket back otherwise (then wait for a
    /// permit to be dropped and try again).
    ///
    /// ```
    /// use passwd_auth::VerifyBudget;
    ///
    /// let budget = VerifyBudget::new(2, 2);
    /// let ticket = budget.try_queue().expect("a place in the queue");
    /// let _permit = ticket.try_admit().expect("nothing runs");
    /// assert_eq!((budget.running(), budget.queued()), (1, 0));
    /// ```
    pub fn try_admit(mut self) -> Result<VerifyPermit, Self> {
        let mut counts = self.shared.counts();
        if counts.running < self.shared.concurrent {
            counts.running += 1;
            counts.queued = counts.queued.saturating_sub(1);
            drop(counts);
            self.queued = false;
            Ok(VerifyPermit {
                shared: Arc::clone(&self.shared),
            })
        } else {
            drop(counts);
            Err(self)
        }
    }
}

impl Drop for VerifyTicket {
    fn drop(&mut self) {
        if self.queued {
            let mut counts = self.shared.counts();
            counts.queued = counts.queued.saturating_sub(1);
        }
    }
}

impl fmt::Debug for VerifyTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyTicket").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_n_run_and_at_most_q_wait() {
        let budget = VerifyBudget::new(2, 3);
        let permits: Vec<_> = (0..2).map(|_| budget.try_admit().unwrap()).collect();
        assert!(budget.try_admit().is_none());
        let tickets: Vec<_> = (0..3).map(|_| budget.try_queue().unwrap()).collect();
        assert!(budget.try_queue().is_none());
        assert_eq!((budget.running(), budget.queued()), (2, 3));

        // A freed slot goes to the queue, not to a newcomer.
        drop(permits);
        assert!(budget.try_admit().is_none());
        let mut tickets = tickets.into_iter();
        let first = tickets.next().unwrap().try_admit().unwrap();
        let second = tickets.next().unwrap().try_admit().unwrap();
        let third = tickets.next().unwrap().try_admit().unwrap_err();
        assert_eq!((budget.running(), budget.queued()), (2, 1));
        drop(third);
        assert_eq!((budget.running(), budget.queued()), (2, 0));
        drop((first, second));
        assert!(budget.try_admit().is_some());
        assert_eq!((budget.running(), budget.queued()), (0, 0));
    }

    #[test]
    fn clones_share_the_counts() {
        let budget = VerifyBudget::new(1, 0);
        let other = budget.clone();
        let _permit = budget.try_admit().unwrap();
        assert!(other.try_admit().is_none());
        assert!(other.try_queue().is_none());
        let shown = format!("{other:?}");
        assert!(shown.contains("running: 1"), "{shown}");
    }

    #[test]
    fn permits_and_tickets_outlive_the_budget_handle() {
        let budget = VerifyBudget::new(1, 1);
        let permit = budget.try_admit().unwrap();
        let ticket = budget.try_queue().unwrap();
        drop(budget);
        drop(permit);
        let permit = ticket.try_admit().unwrap();
        drop(permit);
    }

    #[test]
    fn permits_are_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<VerifyBudget>();
        send_sync::<VerifyPermit>();
        send_sync::<VerifyTicket>();
    }
}
