//! A queue of batches between two threads, bounded in items, never waited on by the sender.
//!
//! Records cross from the ring-buffer reader to the output thread, and events from the
//! output thread to each sink, in batches: one hand-over per batch instead of one per item
//! (each hand-over is atomics and, when the other side sleeps, a wake-up). The bound counts
//! items, not batches; what does not fit is handed back to the sender, which counts it lost.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering::Relaxed},
        mpsc::{self, RecvError, RecvTimeoutError, TryRecvError},
    },
    time::{Duration, Instant},
};

/// The sending side (one sender).
pub struct Sender<T> {
    tx: mpsc::Sender<Vec<T>>,
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

/// The receiving side.
pub struct Receiver<T> {
    rx: mpsc::Receiver<Vec<T>>,
    queued: Arc<AtomicUsize>,
}

/// A queue of at most `capacity` items (at least one).
pub fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = mpsc::channel();
    let queued = Arc::new(AtomicUsize::new(0));
    (
        Sender {
            tx,
            queued: queued.clone(),
            capacity: capacity.max(1),
        },
        Receiver { rx, queued },
    )
}

impl<T> Sender<T> {
    /// Queues as much of `batch` as there is room for; returns how many items did not fit
    /// (or found the receiver gone). Never blocks.
    pub fn send(&self, mut batch: Vec<T>) -> usize {
        if batch.is_empty() {
            return 0;
        }
        // Only this sender adds, so the room can only grow between the load and the add.
        let room = self.capacity.saturating_sub(self.queued.load(Relaxed));
        let refused = batch.len().saturating_sub(room);
        batch.truncate(batch.len() - refused);
        if batch.is_empty() {
            return refused;
        }
        let n = batch.len();
        self.queued.fetch_add(n, Relaxed);
        match self.tx.send(batch) {
            Ok(()) => refused,
            Err(_) => {
                self.queued.fetch_sub(n, Relaxed);
                refused + n
            }
        }
    }

    /// As [`Sender::send`], but waits up to `wait` for room, handing over what fits as it
    /// comes; what still does not fit then is refused.
    pub fn send_within(&self, mut batch: Vec<T>, wait: Duration) -> usize {
        let deadline = Instant::now() + wait;
        loop {
            let room = self.capacity.saturating_sub(self.queued.load(Relaxed));
            if room >= batch.len() || Instant::now() >= deadline {
                return self.send(batch);
            }
            if room > 0 {
                let rest = batch.split_off(room);
                let refused = self.send(batch);
                if refused > 0 {
                    // The receiver is gone.
                    return refused + rest.len();
                }
                batch = rest;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Items queued and not yet received.
    pub fn len(&self) -> usize {
        self.queued.load(Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Receiver<T> {
    fn took(&self, batch: Vec<T>) -> Vec<T> {
        self.queued.fetch_sub(batch.len(), Relaxed);
        batch
    }

    /// The next batch; an error once the sender is gone and everything was received.
    pub fn recv(&self) -> Result<Vec<T>, RecvError> {
        self.rx.recv().map(|b| self.took(b))
    }

    pub fn recv_timeout(&self, timeout: Duration) -> Result<Vec<T>, RecvTimeoutError> {
        self.rx.recv_timeout(timeout).map(|b| self.took(b))
    }

    pub fn try_recv(&self) -> Result<Vec<T>, TryRecvError> {
        self.rx.try_recv().map(|b| self.took(b))
    }

    /// Every item, waiting for each batch, until the sender is gone.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(|| self.recv().ok()).flatten()
    }
}

/// Items gathered for a [`Sender`], handed over together by [`Batcher::flush`] (or when
/// `size` of them are waiting).
pub struct Batcher<T> {
    tx: Sender<T>,
    pending: Vec<T>,
    size: usize,
    /// How long a hand-over may wait for room (zero: never).
    wait: Duration,
}

impl<T> Batcher<T> {
    pub fn new(tx: Sender<T>, size: usize) -> Batcher<T> {
        Batcher {
            tx,
            pending: Vec::new(),
            size: size.max(1),
            wait: Duration::ZERO,
        }
    }

    /// Lets each hand-over wait up to `wait` for room before refusing what does not fit.
    pub fn wait_for_room(&mut self, wait: Duration) {
        self.wait = wait;
    }

    /// Adds an item; returns how many items the queue refused, if this filled a batch.
    pub fn push(&mut self, item: T) -> usize {
        self.pending.push(item);
        if self.pending.len() >= self.size {
            self.flush()
        } else {
            0
        }
    }

    /// Hands over what is gathered; returns how many items the queue refused.
    pub fn flush(&mut self) -> usize {
        if self.pending.is_empty() {
            return 0;
        }
        let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(self.size));
        if self.wait.is_zero() {
            self.tx.send(batch)
        } else {
            self.tx.send_within(batch, self.wait)
        }
    }

    /// Items that can still be pushed before the queue refuses some.
    pub fn room(&self) -> usize {
        self.tx
            .capacity
            .saturating_sub(self.tx.len() + self.pending.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_counts_items_and_refuses_what_does_not_fit() {
        let (tx, rx) = bounded(5);
        assert_eq!(tx.send(vec![1, 2, 3]), 0);
        // Two fit, two do not.
        assert_eq!(tx.send(vec![4, 5, 6, 7]), 2);
        assert_eq!(tx.len(), 5);
        assert_eq!(tx.send(vec![8]), 1);
        assert_eq!(rx.recv().unwrap(), vec![1, 2, 3]);
        assert_eq!(tx.send(vec![9, 10, 11, 12]), 1);
        assert_eq!(rx.recv().unwrap(), vec![4, 5]);
        assert_eq!(rx.recv().unwrap(), vec![9, 10, 11]);
        assert!(rx.try_recv().is_err());
        drop(rx);
        assert_eq!(tx.send(vec![1, 2]), 2, "a gone receiver refuses everything");
    }

    #[test]
    fn a_waiting_hand_over_takes_the_room_the_receiver_makes() {
        let (tx, rx) = bounded(4);
        assert_eq!(tx.send(vec![0, 1, 2, 3]), 0);
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            while got.len() < 10 {
                std::thread::sleep(Duration::from_millis(5));
                got.extend(rx.recv().unwrap());
            }
            got
        });
        // Six more than fit: handed over as the reader makes room.
        assert_eq!(
            tx.send_within((4..10).collect(), Duration::from_secs(10)),
            0
        );
        assert_eq!(reader.join().unwrap(), (0..10).collect::<Vec<_>>());
        // Nobody reads: after the wait, what does not fit is refused.
        let (tx, _rx) = bounded(2);
        assert_eq!(tx.send_within(vec![1, 2, 3], Duration::from_millis(20)), 1);
    }

    #[test]
    fn a_batcher_hands_over_full_batches_and_on_flush() {
        let (tx, rx) = bounded(100);
        let mut b = Batcher::new(tx, 3);
        for i in 0..4 {
            assert_eq!(b.push(i), 0);
        }
        assert_eq!(rx.try_recv().unwrap(), vec![0, 1, 2]);
        assert!(rx.try_recv().is_err());
        assert_eq!(b.flush(), 0);
        assert_eq!(rx.try_recv().unwrap(), vec![3]);
        assert_eq!(b.flush(), 0);
        assert!(rx.try_recv().is_err());
    }
}
