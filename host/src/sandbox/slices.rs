//! Time slices of a running call. A busy guest gives its thread back every
//! so often: after every [`SandboxConfig::slice_fuel`] units of fuel when
//! calls are metered, at every epoch tick when they are not. At each slice
//! end the host checks the call's deadline and its execution's shared fuel
//! budget, then lets the thread's other tasks run before the guest resumes.
//!
//! Fuel doubles as the clock when it is on because both fuel and epochs are
//! checked in every loop of the guest's code: the second check cost W4's
//! call 7 µs of 81. Without fuel, epochs are the only way to interrupt a
//! guest, so the engine compiles them in instead.
//!
//! wasmtime ends a slice with a yield that wakes its own task before
//! returning `Pending`; [`sliced`] tells that wake apart from a host call
//! waiting on I/O by catching wakes that arrive on the polling thread while
//! the call is being polled.
//!
//! [`SandboxConfig::slice_fuel`]: super::SandboxConfig::slice_fuel

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, ThreadId};

/// [`SandboxConfig::slice_fuel`](super::SandboxConfig::slice_fuel)'s default.
pub const DEFAULT_SLICE_FUEL: u64 = 10_000_000;

/// Why a call was stopped at the end of a slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The call's wall-clock deadline passed.
    Deadline,
    /// Its execution's shared fuel budget is spent.
    ExecutionFuel,
}

/// Runs `call` to its end, asking `at_slice_end` after every slice whether
/// it may go on, and yielding to tokio (behind every task already waiting)
/// before it resumes. Dropping the returned future drops `call`.
pub(crate) async fn sliced<F: Future>(
    call: F,
    mut at_slice_end: impl FnMut() -> Result<(), Stop>,
) -> Result<F::Output, Stop> {
    let mut call = pin!(call);
    let wakes = Arc::new(SliceWaker::default());
    loop {
        match std::future::poll_fn(|cx| wakes.poll(call.as_mut(), cx)).await {
            Step::Done(output) => return Ok(output),
            Step::SliceEnded => {
                at_slice_end()?;
                tokio::task::yield_now().await;
            }
        }
    }
}

enum Step<T> {
    Done(T),
    SliceEnded,
}

/// The waker the call is polled with: forwards wakes to the task's own
/// waker, except one from the call itself during its poll, which only
/// marks the end of a slice.
#[derive(Default)]
struct SliceWaker {
    state: Mutex<WakerState>,
}

#[derive(Default)]
struct WakerState {
    task: Option<Waker>,
    /// The thread polling the call, while it does.
    polling_on: Option<ThreadId>,
    woke_itself: bool,
}

impl SliceWaker {
    fn state(&self) -> MutexGuard<'_, WakerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn poll<F: Future>(
        self: &Arc<Self>,
        call: Pin<&mut F>,
        cx: &Context<'_>,
    ) -> Poll<Step<F::Output>> {
        {
            let mut state = self.state();
            if !state.task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                state.task = Some(cx.waker().clone());
            }
            state.polling_on = Some(thread::current().id());
            state.woke_itself = false;
        }
        let waker = Waker::from(Arc::clone(self));
        let polled = call.poll(&mut Context::from_waker(&waker));
        let woke_itself = {
            let mut state = self.state();
            state.polling_on = None;
            state.woke_itself
        };
        match polled {
            Poll::Ready(output) => Poll::Ready(Step::Done(output)),
            Poll::Pending if woke_itself => Poll::Ready(Step::SliceEnded),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Wake for SliceWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let task = {
            let mut state = self.state();
            if state.polling_on == Some(thread::current().id()) {
                state.woke_itself = true;
                return;
            }
            state.task.clone()
        };
        if let Some(task) = task {
            task.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Yields as wasmtime does at the end of a slice, `slices` times.
    async fn busy(slices: usize) -> usize {
        for _ in 0..slices {
            let mut yielded = false;
            std::future::poll_fn(|cx| {
                if yielded {
                    Poll::Ready(())
                } else {
                    yielded = true;
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            })
            .await;
        }
        slices
    }

    #[tokio::test]
    async fn every_self_wake_ends_a_slice_and_io_waits_do_not() {
        let mut ends = 0;
        let done = sliced(busy(5), || {
            ends += 1;
            Ok(())
        })
        .await;
        assert_eq!(done, Ok(5));
        assert_eq!(ends, 5);

        // A wait woken later, from elsewhere, is not the end of a slice.
        let mut ends = 0;
        let slept = sliced(tokio::time::sleep(Duration::from_millis(5)), || {
            ends += 1;
            Ok(())
        })
        .await;
        assert_eq!(slept, Ok(()));
        assert_eq!(ends, 0);
    }

    #[tokio::test]
    async fn a_stop_at_a_slice_end_drops_the_call() {
        struct Dropped<'a>(&'a AtomicUsize);
        impl Drop for Dropped<'_> {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let drops = AtomicUsize::new(0);
        let mut ends = 0;
        let call = async {
            let _guard = Dropped(&drops);
            busy(usize::MAX).await
        };
        let stopped = sliced(call, || {
            ends += 1;
            if ends == 3 {
                Err(Stop::Deadline)
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!(stopped, Err(Stop::Deadline));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn other_tasks_run_between_slices_on_one_thread() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let other = Arc::new(AtomicUsize::new(0));
            let seen = Arc::clone(&other);
            let ticker = tokio::spawn(async move {
                loop {
                    seen.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                }
            });
            let mut between = Vec::new();
            sliced(busy(3), || {
                between.push(other.load(Ordering::SeqCst));
                Ok(())
            })
            .await
            .expect("not stopped");
            ticker.abort();
            // The other task ran at least once in every gap.
            assert!(
                between.len() == 3 && between.windows(2).all(|w| w[1] > w[0]),
                "{between:?}"
            );
        });
    }
}
