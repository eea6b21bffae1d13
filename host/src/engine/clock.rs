//! The time an execution sees.
//!
//! Wait states and retry intervals sleep on this clock. The virtual clock
//! (`host run --virtual-time`, and the conformance suite) takes no real
//! time: while every frame of an execution (the execution itself, a
//! Parallel branch, a Map iteration) is asleep, its hands jump to the
//! earliest due sleeper and wake it, so a 60-second Wait takes microseconds
//! while `$$.State.EnteredTime` and history timestamps still advance by 60
//! seconds. Sleepers wake in due-time order across all the frames of an
//! execution, and a frame that is running (a Pass loop, a task call in real
//! time, a wait for the store) holds the clock still: a virtual-time run
//! makes the decisions a real-time one makes.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use time::OffsetDateTime;

#[derive(Debug, Clone)]
pub enum Clock {
    Real,
    /// Virtual time: real time plus how far sleepers have moved it forward
    /// (nanoseconds, only ever increased).
    Virtual(Arc<AtomicI64>),
}

impl Clock {
    pub fn virtual_time() -> Self {
        Clock::Virtual(Arc::new(AtomicI64::new(0)))
    }

    pub fn is_virtual(&self) -> bool {
        matches!(self, Clock::Virtual(_))
    }

    pub fn now(&self) -> OffsetDateTime {
        let real = OffsetDateTime::now_utc();
        match self {
            Clock::Real => real,
            Clock::Virtual(offset_ns) => real
                .checked_add(time::Duration::nanoseconds(
                    offset_ns.load(Ordering::Relaxed),
                ))
                .unwrap_or(real),
        }
    }

    /// The scheduler of one execution's sleeps on this clock.
    pub(crate) fn timeline(&self) -> Timeline {
        match self {
            Clock::Real => Timeline(None),
            Clock::Virtual(offset) => Timeline(Some(Arc::new(Scheduler {
                offset: offset.clone(),
                state: Mutex::new(SchedulerState::default()),
            }))),
        }
    }
}

/// One execution's sleepers on a virtual clock, and how many of its frames
/// are runnable. Empty (free) on the real clock.
#[derive(Clone, Default)]
pub(crate) struct Timeline(Option<Arc<Scheduler>>);

struct Scheduler {
    offset: Arc<AtomicI64>,
    state: Mutex<SchedulerState>,
}

#[derive(Default)]
struct SchedulerState {
    /// Frames that are running or may run now. It may dip below zero for
    /// an instant while a cancelled frame is dropped.
    runnable: i64,
    /// Sleepers by (due time in virtual Unix nanoseconds, arrival order).
    sleepers: BTreeMap<(i128, u64), Waker>,
    arrivals: u64,
}

impl Scheduler {
    fn lock(&self) -> MutexGuard<'_, SchedulerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now_ns(&self) -> i128 {
        OffsetDateTime::now_utc().unix_timestamp_nanos()
            + i128::from(self.offset.load(Ordering::Relaxed))
    }

    /// With no frame runnable, moves the hands to the earliest sleeper's
    /// due time and makes it runnable; returns its key.
    fn advance(&self, state: &mut SchedulerState) -> Option<(i128, u64)> {
        if state.runnable > 0 {
            return None;
        }
        let (key, waker) = state.sleepers.pop_first()?;
        let behind = key.0 - self.now_ns();
        if behind > 0 {
            let step = i64::try_from(behind).unwrap_or(i64::MAX);
            let _ = self
                .offset
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |offset| {
                    Some(offset.saturating_add(step))
                });
        }
        state.runnable += 1;
        waker.wake();
        Some(key)
    }

    /// A frame stopped being runnable: if it was the last, the earliest
    /// sleeper is woken to check, when it is polled, whether time may move.
    /// Not advanced here: the frame may hand over to another in the same
    /// poll (a Map starting its next iteration).
    fn release(&self) {
        let mut state = self.lock();
        state.runnable -= 1;
        if state.runnable <= 0
            && let Some(waker) = state.sleepers.values().next()
        {
            waker.wake_by_ref();
        }
    }

    fn acquire(&self) {
        self.lock().runnable += 1;
    }
}

impl Timeline {
    /// A runnable frame, for as long as the guard lives. Take it when the
    /// frame is created, before any sibling is polled, so no sibling's sleep
    /// sees the execution idle while this frame has yet to run.
    pub fn frame(&self) -> Busy {
        if let Some(scheduler) = &self.0 {
            scheduler.acquire();
        }
        Busy {
            scheduler: self.0.clone(),
            release_on_drop: true,
        }
    }

    /// The calling frame waits for its children (a Parallel's branches, a
    /// Map's iterations) and is not runnable until the guard drops.
    pub fn idle(&self) -> Busy {
        if let Some(scheduler) = &self.0 {
            scheduler.release();
        }
        Busy {
            scheduler: self.0.clone(),
            release_on_drop: false,
        }
    }

    /// Sleeps for `duration` of this clock's time.
    pub async fn sleep(&self, duration: Duration) {
        match &self.0 {
            None => tokio::time::sleep(duration).await,
            Some(scheduler) => {
                let nanos = i128::try_from(duration.as_nanos()).unwrap_or(i128::MAX);
                Sleep {
                    scheduler: scheduler.clone(),
                    due: scheduler.now_ns().saturating_add(nanos),
                    key: None,
                    done: false,
                }
                .await
            }
        }
    }
}

/// A frame's runnable mark ([`Timeline::frame`]) or its idle mark
/// ([`Timeline::idle`]), undone on drop.
pub(crate) struct Busy {
    scheduler: Option<Arc<Scheduler>>,
    release_on_drop: bool,
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(scheduler) = &self.scheduler {
            if self.release_on_drop {
                scheduler.release();
            } else {
                scheduler.acquire();
            }
        }
    }
}

/// One sleep on a virtual clock: its frame stops being runnable until the
/// hands reach `due`.
struct Sleep {
    scheduler: Arc<Scheduler>,
    due: i128,
    key: Option<(i128, u64)>,
    done: bool,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(());
        }
        let scheduler = this.scheduler.clone();
        let mut state = scheduler.lock();
        match this.key {
            // Woken by an advance, which made this frame runnable again.
            Some(key) if !state.sleepers.contains_key(&key) => {
                this.done = true;
                return Poll::Ready(());
            }
            Some(key) => {
                if scheduler.now_ns() >= this.due {
                    // Due in real time already (a task ran long elsewhere).
                    state.sleepers.remove(&key);
                    state.runnable += 1;
                    this.done = true;
                    return Poll::Ready(());
                }
                if let Some(waker) = state.sleepers.get_mut(&key) {
                    waker.clone_from(cx.waker());
                }
            }
            None => {
                if scheduler.now_ns() >= this.due {
                    this.done = true;
                    return Poll::Ready(());
                }
                let key = (this.due, state.arrivals);
                state.arrivals += 1;
                state.sleepers.insert(key, cx.waker().clone());
                state.runnable -= 1;
                this.key = Some(key);
            }
        }
        if scheduler.advance(&mut state) == this.key {
            this.done = true;
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        // Cancelled while asleep: the frame is runnable again as it goes
        // (its own `Busy` releases it next).
        if let (Some(key), false) = (self.key, self.done) {
            let mut state = self.scheduler.lock();
            if state.sleepers.remove(&key).is_some() {
                state.runnable += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two frames: the one due first wakes first, whatever order they slept in,
    /// and a busy frame holds the clock.
    #[tokio::test]
    async fn sleepers_wake_in_due_order() {
        let clock = Clock::virtual_time();
        let timeline = clock.timeline();
        let start = clock.now();
        let order = Mutex::new(Vec::new());
        let (a, b) = (timeline.frame(), timeline.frame());
        let run = |guard: Busy, seconds: u64, name: &'static str| {
            let timeline = timeline.clone();
            let order = &order;
            let clock = clock.clone();
            async move {
                let _guard = guard;
                timeline.sleep(Duration::from_secs(seconds)).await;
                let at = (clock.now() - start).whole_seconds();
                order.lock().expect("not poisoned").push((name, at));
            }
        };
        futures::join!(run(a, 15, "late"), run(b, 5, "early"));
        assert_eq!(
            *order.lock().expect("not poisoned"),
            [("early", 5), ("late", 15)]
        );
    }
}
